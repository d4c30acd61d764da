"""The TensorRT release and GPU model a plan is tied to, and the check that a plan matches this machine.

A serialized TensorRT engine loads only in the TensorRT release that built it and, without hardware
compatibility mode, on the GPU model (compute capability) it was built on. ``engines`` records both in
``engines.json``; the ``tensorrt`` profile refuses plans of another release or GPU before it writes
a repository, instead of Triton failing to load them. Implicit INT8 calibration and weakly typed builds
(what the ``engines`` command uses) are removed in TensorRT 11, so only TensorRT 10 is accepted.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_TENSORRT_MAJOR = 10
TENSORRT_LIBRARY = f"libnvinfer.so.{SUPPORTED_TENSORRT_MAJOR}"


class PlanHostMismatch(FileNotFoundError):
    """Plans of another TensorRT release or GPU model than this machine's; the message says what differs."""


class TensorRtVersionError(RuntimeError):
    """TensorRT here is unusable for building plans (wrong major, bindings and library of different releases)."""


@dataclass(frozen=True)
class PlanHost:
    """Where plans were built, or would run: TensorRT release (major.minor.patch) and the GPU."""

    tensorrt: str
    gpu: str
    compute_capability: str


def tensorrt_release(version: str) -> str:
    """``"10.11.0.33"`` -> ``"10.11.0"``: the part of a TensorRT version that must match between build and serve."""
    return ".".join(version.split(".")[:3])


def library_release(encoded: int) -> str:
    """``getInferLibVersion()``'s integer (major*10000 + minor*100 + patch, e.g. 101100) as ``"10.11.0"``."""
    return f"{encoded // 10000}.{encoded // 100 % 100}.{encoded % 100}"


def check_tensorrt_version(bindings: str, library: str | None) -> None:
    """Refuse a TensorRT other than :data:`SUPPORTED_TENSORRT_MAJOR`, or Python bindings of another release
    than the ``libnvinfer`` they run on (the server's library: a plan must be built by the TensorRT that serves it)."""
    major = bindings.split(".")[0]
    if major != str(SUPPORTED_TENSORRT_MAJOR):
        raise TensorRtVersionError(
            f"TensorRT {bindings} is not TensorRT {SUPPORTED_TENSORRT_MAJOR}: the engines command uses implicit INT8 "
            "calibration and weakly typed FP16 builds, which TensorRT 11 removed; use the image of docker/Dockerfile"
        )
    if library is not None and tensorrt_release(bindings) != library:
        raise TensorRtVersionError(
            f"the tensorrt Python bindings are {bindings} but {TENSORRT_LIBRARY} here is {library}: plans must be "
            "built by the TensorRT that serves them; install the bindings of the image's release "
            "(docker/Dockerfile: TENSORRT_VERSION)"
        )


def tensorrt_library_release() -> str | None:
    """The release of this machine's ``libnvinfer`` (what Triton's tensorrt backend loads), or None without one."""
    try:
        library = ctypes.CDLL(TENSORRT_LIBRARY)
    except OSError:
        return None
    return library_release(int(library.getInferLibVersion()))


def first_gpu() -> tuple[str, str] | None:
    """(name, compute capability) of GPU 0 as ``nvidia-smi`` reports it, or None without a GPU."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    result = subprocess.run([smi, "--query-gpu=name,compute_cap", "--format=csv,noheader"],
                            capture_output=True, text=True, timeout=60)
    rows = [line.split(",") for line in result.stdout.splitlines() if line.count(",") == 1]
    return (rows[0][0].strip(), rows[0][1].strip()) if result.returncode == 0 and rows else None


def probe_plan_host() -> PlanHost | None:
    """This machine's TensorRT library and GPU 0, or None when it lacks either (plans cannot load here)."""
    release, gpu = tensorrt_library_release(), first_gpu()
    return PlanHost(release, *gpu) if release and gpu else None


def check_plan_host(built: PlanHost, here: PlanHost, engines_dir: Path) -> None:
    """PlanHostMismatch naming what differs when plans built on ``built`` cannot load on ``here``."""
    differences = []
    if tensorrt_release(built.tensorrt) != tensorrt_release(here.tensorrt):
        differences.append(f"TensorRT {built.tensorrt} there, {here.tensorrt} here")
    if built.compute_capability != here.compute_capability:
        differences.append(f"{built.gpu} (compute capability {built.compute_capability}) there, "
                           f"{here.gpu} ({here.compute_capability}) here")
    if differences:
        raise PlanHostMismatch(
            f"the plans in {engines_dir} were built for another machine ({'; '.join(differences)}): a TensorRT plan "
            "loads only in the TensorRT release and on the GPU model that built it; rebuild them here with "
            "'python -m build_engines engines'"
        )
