"""Live gaze-guided segmentation from a camera through the gazesam service.

    python clients/webcam.py [--camera 0] [--url 127.0.0.1:8001] [--protocol grpc] [--record out.mp4]

Shows a window when a display and a GUI-enabled OpenCV exist (q or Esc quits); otherwise records the
annotated stream to a file (Ctrl+C stops). The default install has headless OpenCV, so it records;
``pip install opencv-python==4.11.0.86`` in place of the headless wheel gives the window.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clients.gazesam_client import DEFAULT_URLS, GazeSamClient, standin_banner  # noqa: E402
from clients.video import RunSummary, annotate, open_writer  # noqa: E402

QUIT_KEYS = {ord("q"), 27}
WINDOW = "gazesam"


def display_available() -> bool:
    """True when a window can be shown: a display is set and OpenCV was built with a GUI."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    gui = [line for line in cv2.getBuildInformation().splitlines() if "GUI:" in line]
    return bool(gui) and "NONE" not in gui[0].upper()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clients/webcam.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--camera", type=int, default=0, help="camera index (default: %(default)s)")
    parser.add_argument("--protocol", choices=("grpc", "http"), default="grpc")
    parser.add_argument("--url", help=f"server address (default: {DEFAULT_URLS['grpc']} / {DEFAULT_URLS['http']})")
    parser.add_argument("--record", type=Path, help="also (or, without a display, only) write the stream here; "
                                                    "default without a display: output/webcam_<camera>.mp4")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = no limit)")
    parser.add_argument("--stall-timeout", type=float, default=5.0,
                        help="give up when the camera delivers no frame for this many seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    client = GazeSamClient(args.url, args.protocol, args.timeout)
    if not client.is_ready():
        print(f"error: the gazesam ensemble is not ready at {client.url}; start the server first", file=sys.stderr)
        return 3
    camera = cv2.VideoCapture(args.camera)
    if not camera.isOpened():
        print(f"error: cannot open camera {args.camera} (is one connected, and is it free?)", file=sys.stderr)
        return 2
    banner = standin_banner(client.standin_networks())
    show = display_available()
    record = args.record or (None if show else Path("output") / f"webcam_{args.camera}.mp4")
    fps = camera.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None
    summary = RunSummary()
    started = last_frame = time.perf_counter()
    try:
        while not args.max_frames or summary.frames < args.max_frames:
            ok, frame = camera.read()
            if not ok:
                if time.perf_counter() - last_frame > args.stall_timeout:
                    print(f"camera {args.camera} delivered no frame for {args.stall_timeout:.0f} s; stopping")
                    break
                time.sleep(0.05)
                continue
            last_frame = time.perf_counter()
            try:
                result = client.infer(frame)
                summary.statuses[result.status.name] += 1
                summary.latencies_ms.append((time.perf_counter() - last_frame) * 1000)
            except Exception as exc:  # keep the stream going; the frame is shown unannotated
                result = None
                summary.failed += 1
                print(f"frame {summary.frames}: {exc}", file=sys.stderr)
            summary.frames += 1
            shown = annotate(frame, result, banner)
            if record is not None:
                writer = writer or open_writer(record, fps, (frame.shape[1], frame.shape[0]))
                writer.write(shown)
            if show:
                cv2.imshow(WINDOW, shown)
                if cv2.waitKey(1) & 0xFF in QUIT_KEYS:
                    break
    except KeyboardInterrupt:
        pass
    finally:
        camera.release()
        if writer is not None:
            writer.release()  # finalises the file so it stays playable whatever stopped us
        if show:
            cv2.destroyAllWindows()
    summary.wall_s = time.perf_counter() - started
    if record is not None and writer is not None:
        print(f"wrote {record}")
    for line in summary.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
