"""A short sweep behind the CPU profile's threads and instances (``build_engines.profiles.cpu_scheduling``).

    python perf/sweep_threads.py                      # the offline set, 6 frames, 1 and 2 streams
    python perf/sweep_threads.py --models standin --frames 12

Two parts, on the same real frames:

1. each network alone, in process, at 1 .. N intra-op threads (N = this machine's cores): median ms per
   call. A network whose time falls with threads is worth the cores; one that does not is "light";
2. the ensemble at 1 and 2 streams under three plans: the repository's (heavy networks all cores,
   light ones one thread, instances from the core count), every session one thread, every session all
   cores (ONNX Runtime's default). Frames per second, p50 and the load average beside each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from build_engines.calibration import NetworkWrapper
from gazesam.onnx_network import THREADS_ENV
from gazesam.pipeline import InProcessPipeline
from gazesam_triton.server_process import TritonProcess
from perf.bench_pipeline import VIDEO, ensure_repository, label_of, load_average, machine, run_ensemble, with_load
from perf.video_clip import first_frames

ROOT = Path(__file__).resolve().parents[1]


class Stopwatch(NetworkWrapper):
    """A pipeline network that keeps the seconds of each call."""

    def __init__(self, network):
        super().__init__(network)
        self.seconds: list[float] = []

    def __call__(self, **inputs):
        began = time.perf_counter()
        outputs = self.network(**inputs)
        self.seconds.append(time.perf_counter() - began)
        return outputs


def network_times(repository: Path, frames, threads: int) -> dict[str, float]:
    """Median ms per call of each network with ``threads`` intra-op threads (every session), in process."""
    os.environ[THREADS_ENV] = str(threads)
    try:
        pipeline = InProcessPipeline(repository)
    finally:
        del os.environ[THREADS_ENV]
    watches = pipeline.wrap_networks(Stopwatch)
    for index, frame in enumerate([frames[0], *frames]):  # the first frame warms up
        pipeline(frame, 0.0, stream_id=index + 1, start=True, end=True)
        if index == 0:
            for watch in watches.values():
                watch.seconds.clear()
    return {key: statistics.median(w.seconds) * 1000 for key, w in watches.items() if w.seconds}


PLANS = {"repository's (heavy: cores, light: 1)": None, "every session 1 thread": "1",
         "every session all cores (ONNX Runtime default)": "0"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perf/sweep_threads.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", choices=("standin", "offline"), default="offline")
    parser.add_argument("--standins", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "perf" / "out")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    repo = ensure_repository(args.models, args.standins, args.out)
    frames, times = first_frames(VIDEO, args.frames)
    cores = os.cpu_count() or 1
    lines = [f"## Threads and instances: a short sweep ({label_of(args.models, args.standins)})", "",
             f"Machine: {machine()}. `python perf/sweep_threads.py --models {args.models} --frames {args.frames}`; "
             f"{len(frames)} frames of `{VIDEO.name}` ({frames[0].shape[1]}x{frames[0].shape[0]}).", "",
             "Each network alone, in process: median ms per call by intra-op threads (load average at the start of "
             "each column).", ""]
    columns = {}
    for threads in range(1, cores + 1):
        load = load_average()
        columns[threads] = (load, network_times(repo, frames, threads))
    keys = list(columns[1][1])
    lines += ["| network | " + " | ".join(f"{t} thread(s) (load {columns[t][0]:.1f})" for t in columns) + " |",
              "|---|" + "---:|" * len(columns)]
    for key in keys:
        lines.append(f"| {key} | " + " | ".join(f"{columns[t][1].get(key, float('nan')):.1f}" for t in columns) + " |")
    lines += ["", "The ensemble under three thread plans (instances as the repository has them):", "",
              "| plan | streams | frames/s | p50 ms | load before -> after |", "|---|---:|---:|---:|---|"]
    for plan, value in PLANS.items():
        if value is not None:
            os.environ[THREADS_ENV] = value
        try:
            with TritonProcess(repo, args.out / "tritonserver-sweep.log") as server:
                run_ensemble("warm-up", server, frames[:1], times[:1], 1)
                for streams in args.concurrency:
                    m = with_load(lambda: run_ensemble(plan, server, frames, times, streams))
                    lines.append(f"| {plan} | {streams} | {m.fps:.2f} | {m.percentile(50):.0f} | {m.load} |")
                    print(lines[-1])
        finally:
            os.environ.pop(THREADS_ENV, None)
    text = "\n".join(lines) + "\n"
    print(text)
    (args.out / f"sweep_threads_{label_of(args.models, args.standins)}.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
