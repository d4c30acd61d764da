"""Validation of the ensemble's inputs (``FRAME``, ``FRAME_TIME``): a clear error, never a crash."""

from __future__ import annotations

import numpy as np

from .contracts import MAX_FRAME_SIDE, MIN_FRAME_SIDE


class FrameError(ValueError):
    """The frame cannot be processed; the message says why and what is accepted."""


_ACCEPTED = f"FRAME must be uint8 [H, W, 3] BGR with {MIN_FRAME_SIDE} <= H, W <= {MAX_FRAME_SIDE}"


def check_frame(frame: np.ndarray) -> None:
    """Raise :class:`FrameError` unless ``frame`` is H×W×3 uint8 with sides in the documented range."""
    if frame.dtype != np.uint8:
        raise FrameError(f"{_ACCEPTED}; got dtype {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise FrameError(f"{_ACCEPTED}; got shape {list(frame.shape)}")
    check_frame_size(*frame.shape[:2])


def check_frame_size(height: int, width: int) -> None:
    """Raise :class:`FrameError` unless both sides are in the documented range."""
    if not (MIN_FRAME_SIDE <= height <= MAX_FRAME_SIDE and MIN_FRAME_SIDE <= width <= MAX_FRAME_SIDE):
        raise FrameError(f"{_ACCEPTED}; got {height}x{width}")


def check_frame_time(frame_time: np.ndarray) -> None:
    """Raise :class:`FrameError` unless ``frame_time`` is one finite float64 (seconds on the stream's clock)."""
    if frame_time.dtype != np.float64 or frame_time.shape != (1,) or not np.isfinite(frame_time[0]):
        raise FrameError(
            "FRAME_TIME must be one finite float64: the frame's time in seconds on its stream's own clock "
            f"(video position or capture time); got {frame_time.dtype} {list(frame_time.shape)} {frame_time[:4]}"
        )


def frame_hw_of(frame_hw: np.ndarray) -> tuple[int, int]:
    """FRAME_HW as (height, width), checked: a step sizes masks from it, so a direct call cannot exhaust memory."""
    height, width = int(frame_hw[0]), int(frame_hw[1])
    check_frame_size(height, width)
    return height, width
