"""The GPU checks in one run: every repository profile served for real, measured, and compared with the CPU.

    python perf/gpu_check.py [--profiles onnx onnx-trt tensorrt pytorch] [--streams 1 4 8 16] [--frames 60]
    python perf/gpu_check.py --cpu        # no GPU: the cpu and pytorch profiles on the CPU (the reporting, end to end)

For each profile, on its own (one failing profile never hides the others): write its repository, serve it
(the NGC image's ``tritonserver`` when /opt/tritonserver has the native backends, else the embedded
``tritonserver`` of nvidia-pytriton, which serves the Python-backend profiles), send a real video's frames
as Triton sequences, and report

- agreement with the CPU in-process pipeline (ONNX Runtime FP32) on every frame of one stream;
- p50/p99 request latency and frames/s per stream at 1, 4, 8 and 16 concurrent streams;
- proof the GPU did the work: Triton's ``nv_gpu_utilization`` sampled during the runs, the server's processes
  on the GPU (``nvidia-smi``), the device each PyTorch adapter logged, GPU memory in use.

A profile this machine cannot serve (no GPU, no native backends, no TensorRT) is skipped with the reason;
``tensorrt`` first builds the plans (``build_engines engines``) and fails when that build fails. Exit status:
0 every profile that ran passed, 1 one failed, 2 none could run. Numbers come from the machine it runs on.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from build_engines.__main__ import main as build_engines_main
from build_engines.accuracy import format_pipeline_row, pipeline_agreement
from build_engines.profiles import make_profile
from build_engines.repository import write_repository
from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam.networks import MODEL_SETS, model_set
from gazesam.pipeline import InProcessPipeline
from perf.gpu_server import SYSTEM_TRITON, SystemTriton
from gazesam_triton.server_process import TritonProcess
from perf.gpu_report import (
    STREAM_COUNTS,
    GpuUse,
    ProfileResult,
    StreamRun,
    adapter_devices,
    exit_code,
    failed,
    gauge_values,
    pool_fallbacks,
    skipped,
)
from perf.video_clip import first_frames

ROOT = Path(__file__).resolve().parents[1]
NATIVE_BACKENDS = ("onnxruntime", "tensorrt", "python")
PROFILES = ("cpu", "onnx", "onnx-trt", "tensorrt", "pytorch")
GPU_PROFILES = ("onnx", "onnx-trt", "tensorrt", "pytorch")
DEFAULT_MEDIA = ROOT.parent / "shared" / "media"
STATE = os.environ.get("GAZESAM_STATE")  # the image's state volume (docker/Dockerfile)
WORK_DIR = Path(STATE) / "gpu_check" if STATE else ROOT / "perf" / "out" / "gpu_check"


@dataclass(frozen=True)
class Machine:
    """What this machine can serve: a GPU, the NGC server with native backends, TensorRT's bindings."""

    gpu: bool
    system_triton: bool
    tensorrt: bool

    @classmethod
    def detect(cls) -> "Machine":
        smi = shutil.which("nvidia-smi")
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True).stdout if smi else ""
        native = (SYSTEM_TRITON / "bin" / "tritonserver").is_file() and all(
            (SYSTEM_TRITON / "backends" / b).is_dir() for b in NATIVE_BACKENDS)
        return cls("GPU" in listed, native, importlib.util.find_spec("tensorrt") is not None)

    def why_not(self, profile: str, cpu_mode: bool) -> str | None:
        """The reason ``profile`` cannot be served here, or None."""
        if profile in ("onnx", "onnx-trt", "tensorrt"):
            if cpu_mode or not self.gpu:
                return "needs an NVIDIA GPU (nvidia-smi lists none)" if not cpu_mode else "a GPU profile (--cpu mode)"
            if not self.system_triton:
                return (f"needs the NGC tritonserver with native backends at {SYSTEM_TRITON} "
                        "(run inside the image of docker/Dockerfile)")
            if profile == "tensorrt" and not self.tensorrt:
                return "needs TensorRT's Python bindings to build plans (the image of docker/Dockerfile has them)"
        if profile == "pytorch" and importlib.util.find_spec("torch") is None:
            return "needs PyTorch ('make pytorch', or the image's TORCH_CUDA build)"
        if profile == "pytorch" and not cpu_mode and not self.gpu:
            return "needs an NVIDIA GPU (nvidia-smi lists none); --cpu serves it on the CPU"
        return None


@dataclass(frozen=True)
class StreamFrames:
    frames: list[np.ndarray]
    times_s: list[float]


def send_stream(url: str, stream: StreamFrames, latencies: list[float] | None = None) -> list[dict[str, np.ndarray]]:
    """Send the frames as one stream, one at a time; the ensemble's outputs per frame (latencies appended)."""
    client = GazeSamClient(url, "grpc", timeout_s=300)
    stream_id, last = new_stream_id(), len(stream.frames) - 1
    outputs = []
    try:
        for i, (frame, t) in enumerate(zip(stream.frames, stream.times_s)):
            start = time.perf_counter()
            outputs.append(client.infer(frame, t, stream_id, start=i == 0, end=i == last).to_outputs())
            if latencies is not None:
                latencies.append(time.perf_counter() - start)
    finally:
        client.close()
    return outputs


def run_streams(url: str, stream: StreamFrames, streams: int) -> StreamRun:
    """``streams`` concurrent streams of ``stream``'s frames; RuntimeError if any request failed."""
    latencies: list[float] = []
    errors: list[BaseException] = []

    def one_stream() -> None:
        try:
            send_stream(url, stream, latencies)
        except BaseException as exc:  # raised below: no figure from failed streams
            errors.append(exc)

    threads = [threading.Thread(target=one_stream) for _ in range(streams)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} of {streams} streams failed: {errors[0]}")
    return StreamRun(streams, tuple(latencies), time.perf_counter() - start)


class GpuSampler:
    """Samples Triton's ``nv_gpu_utilization`` every half second while a ``with`` block runs."""

    def __init__(self, metrics_url: str):
        self.metrics_url, self.samples, self._stop = metrics_url, [], threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            try:
                with urllib.request.urlopen(self.metrics_url, timeout=2) as response:
                    self.samples += gauge_values(response.read().decode(), "nv_gpu_utilization")
            except OSError:
                continue

    def __enter__(self) -> "GpuSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def nvidia_smi(query: str, what: str) -> list[list[str]]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    result = subprocess.run([smi, f"--query-{what}={query}", "--format=csv,noheader,nounits"],
                            capture_output=True, text=True, timeout=60)
    return [[cell.strip() for cell in line.split(",")] for line in result.stdout.splitlines() if line.strip()]


def gpu_use(sampler: GpuSampler, log_text: str) -> GpuUse:
    processes = tuple(row[0].rsplit("/", 1)[-1] for row in nvidia_smi("process_name", "compute-apps"))
    memory = nvidia_smi("memory.used,memory.total", "gpu")
    used, total = (int(memory[0][0]), int(memory[0][1])) if memory else (None, None)
    peak = max(sampler.samples) if sampler.samples else None
    return GpuUse(peak, processes, adapter_devices(log_text), used, total)


def check_profile(name: str, server, stream: StreamFrames, oracle: list, args: argparse.Namespace) -> ProfileResult:
    """Agreement, latency and throughput of one served profile, and (GPU mode) the proof the GPU ran it."""
    with server, GpuSampler(server.metrics_url) as sampler:
        served = send_stream(server.grpc_url, stream)
        runs = [run_streams(server.grpc_url, stream, n) for n in args.streams]
        log_text = server.log_path.read_text(errors="replace")
        use = gpu_use(sampler, log_text)
    agreement = pipeline_agreement(oracle, served)
    gaze = max(float(np.abs(s["GAZE_YAW_PITCH"] - o["GAZE_YAW_PITCH"]).max()) for s, o in zip(served, oracle))
    lines = [f"vs CPU oracle: {format_pipeline_row(agreement)}; max |gaze diff| {gaze:.4f} rad",
             *(run.row() for run in runs)]
    problems = []
    if agreement.same_status < args.min_agreement * agreement.frames:
        problems.append(f"status agrees on {agreement.same_status}/{agreement.frames} frames, below "
                        f"--min-agreement {args.min_agreement}")
    fallbacks = pool_fallbacks(log_text)
    if fallbacks:
        problems.append(f"the server fell back from its CUDA memory pool to pinned system memory {fallbacks} time(s): "
                        "raise --cuda-memory-pool-byte-size (perf/gpu_server.py GPU_SERVER_FLAGS)")
    if args.cpu:
        lines.append("GPU: not checked (--cpu mode)")
    else:
        lines.append(use.row())
        if not use.proven(expects_adapter_device=name == "pytorch"):
            problems.append("no evidence the GPU did the work (no utilisation, no server process on the GPU, or a "
                            "PyTorch adapter on the CPU)")
    return ProfileResult(name, "FAILED" if problems else "ok", problems + lines)


def read_stream(video: Path, count: int) -> StreamFrames:
    return StreamFrames(*first_frames(video, count))


def run_oracle(repository: Path, stream: StreamFrames) -> list[dict[str, np.ndarray]]:
    pipeline = InProcessPipeline(repository)
    last = len(stream.frames) - 1
    return [pipeline(f, t, stream_id=1, start=i == 0, end=i == last)
            for i, (f, t) in enumerate(zip(stream.frames, stream.times_s))]


def build_plans(args: argparse.Namespace, cpu_repo: Path, engines: Path, chosen) -> str | None:
    """Build the plans (plan-only families of ``chosen`` in place of their ONNX Runtime flavours in ``cpu_repo``);
    None when every plan was built, else why not (the command's exit status checked)."""
    plan_only = [arg for f in chosen.families if f.plan_only for arg in ("--family", f"{f.role}={f.name}")]
    status = build_engines_main(["--models-dir", args.models_dir, "engines", "--precision-mode", args.precision_mode,
                                 "--calibration-frames", args.media, "--out", str(engines), "--repository", str(cpu_repo),
                                 "--standin-size", args.standin_size, *plan_only])
    return None if status == 0 else f"'build_engines engines' exited with {status} (report: {engines})"


def profile_server(name: str, repository: Path, machine: Machine):
    log = WORK_DIR / f"tritonserver_{name}.log"
    return SystemTriton(repository, log) if machine.system_triton else TritonProcess(repository, log, 600.0)


def run_profile(name: str, args: argparse.Namespace, machine: Machine, chosen, stream, oracle, cpu_repo) -> ProfileResult:
    """One profile from repository to report; any failure becomes its FAILED row (with the server log's end)."""
    reason = machine.why_not(name, args.cpu)
    if reason:
        return skipped(name, reason)
    engines = WORK_DIR / "engines"
    server = None
    try:
        if name == "tensorrt":
            problem = build_plans(args, cpu_repo, engines, chosen)
            if problem:
                return failed(name, problem)
        base = "onnx" if name == "onnx-trt" else name
        torch_device = args.torch_device or ("cpu" if args.cpu else "cuda")
        profile = make_profile(base, engines, name == "onnx-trt", ort_trt_cache=WORK_DIR / "ort_trt_cache",
                               torch_device=torch_device)
        repository = WORK_DIR / f"repo_{name}"
        write_repository(repository, Path(args.models_dir), chosen, args.standin_size, profile)
        server = profile_server(name, repository, machine)
        return check_profile(name, server, stream, oracle, args)
    except Exception as exc:  # this profile's row says why; the others still run
        log = server.log_path.read_text(errors="replace") if server is not None and server.log_path.exists() else ""
        return failed(name, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", log)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python perf/gpu_check.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", action="store_true",
                        help="no GPU needed: serve the cpu and pytorch profiles on the CPU (embedded tritonserver "
                             "here) and report as on a GPU, without the GPU proof")
    parser.add_argument("--profiles", nargs="+", choices=PROFILES,
                        help=f"default: {' '.join(GPU_PROFILES)} (with --cpu: cpu pytorch)")
    parser.add_argument("--streams", nargs="+", type=int, default=list(STREAM_COUNTS),
                        help="concurrent stream counts to measure (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=60, help="frames of each stream (default: %(default)s)")
    parser.add_argument("--media", default=str(DEFAULT_MEDIA), help="real media folder (default: %(default)s)")
    parser.add_argument("--video", default="father_daughter_toys.mp4", help="video in MEDIA/videos for the streams")
    parser.add_argument("--precision-mode", choices=("default", "optimized"), default="default")
    parser.add_argument("--min-agreement", type=float, default=0.9,
                        help="least fraction of frames whose STATUS equals the CPU oracle's (default: %(default)s)")
    parser.add_argument("--torch-device", choices=("cuda", "cpu"),
                        help="the pytorch profile's device (default: cuda; cpu in --cpu mode). '--cpu --torch-device "
                             "cuda' shows, on a machine without CUDA, the instances refusing to serve on the CPU")
    parser.add_argument("--models-dir", default=str(Path(STATE) / "models" if STATE else ROOT / "models"))
    parser.add_argument("--models", choices=tuple(MODEL_SETS), default="offline",
                        help="the model set to serve (default: %(default)s, every network real)")
    parser.add_argument("--standin-size", choices=("tiny", "full"), default="tiny",
                        help="stand-ins where the model set uses them (default: %(default)s)")
    parser.add_argument("--family", action="append", default=[], metavar="ROLE=NAME",
                        help="replace one role's family in the model set (build_engines repository --family)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = args.profiles or (["cpu", "pytorch"] if args.cpu else list(GPU_PROFILES))
    if any(n < 1 for n in args.streams):
        print("gpu_check: --streams takes counts of at least 1", file=sys.stderr)
        return 2
    try:
        chosen = model_set(args.models, ",".join(args.family))
        stream = read_stream(Path(args.media) / "videos" / args.video, args.frames)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        print(f"gpu_check: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    machine = Machine.detect()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    cpu_repo = WORK_DIR / "repo_cpu_oracle"  # ONNX Runtime runs it: plan-only families as their ONNX Runtime flavours
    write_repository(cpu_repo, Path(args.models_dir), chosen.onnx_runtime_set(), args.standin_size)
    oracle = run_oracle(cpu_repo, stream)
    print(f"gpu_check: {len(stream.frames)} frames of {args.video} per stream, model set {chosen.name}; machine: "
          f"GPU {'yes' if machine.gpu else 'no'}, NGC tritonserver {'yes' if machine.system_triton else 'no'}, "
          f"TensorRT {'yes' if machine.tensorrt else 'no'}", flush=True)
    results = []
    for name in names:
        result = run_profile(name, args, machine, chosen, stream, oracle, cpu_repo)
        print(result.text(), flush=True)
        results.append(result)
    return exit_code(results)


if __name__ == "__main__":
    sys.exit(main())
