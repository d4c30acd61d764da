"""Annotate a video with the gazesam service: one output frame per input frame.

    python clients/video.py --video IN.mp4 [--output-dir output] [--url 127.0.0.1:8001] [--protocol grpc]

Writes ``<output-dir>/<name>_gazesam.mp4`` with the input's frame count, size and fps, shows a progress
bar, and prints a latency summary. Frames the server could not process are written unannotated and
counted. Start the server first (``python -m gazesam_triton.serve``).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clients.gazesam_client import DEFAULT_URLS, FrameResult, GazeSamClient, standin_banner  # noqa: E402
from gazesam.overlay import draw_result  # noqa: E402


@dataclass
class RunSummary:
    frames: int = 0
    failed: int = 0
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    def lines(self) -> list[str]:
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return [
            f"frames: {self.frames} (processed {self.frames - self.failed}, failed {self.failed})",
            f"status: {statuses or 'none'}",
            f"latency ms: p50 {np.percentile(lat, 50):.1f}  p95 {np.percentile(lat, 95):.1f}  mean {lat.mean():.1f}",
            f"throughput: {self.frames / max(self.wall_s, 1e-9):.2f} frames/s over {self.wall_s:.1f} s",
        ]


def annotate(frame: np.ndarray, result: FrameResult | None, banner: str | None) -> np.ndarray:
    if result is None:
        return draw_result(frame, mask=None, face_box=None, target_box=None, target_label=None,
                           gaze_ray=None, status_text="not processed (server error)", banner=banner)
    ok = result.status.name == "OK"
    has_face = result.status.name != "NO_FACE"
    return draw_result(
        frame,
        mask=result.mask if ok else None,
        face_box=result.face_box if has_face else None,
        target_box=result.target_box if ok else None,
        target_label=result.target_label,
        gaze_ray=result.gaze_ray if has_face else None,
        status_text=result.status.name.lower().replace("_", " "),
        banner=banner,
    )


class FrameInferrer:
    """Runs ``infer`` on a thread pool, one client per thread, results returned in submission order."""

    def __init__(self, url: str, protocol: str, in_flight: int, timeout_s: float):
        self._local = threading.local()
        self._args = (url, protocol, timeout_s)
        self._pool = ThreadPoolExecutor(max_workers=in_flight)

    def _client(self) -> GazeSamClient:
        if not hasattr(self._local, "client"):
            url, protocol, timeout_s = self._args
            self._local.client = GazeSamClient(url, protocol, timeout_s)
        return self._local.client

    def _timed_infer(self, frame: np.ndarray) -> tuple[FrameResult | None, float, str | None]:
        start = time.perf_counter()
        try:
            result, error = self._client().infer(frame), None
        except Exception as exc:  # the frame is written unannotated and counted as failed
            result, error = None, str(exc)
        return result, (time.perf_counter() - start) * 1000, error

    def submit(self, frame: np.ndarray) -> Future:
        return self._pool.submit(self._timed_infer, frame)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def open_video(path: Path) -> tuple[cv2.VideoCapture, float, tuple[int, int], int]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SystemExit(f"error: cannot open video {path}")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    return capture, fps, size, count


def open_writer(path: Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise SystemExit(f"error: cannot write video {path}")
    return writer


def process_video(video: Path, out_path: Path, inferrer: FrameInferrer, banner: str | None,
                  in_flight: int) -> RunSummary:
    capture, fps, size, count = open_video(video)
    writer = open_writer(out_path, fps, size)
    summary = RunSummary()
    pending: list[tuple[np.ndarray, Future]] = []
    start = time.perf_counter()

    def drain(limit: int) -> None:
        while len(pending) > limit:
            frame, future = pending.pop(0)
            result, latency_ms, error = future.result()
            summary.frames += 1
            if result is None:
                summary.failed += 1
                tqdm.write(f"frame {summary.frames - 1}: {error}")
            else:
                summary.statuses[result.status.name] += 1
                summary.latencies_ms.append(latency_ms)
            writer.write(annotate(frame, result, banner))
            bar.update(1)

    with tqdm(total=count or None, unit="frame", desc=video.name) as bar:
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                pending.append((frame, inferrer.submit(frame)))
                drain(in_flight)
            drain(0)
        finally:
            capture.release()
            writer.release()
    summary.wall_s = time.perf_counter() - start
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clients/video.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", required=True, type=Path, help="input video file")
    parser.add_argument("--output-dir", type=Path, default=Path("output"), help="default: %(default)s")
    parser.add_argument("--protocol", choices=("grpc", "http"), default="grpc")
    parser.add_argument("--url", help=f"server address (default: {DEFAULT_URLS['grpc']} for grpc, "
                                      f"{DEFAULT_URLS['http']} for http)")
    parser.add_argument("--in-flight", type=int, default=2,
                        help="frames sent before waiting for the oldest answer (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request timeout, seconds")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.video.is_file():
        print(f"error: no such video: {args.video}", file=sys.stderr)
        return 2
    probe = GazeSamClient(args.url, args.protocol, args.timeout)
    if not probe.is_ready():
        print(f"error: the gazesam ensemble is not ready at {probe.url} ({args.protocol}); "
              "start the server with 'python -m gazesam_triton.serve'", file=sys.stderr)
        return 3
    standins = probe.standin_networks()
    banner = standin_banner(standins)
    if banner:
        print(f"WARNING: {banner}")
    out_path = args.output_dir / f"{args.video.stem}_gazesam.mp4"
    inferrer = FrameInferrer(probe.url, args.protocol, args.in_flight, args.timeout)
    try:
        summary = process_video(args.video, out_path, inferrer, banner, args.in_flight)
    finally:
        inferrer.close()
    print(f"wrote {out_path}")
    for line in summary.lines():
        print(line)
    return 0 if summary.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
