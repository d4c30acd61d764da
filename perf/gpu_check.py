"""The GPU checks in one run, on a machine with an NVIDIA GPU, inside the NGC server image (docker/README.md).

    python perf/gpu_check.py [--media ../shared/media] [--profiles onnx tensorrt pytorch] [--frames 60]

1. writes the CPU-profile repository (the oracle's networks and the plans' ONNX sources);
2. builds the TensorRT plans this machine can build (``build_engines engines``, default precision mode);
3. for each profile: writes its repository, serves it with the image's ``tritonserver`` (native backends),
   sends a real video's frames through the ensemble as one stream, compares every answer with the CPU
   in-process pipeline (ONNX Runtime FP32) and measures frames/s with 1 and with ``--streams`` streams.

Without a GPU, or outside the NGC image (no /opt/tritonserver with native backends), it says so and exits 2.
Numbers come from the machine it runs on; nothing is recorded automatically.
"""

from __future__ import annotations

import argparse
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
from build_engines.engine_manifest import read_manifest
from build_engines.profiles import make_profile
from build_engines.repository import write_repository
from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam.contracts import ENSEMBLE_OUTPUTS
from gazesam.networks import MODEL_SETS, family, model_set, parse_families
from gazesam.pipeline import InProcessPipeline
from perf.video_clip import first_frames
from gazesam_triton.server_process import free_port

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_TRITON = Path("/opt/tritonserver")
NATIVE_BACKENDS = ("onnxruntime", "tensorrt", "python")
DEFAULT_MEDIA = ROOT.parent / "shared" / "media"
WORK_DIR = ROOT / "perf" / "out" / "gpu_check"


class CheckUnavailable(RuntimeError):
    """This machine cannot run the GPU checks; the message says why."""


def require_gpu_machine() -> None:
    """A GPU (nvidia-smi lists one) and the NGC tritonserver with its native backends; else CheckUnavailable."""
    smi = shutil.which("nvidia-smi")
    listed = subprocess.run([smi, "-L"], capture_output=True, text=True).stdout if smi else ""
    if "GPU" not in listed:
        raise CheckUnavailable("no NVIDIA GPU here (nvidia-smi lists none): run this on a GPU machine")
    missing = [b for b in NATIVE_BACKENDS if not (SYSTEM_TRITON / "backends" / b).is_dir()]
    if not (SYSTEM_TRITON / "bin" / "tritonserver").is_file() or missing:
        raise CheckUnavailable(
            f"no NGC tritonserver with native backends at {SYSTEM_TRITON} (missing: {missing or 'bin'}); "
            "run inside the image of docker/Dockerfile (docker/README.md)"
        )


class SystemTriton:
    """The image's ``tritonserver`` serving ``repository`` on free 127.0.0.1 ports, for a ``with`` block."""

    def __init__(self, repository: Path, log_path: Path, ready_timeout_s: float = 600.0):
        self.repository, self.log_path, self.ready_timeout_s = repository, log_path, ready_timeout_s
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()

    def __enter__(self) -> "SystemTriton":
        command = [
            str(SYSTEM_TRITON / "bin" / "tritonserver"), f"--model-repository={self.repository}",
            "--model-control-mode=none", "--http-address=127.0.0.1", "--grpc-address=127.0.0.1",
            "--metrics-address=127.0.0.1", f"--http-port={self.http_port}", f"--grpc-port={self.grpc_port}",
            f"--metrics-port={self.metrics_port}", "--exit-on-error=true",
        ]
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tritonserver exited with {self.process.returncode}; log: {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/v2/health/ready", timeout=2):
                    return self
            except OSError:
                time.sleep(1.0)
        self.__exit__(None, None, None)
        raise TimeoutError(f"tritonserver not ready after {self.ready_timeout_s:.0f} s; log: {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@dataclass(frozen=True)
class StreamFrames:
    frames: list[np.ndarray]
    times_s: list[float]


def read_stream(video: Path, count: int) -> StreamFrames:
    """The first ``count`` frames of ``video`` in order, with their times on the video's clock."""
    try:
        return StreamFrames(*first_frames(video, count))
    except FileNotFoundError as exc:
        raise CheckUnavailable(str(exc)) from None


def run_oracle(repository: Path, stream: StreamFrames) -> list[dict[str, np.ndarray]]:
    pipeline = InProcessPipeline(repository)
    last = len(stream.frames) - 1
    return [pipeline(f, t, stream_id=1, start=i == 0, end=i == last)
            for i, (f, t) in enumerate(zip(stream.frames, stream.times_s))]


def send_stream(url: str, stream: StreamFrames) -> list[dict[str, np.ndarray]]:
    """Send the frames as one stream, one at a time; the ensemble's outputs per frame."""
    client = GazeSamClient(url, "grpc", timeout_s=300)
    stream_id, last = new_stream_id(), len(stream.frames) - 1
    try:
        return [client.infer(frame, t, stream_id, start=i == 0, end=i == last).to_outputs()
                for i, (frame, t) in enumerate(zip(stream.frames, stream.times_s))]
    finally:
        client.close()


def streams_fps(url: str, stream: StreamFrames, streams: int) -> float:
    """Frames per second over ``streams`` concurrent streams, each sending ``stream``'s frames."""
    errors: list[BaseException] = []

    def one_stream() -> None:
        try:
            send_stream(url, stream)
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
    return streams * len(stream.frames) / (time.perf_counter() - start)


def check_profile(name: str, repository: Path, stream: StreamFrames, oracle: list, streams: int) -> str:
    with SystemTriton(repository, WORK_DIR / f"tritonserver_{name}.log") as server:
        url = f"127.0.0.1:{server.grpc_port}"
        send_stream(url, StreamFrames(stream.frames[:2], stream.times_s[:2]))  # warm-up (lazy inits, TRT EP builds)
        start = time.perf_counter()
        served = send_stream(url, stream)
        one_stream = len(stream.frames) / (time.perf_counter() - start)
        many = streams_fps(url, stream, streams)
    gaze = max(float(np.abs(s["GAZE_YAW_PITCH"] - o["GAZE_YAW_PITCH"]).max()) for s, o in zip(served, oracle))
    return (f"{name:9} {one_stream:7.1f} fps (1 stream)  {many:7.1f} fps ({streams} streams)  "
            f"{format_pipeline_row(pipeline_agreement(oracle, served))}; max |gaze diff| {gaze:.4f} rad")


def all_plans_built(engines: Path) -> bool:
    try:
        manifest = read_manifest(engines)
    except FileNotFoundError:
        return False
    expected = sum(len(family(role, name).networks) for role, name in parse_families(manifest.families).items())
    return len(manifest.plans) == expected


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python perf/gpu_check.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--media", default=str(DEFAULT_MEDIA), help="real media folder (default: %(default)s)")
    parser.add_argument("--video", default="father_daughter_toys.mp4", help="video in MEDIA/videos for the stream")
    parser.add_argument("--frames", type=int, default=60, help="frames of the stream (default: %(default)s)")
    parser.add_argument("--streams", type=int, default=4, help="concurrent streams for throughput (default: %(default)s)")
    parser.add_argument("--profiles", nargs="+", default=["onnx", "tensorrt", "pytorch"],
                        choices=["cpu", "onnx", "tensorrt", "pytorch"])
    parser.add_argument("--precision-mode", choices=("default", "optimized"), default="default")
    parser.add_argument("--models-dir", default=str(ROOT / "models"))
    parser.add_argument("--standin-size", choices=("tiny", "full"), default="full",
                        help="stand-ins where no real file exists; full = upstream-sized compute (default: %(default)s)")
    parser.add_argument("--models", choices=tuple(MODEL_SETS), default="standin",
                        help="the model set to serve (build_engines repository --models; default: %(default)s, "
                             "upstream interfaces with stand-ins where no real file exists)")
    parser.add_argument("--family", action="append", default=[], metavar="ROLE=NAME",
                        help="replace one role's family in the model set (build_engines repository --family)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        require_gpu_machine()
        stream = read_stream(Path(args.media) / "videos" / args.video, args.frames)
    except CheckUnavailable as exc:
        print(f"gpu_check: {exc}", file=sys.stderr)
        return 2
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    try:
        chosen = model_set(args.models, ",".join(args.family))
    except (KeyError, ValueError) as exc:
        print(f"gpu_check: {exc.args[0]}", file=sys.stderr)
        return 2
    models, size = Path(args.models_dir), args.standin_size
    cpu_repo, engines = WORK_DIR / "repo_cpu", WORK_DIR / "engines"
    write_repository(cpu_repo, models, chosen, size)
    oracle = run_oracle(cpu_repo, stream)
    rows = []
    if "tensorrt" in args.profiles:
        build_engines_main(["--models-dir", str(models), "engines", "--precision-mode", args.precision_mode,
                            "--calibration-frames", args.media, "--out", str(engines), "--repository", str(cpu_repo)])
    for name in args.profiles:
        if name == "tensorrt" and not all_plans_built(engines):
            rows.append(f"{name:9} skipped: not every plan was built (see {engines})")
            continue
        repository = WORK_DIR / f"repo_{name}"
        write_repository(repository, models, chosen, size, make_profile(name, engines))
        rows.append(check_profile(name, repository, stream, oracle, args.streams))
    print(f"\n{len(stream.frames)} frames of {args.video}; oracle: CPU in-process pipeline ({len(ENSEMBLE_OUTPUTS)} outputs)")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
