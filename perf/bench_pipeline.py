"""Side-by-side benchmark: the in-process serial pipeline (the upstream way) against the Triton ensemble.

    python perf/bench_pipeline.py --standins full        # upstream-sized compute (slow: seconds per frame)
    python perf/bench_pipeline.py --standins tiny --frames 24

On the same real frames and the same model files it measures, in one run:
  * serial: ``gazesam.pipeline.InProcessPipeline``, every step one after another in this process;
  * the ``gazesam`` ensemble on a real tritonserver at each concurrency C: C streams at once, each
    sending the frames in order, one at a time (C clients, as C cameras would);
  * frames without a face, where the cheap paths (``contracts.GATE``) skip every network after the face
    detector: serial with and without gates, and the ensemble.
It prints frames per second, p50/p95 latency and the ratios to serial, and writes Markdown and JSON
to ``--out``. Both sides use the same ONNX Runtime options (``gazesam.onnx_network.session_options``)
except the intra-op thread count: serial uses every core for each network in turn (as a one-process
loop would); the server's sessions run side by side, each with ``--server-ort-threads``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam.contracts import Status
from gazesam.onnx_network import THREADS_ENV
from gazesam.pipeline import InProcessPipeline
from gazesam_triton.process_memory import process_tree
from gazesam_triton.server_process import TritonProcess
from perf.video_clip import first_frames

VIDEO = ROOT.parent / "shared" / "media" / "videos" / "father_daughter_toys.mp4"


@dataclass
class Measurement:
    """One configuration's figures over ``frames`` processed frames."""

    name: str
    frames: int
    wall_s: float
    latencies_ms: list[float]
    cpu_s: float  # CPU seconds the work took (this process for serial; the server's processes for the ensemble)

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s

    @property
    def cores_busy(self) -> float:
        return self.cpu_s / self.wall_s

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q))


# --- inputs --------------------------------------------------------------------------------------------


def faceless_frames(pipeline: InProcessPipeline, frames: list[np.ndarray], count: int) -> list[np.ndarray]:
    """Real-frame crops (scaled back to the frame size) in which the real face detector finds no face."""
    found = []
    for frame in frames:
        h, w = frame.shape[:2]
        for crop in (frame[:, : w // 3], frame[:, 2 * w // 3 :], frame[: h // 3], frame[2 * h // 3 :]):
            candidate = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)
            if int(pipeline(candidate, 0.0, new_stream_id(), start=True, end=True)["STATUS"][0]) == Status.NO_FACE:
                found.append(candidate)
            if len(found) == count:
                return found
    return found


# --- the two ways ----------------------------------------------------------------------------------------


def server_cpu_seconds(server: TritonProcess) -> float:
    """CPU seconds used so far by tritonserver and its live descendants (the Python backend stubs)."""
    total = 0
    for pid in process_tree(server.process.pid):
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def run_serial(name: str, pipeline: InProcessPipeline, frames: list[np.ndarray], times: list[float]) -> Measurement:
    latencies = []
    cpu = time.process_time()
    start = time.perf_counter()
    for i, (frame, t) in enumerate(zip(frames, times)):
        began = time.perf_counter()
        pipeline(frame, t, 1, start=i == 0, end=i == len(frames) - 1)
        latencies.append((time.perf_counter() - began) * 1000)
    return Measurement(name, len(frames), time.perf_counter() - start, latencies, time.process_time() - cpu)


def run_ensemble(
    name: str, server: TritonProcess, frames: list[np.ndarray], times: list[float], streams: int
) -> Measurement:
    """``streams`` clients at once, each sending every frame in order as its own stream."""
    url = server.grpc_url
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def one_stream() -> None:
        client, stream = GazeSamClient(url, "grpc", timeout_s=600), new_stream_id()
        try:
            for i, (frame, t) in enumerate(zip(frames, times)):
                began = time.perf_counter()
                client.infer(frame, t, stream, start=i == 0, end=i == len(frames) - 1)
                with lock:
                    latencies.append((time.perf_counter() - began) * 1000)
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=one_stream) for _ in range(streams)]
    cpu = server_cpu_seconds(server)
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{name}: {errors[0]}")
    wall = time.perf_counter() - start
    return Measurement(name, streams * len(frames), wall, latencies, server_cpu_seconds(server) - cpu)


# --- report --------------------------------------------------------------------------------------------


def table(rows: list[Measurement], baseline: Measurement) -> list[str]:
    lines = [
        "| configuration | frames | frames/s | p50 ms | p95 ms | fps vs serial | p50 vs serial | CPU s/frame "
        "| cores busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in rows:
        lines.append(
            f"| {m.name} | {m.frames} | {m.fps:.2f} | {m.percentile(50):.0f} | {m.percentile(95):.0f} "
            f"| {m.fps / baseline.fps:.2f}x | {m.percentile(50) / baseline.percentile(50):.2f}x "
            f"| {m.cpu_s / m.frames:.2f} | {m.cores_busy:.2f} |"
        )
    return lines


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}"


def ensure_repository(size: str, out: Path) -> Path:
    """A repository of the stand-in model set with stand-ins of ``size`` (built first if missing)."""
    repo = out / f"repository-{size}"
    py = [sys.executable, "-m", "build_engines"]
    subprocess.run([*py, "standins", "--size", size], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    subprocess.run([*py, "repository", "--models", "standin", "--out", str(repo), "--standin-size", size],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return repo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perf/bench_pipeline.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--standins", choices=("tiny", "full"), default="tiny",
                        help="stand-in size for the networks without real weights (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=16, help="real frames per stream (default: %(default)s)")
    parser.add_argument("--faceless-frames", type=int, default=6,
                        help="frames without a face, measured apart (default: %(default)s; 0 to skip)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4],
                        help="concurrent streams against the ensemble (default: 1 2 4)")
    parser.add_argument("--video", type=Path, default=VIDEO, help="source of the frames (default: %(default)s)")
    parser.add_argument("--server-ort-threads", type=int, default=0,
                        help="intra-op threads of each network session in the server; 0 = one per core "
                             "(default: %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "perf" / "out", help="default: %(default)s")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    repo = ensure_repository(args.standins, args.out)
    frames, times = first_frames(args.video, args.frames)
    print(f"{len(frames)} frames of {args.video.name} ({frames[0].shape[1]}x{frames[0].shape[0]}), "
          f"stand-ins: {args.standins}; {machine()}")

    pipeline = InProcessPipeline(repo)
    faceless = faceless_frames(pipeline, frames, args.faceless_frames) if args.faceless_frames else []
    faceless_times = [i * 0.04 for i in range(len(faceless))]
    run_serial("warm-up", pipeline, frames[:2], times[:2])
    serial = run_serial("serial, in-process", pipeline, frames, times)
    print(f"serial: {serial.fps:.2f} frames/s")
    rows, faceless_rows = [serial], []
    if faceless:
        faceless_rows.append(run_serial("serial, no face (gated)", pipeline, faceless, faceless_times))
        ungated = InProcessPipeline(repo, gated=False)
        run_serial("warm-up", ungated, faceless[:1], faceless_times[:1])
        faceless_rows.append(run_serial("serial, no face (every network)", ungated, faceless, faceless_times))
        del ungated
    del pipeline  # its ONNX Runtime sessions would hold memory the server needs

    os.environ[THREADS_ENV] = str(args.server_ort_threads)  # the server inherits it; serial is already loaded
    with TritonProcess(repo, args.out / f"tritonserver-{args.standins}.log") as server:
        run_ensemble("warm-up", server, frames[:2], times[:2], 1)
        for streams in args.concurrency:
            rows.append(run_ensemble(f"ensemble, {streams} stream(s)", server, frames, times, streams))
            print(f"ensemble at concurrency {streams}: {rows[-1].fps:.2f} frames/s")
        if faceless:
            faceless_rows.append(run_ensemble("ensemble, no face, 1 stream", server, faceless,
                                              faceless_times, 1))

    lines = [f"## bench_pipeline: {args.standins} stand-ins", "", f"Machine: {machine()}.",
             f"Frames: {len(frames)} of `{args.video.name}` ({frames[0].shape[1]}x{frames[0].shape[0]}) per stream.",
             f"Command: `python perf/bench_pipeline.py --standins {args.standins} --frames {args.frames} "
             f"--server-ort-threads {args.server_ort_threads}` (serial: ONNX Runtime's default, one thread per core).",
             "",
             *table(rows, serial)]
    if faceless_rows:
        lines += ["", f"Frames without a face ({len(faceless)} real-frame crops), against the serial pipeline "
                  "on faces:", "", *table(faceless_rows, serial)]
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    stem = args.out / f"bench_pipeline_{args.standins}"
    stem.with_suffix(".md").write_text(report)
    stem.with_suffix(".json").write_text(json.dumps(
        {"machine": machine(), "standins": args.standins,
         "rows": [asdict(m) | {"fps": m.fps} for m in rows + faceless_rows]}, indent=1))
    print(f"wrote {stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
