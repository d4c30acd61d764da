"""Transport options for local clients, measured: raw frames over gRPC, system shared memory, JPEG.

    python perf/bench_transport.py [--requests 40] [--quality 90]

Sends the same real 1280x720 frames through the ``gazesam`` ensemble (raw, shm) and ``gazesam_jpeg``
(jpeg) on a real tritonserver, one stream, one request at a time, and reports per frame: the bytes the
request carries, the client process's CPU time (building the request, sending, receiving and reading
the answer, JPEG encoding included; ``time.process_time`` counts every thread of the process), and the
end-to-end latency. The frame's own share of the client CPU is the total minus that of a request
carrying a 32x32 frame (the fixed cost of a call). JPEG from a source that is already JPEG (an MJPEG
camera) skips the encode: that row subtracts the measured encode time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import tritonclient.grpc as grpcclient

ROOT = Path(__file__).resolve().parents[1]

from clients.frame_transport import TRANSPORTS, JpegTransport, make_transport
from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam.contracts import MIN_FRAME_SIDE
from gazesam_triton.server_process import TritonProcess
from perf.video_clip import first_frames

VIDEO = ROOT.parent / "shared" / "media" / "videos" / "woman_cup_shelf.mp4"


def request_bytes(inputs: list) -> int:
    """Tensor bytes carried inside the request (shared-memory inputs carry none)."""
    return sum(len(t._get_content()) for t in inputs if t._get_content() is not None)


def measure(kind: str, url: str, frames: list[np.ndarray], quality: int) -> dict[str, float]:
    client = grpcclient.InferenceServerClient(url)
    transport = make_transport(kind, grpcclient, client)
    if isinstance(transport, JpegTransport):
        transport.quality = quality
    stream, sent, cpu_ms, wall_ms = new_stream_id(), [], [], []
    try:
        for i, frame in enumerate(frames):
            cpu, wall = time.process_time(), time.perf_counter()
            inputs = transport.inputs(frame, i / 25.0)
            response = client.infer(transport.model_name, inputs, outputs=transport.outputs(frame.shape[:2]),
                                    sequence_id=stream, sequence_start=i == 0, sequence_end=i == len(frames) - 1)
            transport.read(response, frame.shape[:2])
            cpu_ms.append((time.process_time() - cpu) * 1000)
            wall_ms.append((time.perf_counter() - wall) * 1000)
            sent.append(request_bytes(inputs))
    finally:
        transport.close()
        client.close()
    skip = min(3, len(frames) // 4)  # warm-up: connection, region registration
    return {"bytes": float(np.mean(sent)), "cpu_ms": float(np.mean(cpu_ms[skip:])),
            "p50_ms": float(np.percentile(wall_ms[skip:], 50))}


def encode_ms(frames: list[np.ndarray], quality: int) -> float:
    start = time.process_time()
    for frame in frames:
        cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return (time.process_time() - start) * 1000 / len(frames)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perf/bench_transport.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=40, help="frames per transport (default: %(default)s)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality (default: %(default)s)")
    parser.add_argument("--repository", type=Path, default=ROOT / "model_repository")
    parser.add_argument("--out", type=Path, default=ROOT / "perf" / "out", help="default: %(default)s")
    args = parser.parse_args(argv)
    frames, _ = first_frames(VIDEO, args.requests)
    h, w = frames[0].shape[:2]
    args.out.mkdir(parents=True, exist_ok=True)
    with TritonProcess(args.repository, args.out / "tritonserver-transport.log") as server:
        probe = GazeSamClient(server.grpc_url)
        standins = probe.standin_networks()
        probe.close()
        results = {kind: measure(kind, server.grpc_url, frames, args.quality) for kind in TRANSPORTS}
        small = [cv2.resize(frame, (MIN_FRAME_SIDE, MIN_FRAME_SIDE)) for frame in frames]
        fixed = measure("raw", server.grpc_url, small, args.quality)["cpu_ms"]
    encode = encode_ms(frames, args.quality)
    results["jpeg, source already JPEG"] = results["jpeg"] | {"cpu_ms": results["jpeg"]["cpu_ms"] - encode}
    raw = results["raw"]
    lines = [f"## bench_transport: {w}x{h} frames, {len(frames)} per transport", "",
             f"Command: `python perf/bench_transport.py --requests {args.requests} --quality {args.quality}`",
             f"Stand-in networks served (client-side costs do not depend on them): {', '.join(standins) or 'none'}.",
             "",
             "| transport | request bytes/frame | client CPU ms/request | the frame's share, ms | vs raw "
             "| p50 latency ms |",
             "|---|---:|---:|---:|---:|---:|"]
    for kind, r in results.items():
        share = r["cpu_ms"] - fixed
        lines.append(f"| {kind} | {r['bytes']:,.0f} | {r['cpu_ms']:.2f} | {share:.2f} "
                     f"| {share / (raw['cpu_ms'] - fixed):.2f}x | {r['p50_ms']:.0f} |")
    lines += ["", f"Fixed cost of a call (a {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE} raw frame): {fixed:.2f} ms CPU. "
              f"JPEG encode (quality {args.quality}) alone: {encode:.2f} ms CPU per frame."]
    report = "\n".join(lines) + "\n"
    print(report)
    (args.out / "bench_transport.md").write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
