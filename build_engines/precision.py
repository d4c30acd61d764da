"""Precision modes: which numeric precision each network's TensorRT plan uses (upstream §4.1).

``default``: SAM encoder FP32, every other network FP16. ``optimized``: as default, but gaze and the
object detector INT8, calibrated from real frames (upstream shipped opaque caches; here they are made
from frames the user chooses). INT8 builds do not also enable FP16, as upstream's ``trtexec --int8``.
"""

from __future__ import annotations

from gazesam.networks import all_networks

PRECISION_MODES = ("default", "optimized")
PRECISIONS = ("fp32", "fp16", "int8")

_DEFAULT = {network.key: "fp16" for network in all_networks()} | {"sam_encoder": "fp32"}
_OPTIMIZED = _DEFAULT | {"gaze": "int8", "detector": "int8"}


def network_precisions(mode: str) -> dict[str, str]:
    """Network key -> precision for precision mode ``mode``; ValueError naming the modes otherwise."""
    table = {"default": _DEFAULT, "optimized": _OPTIMIZED}
    if mode not in table:
        raise ValueError(f"unknown precision mode {mode!r}; choose one of {', '.join(PRECISION_MODES)}")
    return dict(table[mode])


def needs_calibration(mode: str) -> list[str]:
    """Networks that mode ``mode`` builds in INT8 (each needs calibration frames)."""
    return [key for key, precision in network_precisions(mode).items() if precision == "int8"]
