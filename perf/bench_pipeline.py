"""Side-by-side benchmark: the in-process serial pipeline (the upstream way) against the Triton ensemble.

    python perf/bench_pipeline.py --models offline       # the all-real offline set (about 1.5 s per frame on 2 cores)
    python perf/bench_pipeline.py --standins tiny --frames 24   # tiny stand-ins: the fixed costs, as on a GPU
    python perf/bench_pipeline.py --standins full        # upstream-sized compute (slow: seconds per frame)

On the same real frames and the same model files it measures, in one run:
  * serial: ``gazesam.pipeline.InProcessPipeline``, every step one after another in this process;
  * the ``gazesam`` ensemble on a real tritonserver at each concurrency C: C streams at once, each
    sending the frames in order, one at a time (C clients, as C cameras would);
  * frames without a face, where the cheap paths (``contracts.GATE``) skip every network after the face
    detector: serial with and without gates, and the ensemble.
It prints frames per second, p50/p95 latency and the ratios to serial, the CPU time of the Python steps
per frame from Triton's statistics (the work that stays on the CPU of a GPU deployment), the ensemble's
critical path (the Python steps a frame waits for), and the load average beside each measurement (the
machine may be shared); it writes Markdown and JSON to ``--out``. Both sides run the same model files
with the same ONNX Runtime options and threads: each network's, as the repository chose them for this
machine's cores (``--server-ort-threads N`` overrides them for every session on both sides).
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
from gazesam.graph import critical_path, pipeline_graph, python_hops
from gazesam.onnx_network import THREADS_ENV
from gazesam.pipeline import InProcessPipeline
from gazesam.steps import python_steps
from gazesam_triton.process_memory import process_tree
from gazesam_triton.server_process import TritonProcess
from perf.model_stats import snapshot_difference
from perf.server_statistics import ServerStatistics
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
    load: str = ""  # /proc/loadavg's 1-minute load before and after the run, e.g. "2.1 -> 3.0"

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


def load_average() -> float:
    """The 1-minute load average: how busy the (possibly shared) machine is."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def with_load(measure):
    """Run ``measure()`` and note the load average before and after it on its Measurement."""
    before = load_average()
    result = measure()
    result.load = f"{before:.1f} -> {load_average():.1f}"
    return result


def stub_cpu_seconds(server: TritonProcess) -> dict[str, float]:
    """CPU seconds used so far by each model's Python-backend stub process(es), by model name.

    A stub's command line names its ``<model>/1/model.py``. CPU time, unlike Triton's durations, does not
    grow when other processes share the cores.
    """
    totals: dict[str, float] = {}
    for pid in process_tree(server.process.pid):
        try:
            args = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        script = next((Path(a.decode()) for a in args if a.endswith(b"/model.py")), None)
        if script is not None:
            model = script.parent.parent.name
            totals[model] = totals.get(model, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return totals


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
        "| cores busy | load before -> after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in rows:
        lines.append(
            f"| {m.name} | {m.frames} | {m.fps:.2f} | {m.percentile(50):.0f} | {m.percentile(95):.0f} "
            f"| {m.fps / baseline.fps:.2f}x | {m.percentile(50) / baseline.percentile(50):.2f}x "
            f"| {m.cpu_s / m.frames:.3f} | {m.cores_busy:.2f} | {m.load} |"
        )
    return lines


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}"


def ensure_repository(models: str, size: str, out: Path) -> Path:
    """A repository of model set ``models`` (stand-ins of ``size`` where it has none real), written first."""
    repo = out / f"repository-{label_of(models, size)}"
    py = [sys.executable, "-m", "build_engines"]
    if models == "standin":
        subprocess.run([*py, "standins", "--size", size], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    subprocess.run([*py, "repository", "--models", models, "--out", str(repo), "--standin-size", size],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return repo


def label_of(models: str, size: str) -> str:
    """``tiny`` / ``full`` for the stand-in set (as before), else the model set's name."""
    return size if models == "standin" else models


@dataclass
class ServerCompute:
    """Compute per frame of every composing model from Triton's statistics: input + infer + output ms."""

    per_model_ms: dict[str, float]
    steps: list[str]  # the Python steps among them
    stub_cpu_ms: dict[str, float]  # CPU time of each Python step's stub process per frame (load-independent)
    step_parts_ms: dict[str, dict[str, float]]  # each step's compute input / infer / output per frame

    @property
    def step_ms(self) -> dict[str, float]:
        return {name: ms for name, ms in self.per_model_ms.items() if name in self.steps}

    @property
    def step_total_ms(self) -> float:
        return sum(self.step_ms.values())

    def slowest(self, networks: bool) -> tuple[str, float]:
        """The model with the most compute per frame among the networks (or the steps)."""
        pool = {n: ms for n, ms in self.per_model_ms.items() if (n not in self.steps) == networks}
        name = max(pool, key=pool.get)
        return name, pool[name]


def server_compute(statistics: ServerStatistics, server: TritonProcess, models: list[str], steps: list[str],
                   frames: int, run) -> tuple[Measurement, ServerCompute]:
    """``run()``'s Measurement and every model's compute per frame over it (Triton's counters / ``frames``)."""
    before, cpu_before = statistics.snapshot(), stub_cpu_seconds(server)
    measurement = run()
    after = snapshot_difference(before, statistics.snapshot())
    cpu_after = stub_cpu_seconds(server)
    stub_ms = {step: (cpu_after.get(step, 0.0) - cpu_before.get(step, 0.0)) * 1000 / frames for step in steps}
    per_model, parts = {}, {}
    for model in models:
        counters = after.get(model)
        if counters is not None:
            parts[model] = {part: getattr(counters, f"compute_{part}_ns") / 1e6 / frames for part in COMPUTE_PARTS}
            per_model[model] = sum(parts[model].values())
    return measurement, ServerCompute(per_model, steps, stub_ms, {step: parts[step] for step in steps if step in parts})


COMPUTE_PARTS = ("input", "infer", "output")
"""Triton's compute phases. For a Python step: input = its inputs copied into the stub's shared memory;
infer = the round trip to the stub and its ``execute``; output = its response handed on, which for an
ensemble step includes Triton scheduling the next steps (and, for the last one, the ensemble's response)."""


def step_parts_line(compute: ServerCompute) -> str:
    """One line: each Python step's compute split into Triton's phases, beside its stub's own CPU."""
    return ("Python steps by Triton phase (compute input / infer / output ms per frame; output includes Triton handing "
            "the response on to the next models, and the last step's the ensemble's answer): "
            + "; ".join(f"{step} " + " / ".join(f"{parts[p]:.2f}" for p in COMPUTE_PARTS)
                        for step, parts in compute.step_parts_ms.items()) + ".")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perf/bench_pipeline.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", choices=("standin", "offline"), default="standin",
                        help="model set: standin (random weights where no real file exists) or offline (every "
                             "network real) (default: %(default)s)")
    parser.add_argument("--standins", choices=("tiny", "full"), default="tiny",
                        help="stand-in size for the networks without real weights (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=16, help="real frames per stream (default: %(default)s)")
    parser.add_argument("--faceless-frames", type=int, default=6,
                        help="frames without a face, measured apart (default: %(default)s; 0 to skip)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4],
                        help="concurrent streams against the ensemble (default: 1 2 4)")
    parser.add_argument("--video", type=Path, default=VIDEO, help="source of the frames (default: %(default)s)")
    parser.add_argument("--server-ort-threads", type=int, default=None, metavar="N",
                        help="override every network session's intra-op threads, on both sides (0 = one per core); "
                             "default: each network's own, from the repository (threads from the core count)")
    parser.add_argument("--out", type=Path, default=ROOT / "perf" / "out", help="default: %(default)s")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    label = label_of(args.models, args.standins)
    if args.server_ort_threads is not None:
        os.environ[THREADS_ENV] = str(args.server_ort_threads)  # both sides: this process and the server
    repo = ensure_repository(args.models, args.standins, args.out)
    frames, times = first_frames(args.video, args.frames)
    print(f"{len(frames)} frames of {args.video.name} ({frames[0].shape[1]}x{frames[0].shape[0]}), "
          f"models: {label}; {machine()}")

    pipeline = InProcessPipeline(repo)
    served = pipeline.model_set
    path = critical_path(pipeline_graph(served), "FRAME", "MASK")
    faceless = faceless_frames(pipeline, frames, args.faceless_frames) if args.faceless_frames else []
    faceless_times = [i * 0.04 for i in range(len(faceless))]
    run_serial("warm-up", pipeline, frames[:2], times[:2])
    serial = with_load(lambda: run_serial("serial, in-process", pipeline, frames, times))
    print(f"serial: {serial.fps:.2f} frames/s")
    rows, faceless_rows = [serial], []
    if faceless:
        faceless_rows.append(with_load(lambda: run_serial("serial, no face (gated)", pipeline, faceless, faceless_times)))
        ungated = InProcessPipeline(repo, gated=False)
        run_serial("warm-up", ungated, faceless[:1], faceless_times[:1])
        faceless_rows.append(with_load(lambda: run_serial("serial, no face (every network)", ungated, faceless,
                                                          faceless_times)))
        del ungated
    pipeline = None  # its ONNX Runtime sessions would hold memory the server needs

    steps = list(python_steps(served))
    models = [node.model for node in pipeline_graph(served)]
    with TritonProcess(repo, args.out / f"tritonserver-{label}.log") as server:
        statistics = ServerStatistics(server.grpc_url)
        run_ensemble("warm-up", server, frames[:2], times[:2], 1)
        compute = None
        for streams in args.concurrency:
            name = f"ensemble, {streams} stream(s)"
            measure = lambda: with_load(lambda: run_ensemble(name, server, frames, times, streams))  # noqa: E731
            if compute is None:  # the first level (one stream: one frame in flight)
                measurement, compute = server_compute(statistics, server, models, steps, streams * len(frames), measure)
            else:
                measurement = measure()
            rows.append(measurement)
            print(f"ensemble at concurrency {streams}: {rows[-1].fps:.2f} frames/s")
        if faceless:
            faceless_rows.append(with_load(lambda: run_ensemble("ensemble, no face, 1 stream", server, faceless,
                                                                faceless_times, 1)))
        statistics.close()

    threads = "each network's own (from the repository)" if args.server_ort_threads is None else \
        f"{args.server_ort_threads} per session (--server-ort-threads)"
    command = (f"python perf/bench_pipeline.py --models {args.models} --standins {args.standins} --frames {args.frames}"
               + ("" if args.server_ort_threads is None else f" --server-ort-threads {args.server_ort_threads}"))
    lines = [f"## bench_pipeline: {label}", "", f"Machine: {machine()}.",
             f"Frames: {len(frames)} of `{args.video.name}` ({frames[0].shape[1]}x{frames[0].shape[0]}) per stream.",
             f"Command: `{command}`; ONNX Runtime intra-op threads: {threads}, the same on both sides.",
             f"Critical path ({python_hops(path)} Python steps between FRAME and MASK): "
             + " -> ".join(f"**{n.model}**" if n.network is None else n.model for n in path) + " (steps in bold).",
             "",
             *table(rows, serial)]
    if compute is not None:
        lines += ["", f"Compute per frame on the server (Triton statistics: compute input + infer + output, "
                  f"{args.concurrency[0]} stream(s)): Python steps **{compute.step_total_ms:.2f} ms** = "
                  + ", ".join(f"{name} {ms:.2f}" for name, ms in compute.step_ms.items()) + " ms; networks: "
                  + ", ".join(f"{name} {ms:.1f}" for name, ms in compute.per_model_ms.items() if name not in steps)
                  + " ms. Triton's durations are wall time and grow with the machine's load; the steps' stub "
                  f"processes used **{sum(compute.stub_cpu_ms.values()):.2f} ms** of CPU per frame = "
                  + ", ".join(f"{name} {ms:.2f}" for name, ms in compute.stub_cpu_ms.items()) + " ms (clock ticks of "
                  f"{1000 / os.sysconf('SC_CLK_TCK'):.0f} ms summed over {args.concurrency[0] * len(frames)} frames).",
                  "", step_parts_line(compute)]
    if faceless_rows:
        lines += ["", f"Frames without a face ({len(faceless)} real-frame crops), against the serial pipeline "
                  "on faces:", "", *table(faceless_rows, serial)]
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    stem = args.out / f"bench_pipeline_{label}"
    stem.with_suffix(".md").write_text(report)
    stem.with_suffix(".json").write_text(json.dumps(
        {"machine": machine(), "models": args.models, "standins": args.standins, "label": label,
         "frame_hw": list(frames[0].shape[:2]), "command": command,
         "critical_path": [{"model": n.model, "python_step": n.network is None} for n in path],
         "python_steps": steps, "model_ms": compute.per_model_ms if compute else {},
         "stub_cpu_ms": compute.stub_cpu_ms if compute else {},
         "step_parts_ms": compute.step_parts_ms if compute else {},
         "rows": [asdict(m) | {"fps": m.fps} for m in rows + faceless_rows]}, indent=1))
    print(f"wrote {stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
