"""Precision modes: which numeric precision each network's TensorRT plan uses (upstream §4.1).

``default``: SAM encoder FP32, every other network FP16. ``optimized``: as default, but gaze and the
object detector INT8, calibrated from real frames (upstream shipped opaque caches; here they are made
from frames the user chooses). INT8 builds do not also enable FP16, as upstream's ``trtexec --int8``.
"""

from __future__ import annotations

from collections.abc import Iterable

from gazesam.networks import Network, all_networks

PRECISION_MODES = ("default", "optimized")
PRECISIONS = ("fp32", "fp16", "int8")


def network_precisions(mode: str, networks: Iterable[Network] | None = None) -> dict[str, str]:
    """Network key -> precision in mode ``mode`` (each network's ``GpuPlan``), over ``networks``
    (default: the registry); ValueError naming the modes otherwise."""
    if mode not in PRECISION_MODES:
        raise ValueError(f"unknown precision mode {mode!r}; choose one of {', '.join(PRECISION_MODES)}")
    return {network.key: network.gpu.precision(mode) for network in (networks or all_networks())}


def needs_calibration(mode: str, networks: Iterable[Network] | None = None) -> list[str]:
    """Networks that mode ``mode`` builds in INT8 (each needs calibration frames)."""
    return [key for key, precision in network_precisions(mode, networks).items() if precision == "int8"]
