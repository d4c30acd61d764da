"""The one way this project opens and reads a video file: clients, benchmarks, calibration and tests.

Frames are decoded in order (never by seeking), so frame ``i`` is exactly the container's ``i``-th frame;
the frame rate is the container's, or a stated default when it reports none (OpenCV gives 0, -1 or NaN).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DEFAULT_FPS = 25.0
"""The frame rate assumed (and written) when a container does not state one."""


class VideoSourceError(ValueError):
    """The video is missing, a folder, undecodable, or ends before the frames asked for; the message says which."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video."""

    fps: float  # the container's rate, or DEFAULT_FPS when it states none
    size: tuple[int, int]  # width, height
    frame_count: int  # as the container states it (0 when unknown)


def capture_fps(capture: cv2.VideoCapture, default: float = DEFAULT_FPS) -> float:
    """The source's frame rate, or ``default`` when it does not say (OpenCV reports 0, -1 or NaN)."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if math.isfinite(fps) and fps > 0 else default


def open_video(path: str | Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """An opened capture of the video file at ``path`` and its :class:`VideoInfo`; the caller releases it."""
    path = Path(path)
    if path.is_dir():
        raise VideoSourceError(f"{path} is a folder, not a video file")
    if not path.is_file():
        raise VideoSourceError(f"no such video: {path}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoSourceError(f"cannot open video {path} (not a video OpenCV can decode)")
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    return capture, VideoInfo(capture_fps(capture), size, max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0))


def read_frames(path: str | Path, indices: Iterable[int] | None = None, count: int | None = None) -> list[np.ndarray]:
    """BGR uint8 (H, W, 3) frames of the video at ``path``, decoded in order.

    ``indices``: exactly these frames (any order; returned in that order), VideoSourceError when the video
    ends first. Otherwise the first ``count`` frames (all of them when None), as many as the video has.
    """
    wanted = None if indices is None else list(indices)
    if wanted is not None and any(i < 0 for i in wanted):
        raise VideoSourceError(f"frame indices must be >= 0, got {min(wanted)}")
    capture, _ = open_video(path)
    last = max(wanted, default=-1) if wanted is not None else (None if count is None else count - 1)
    found: dict[int, np.ndarray] = {}
    keep = set(wanted) if wanted is not None else None
    index = 0
    try:
        while last is None or index <= last:
            ok, frame = capture.read()
            if not ok:
                break
            if keep is None or index in keep:
                found[index] = frame
            index += 1
    finally:
        capture.release()
    if wanted is None:
        if not found:
            raise VideoSourceError(f"{path} holds no decodable frame")
        return list(found.values())
    missing = [i for i in wanted if i not in found]
    if missing:
        raise VideoSourceError(f"{path} ends before frame {min(missing)} (it has {index} frames)")
    return [found[i] for i in wanted]
