// gazesam live: the camera goes to the web gateway (clients/web_gateway.py) frame by frame, at most one
// frame in flight; each answer is drawn on the frame it was computed from (or, ticked, over the live
// video). Plain JavaScript, nothing to build.
// The page's state is window.gazesam: lastResult (the last answer, as JSON), drawn (the answer the
// overlay shows), message (what the page tells the person now), hello (the gateway's limits, colours,
// model set).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const video = $("camera");
  const overlay = $("overlay");
  const frameCanvas = $("frame"); // the frame the drawn result was computed from (unless drawing on live video)
  const grab = document.createElement("canvas"); // the frame in flight: scaled, then JPEG-encoded
  const HEADER_BYTES = 8; // float64 capture time (ms), little-endian; then the JPEG (clients/web_frames.py)
  const MASK_ALPHA = 128; // the mask is blended 50 %, as in the clients' drawn overlay
  const LOST_ANSWER_MS = 90000; // a frame unanswered this long is given up (the gateway always answers)
  const RECONNECT_MS = 2000;
  const FPS_WINDOW_MS = 3000;

  const page = { hello: null, lastResult: null, drawn: null, message: null, sent: 0, answered: 0 };
  window.gazesam = page;

  let ws = null;
  let inFlight = null; // {sentAt}: the one frame at the gateway, or null
  let lastSentAt = -Infinity;
  let pausedUntil = 0;
  let quality = 0.85;
  const answers = []; // {at, latency}: recent answers, for the frame rate and latency

  const CAMERA_TEXTS = {
    NotAllowedError: ["camera_refused", "The camera was refused. Allow this page to use the camera (the camera " +
                      "icon in the address bar), then reload the page."],
    SecurityError: ["camera_refused", "The browser does not let this page use the camera."],
    NotFoundError: ["camera_missing", "No camera was found. Connect one, then reload the page."],
    OverconstrainedError: ["camera_missing", "No camera here delivers video this page can use."],
    NotReadableError: ["camera_busy", "The camera cannot be opened: another program may be using it."],
    AbortError: ["camera_busy", "The camera could not be started."],
  };

  function showMessage(kind, text) {
    page.message = { kind, text };
    $("message").textContent = text;
    $("message").hidden = false;
  }

  function clearMessage(kinds) {
    if (page.message && kinds.includes(page.message.kind)) {
      page.message = null;
      $("message").hidden = true;
    }
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showMessage("camera_unavailable", "This browser offers the camera only to pages on localhost or https://: " +
                  "open the page on this machine as http://localhost, or start the gateway with --tls-cert and --tls-key.");
      return;
    }
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 } }, audio: false });
      await video.play();
    } catch (err) {
      const [kind, text] = CAMERA_TEXTS[err.name] || ["camera_error", `The camera could not be started: ${err.message}`];
      showMessage(kind, text);
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${scheme}//${location.host}/ws`);
    ws.onopen = () => { $("connection").textContent = "connected"; };
    ws.onmessage = (event) => onMessage(JSON.parse(event.data));
    ws.onclose = (event) => {
      inFlight = null;
      $("connection").textContent = "not connected";
      showMessage("gateway_lost", event.code === 1009
        ? "A frame was larger than the gateway accepts; reconnecting with smaller frames…"
        : "The connection to the web gateway was lost (is it still running?); reconnecting…");
      if (event.code === 1009) quality = Math.max(0.3, quality - 0.2);
      setTimeout(connect, RECONNECT_MS);
    };
  }

  function onMessage(msg) {
    const now = performance.now();
    if (msg.type === "hello") {
      page.hello = msg;
      clearMessage(["gateway_lost"]);
      showServed(msg.served);
      if (msg.server_ready) clearMessage(["server_down"]);
    } else if (msg.type === "served") {
      showServed(msg.served);
    } else if (msg.type === "result") {
      onResult(msg, now);
    } else if (msg.type === "problem") {
      inFlight = null;
      pausedUntil = now + 1000 * msg.retry_after_s;
      showMessage(msg.kind, msg.text);
    } else if (msg.type === "dropped") {
      inFlight = null;
      pausedUntil = now + 1000 * msg.retry_after_s;
    }
  }

  function onResult(msg, now) {
    const latency = inFlight ? now - inFlight.sentAt : NaN;
    inFlight = null;
    answers.push({ at: now, latency });
    while (answers.length > 2 && answers[0].at < now - FPS_WINDOW_MS) answers.shift();
    page.lastResult = { ...msg, latency_ms: latency };
    page.answered += 1;
    clearMessage(["server_down", "stream_limit", "server_error", "bad_frame", "gateway_lost"]);
    showFrame();
    draw(page.lastResult);
    showNumbers(msg, latency);
  }

  function showNumbers(msg, latency) {
    const span = answers[answers.length - 1].at - answers[0].at;
    $("fps").textContent = answers.length > 1 ? `${((answers.length - 1) * 1000 / span).toFixed(1)} fps` : "–";
    const recent = answers.slice(-10).map((a) => a.latency).filter(Number.isFinite);
    const mean = recent.reduce((sum, v) => sum + v, 0) / Math.max(recent.length, 1);
    $("latency").textContent = `${latency.toFixed(0)} ms (mean of ${recent.length}: ${mean.toFixed(0)} ms)`;
    $("server-ms").textContent = `${msg.server_ms.toFixed(0)} ms`;
    $("status").textContent = msg.status_text;
    $("target").textContent = msg.label || "–";
  }

  function showServed(served) {
    const list = $("families");
    list.replaceChildren();
    const banner = $("standin");
    if (!served) {
      $("model-set").textContent = "(the server does not answer)";
      return;
    }
    const networks = Object.keys(served.networks).length;
    $("model-set").textContent = served.stand_ins.length
      ? `${served.model_set}: ${served.stand_ins.length} of ${networks} networks are STAND-INs`
      : `${served.model_set}: every network real`;
    for (const family of served.families) {
      const item = document.createElement("li");
      item.textContent = family;
      if (/stand-in/i.test(family)) item.className = "standin";
      list.append(item);
    }
    banner.textContent = served.banner || "";
    banner.hidden = !served.banner;
  }

  // --- the overlay: drawn on a canvas the size of the frame that was sent, stretched over the video ---

  function rgb(color, alpha = 1) {
    return `rgba(${color[0]}, ${color[1]}, ${color[2]}, ${alpha})`;
  }

  function paintMask(ctx, runs, width, height, color) {
    const image = ctx.createImageData(width, height);
    const data = image.data;
    let pos = 0;
    runs.forEach((run, i) => {
      if (i % 2 === 1) {
        for (let p = 4 * pos, end = 4 * (pos + run); p < end; p += 4) {
          data[p] = color[0]; data[p + 1] = color[1]; data[p + 2] = color[2]; data[p + 3] = MASK_ALPHA;
        }
      }
      pos += run;
    });
    ctx.putImageData(image, 0, 0);
  }

  function strokeBox(ctx, box, color, thickness) {
    ctx.strokeStyle = rgb(color);
    ctx.lineWidth = thickness;
    ctx.strokeRect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
  }

  function textBlock(ctx, text, x, y, size, fg, bg) {
    ctx.font = `${size}px sans-serif`;
    const pad = Math.max(2, Math.round(size / 4));
    const width = ctx.measureText(text).width + 2 * pad;
    const height = size + 2 * pad;
    x = Math.min(Math.max(x, 0), Math.max(ctx.canvas.width - width, 0));
    y = Math.min(Math.max(y, 0), Math.max(ctx.canvas.height - height, 0));
    ctx.fillStyle = bg;
    ctx.fillRect(x, y, width, height);
    ctx.fillStyle = fg;
    ctx.textBaseline = "top";
    ctx.fillText(text, x + pad, y + pad);
  }

  function showFrame() { // the frame in flight is still in grab: the next is grabbed only after this answer
    frameCanvas.width = grab.width;
    frameCanvas.height = grab.height;
    frameCanvas.getContext("2d").drawImage(grab, 0, 0);
  }

  function draw(result) {
    const [height, width] = result.frame_size;
    overlay.width = width; // also clears the canvas
    overlay.height = height;
    const ctx = overlay.getContext("2d");
    const colors = page.hello.colors;
    const scale = Math.max(width, height) / 640;
    const thickness = Math.max(1, Math.round(2 * scale));
    const font = Math.max(10, Math.round(15 * scale));
    if (result.has_target) paintMask(ctx, result.mask_runs, width, height, colors.mask);
    if (result.has_face) {
      const ray = result.gaze_ray;
      ctx.strokeStyle = rgb(colors.gaze);
      ctx.lineWidth = thickness;
      ctx.beginPath();
      ctx.moveTo(ray[0], ray[1]);
      ctx.lineTo(ray[2], ray[3]);
      ctx.stroke();
      strokeBox(ctx, result.face_box, colors.face, thickness);
    }
    if (result.has_target) {
      const box = result.target_box;
      strokeBox(ctx, box, colors.target, thickness);
      if (result.label) textBlock(ctx, result.label, box[0], box[1] - font - 8, font, "#000", rgb(colors.target));
    }
    textBlock(ctx, result.status_text, 0, height, font, "#fff", "rgba(0, 0, 0, 0.7)");
    page.drawn = result;
  }

  // Run lengths (off, on, off, ...) of the overlay's mask-coloured pixels, for a test to compare with the
  // mask it was sent: painted pixels keep the mask's alpha; lines drawn over them do not.
  page.paintedMaskRuns = () => {
    const data = overlay.getContext("2d").getImageData(0, 0, overlay.width, overlay.height).data;
    const color = page.hello.colors.mask;
    const runs = [];
    let on = false, run = 0;
    for (let p = 0; p < data.length; p += 4) {
      const painted = data[p + 3] === MASK_ALPHA && Math.abs(data[p] - color[0]) <= 3 &&
        Math.abs(data[p + 1] - color[1]) <= 3 && Math.abs(data[p + 2] - color[2]) <= 3;
      if (painted !== on) { runs.push(run); run = 0; on = painted; }
      run += 1;
    }
    runs.push(run);
    return runs;
  };

  // --- sending: one frame in flight; the next goes when the last is answered (or dropped) ---

  function sendFrame(now) {
    const limits = page.hello.limits;
    inFlight = { sentAt: now };
    lastSentAt = now;
    const scale = Math.min(1, page.hello.send_width / video.videoWidth,
                           limits.max_side / Math.max(video.videoWidth, video.videoHeight));
    grab.width = Math.round(video.videoWidth * scale);
    grab.height = Math.round(video.videoHeight * scale);
    grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
    grab.toBlob((jpeg) => {
      if (!jpeg || jpeg.size > limits.max_bytes || ws.readyState !== WebSocket.OPEN) {
        if (jpeg && jpeg.size > limits.max_bytes) quality = Math.max(0.3, quality - 0.1);
        inFlight = null;
        return;
      }
      const header = new ArrayBuffer(HEADER_BYTES);
      new DataView(header).setFloat64(0, now, true);
      ws.send(new Blob([header, jpeg]));
      page.sent += 1;
    }, "image/jpeg", quality);
  }

  function tick() {
    const now = performance.now();
    if (inFlight && now - inFlight.sentAt > LOST_ANSWER_MS) inFlight = null;
    const limits = page.hello && page.hello.limits;
    const ready = limits && ws && ws.readyState === WebSocket.OPEN && video.readyState >= 2 && video.videoWidth > 0;
    if (ready && !inFlight && !document.hidden && now >= pausedUntil && now - lastSentAt >= 1000 / limits.max_fps) {
      sendFrame(now);
    }
    setTimeout(tick, 10);
  }

  $("live").addEventListener("change", (event) => $("stage").classList.toggle("live", event.target.checked));
  window.addEventListener("pagehide", () => { if (ws) { ws.onclose = null; ws.close(); } });
  connect();
  startCamera();
  tick();
})();
