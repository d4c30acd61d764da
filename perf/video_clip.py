"""The first frames of a real video and their times on the video's own clock, for the benchmarks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from clients.frame_reader import capture_fps


def first_frames(video: Path, count: int) -> tuple[list[np.ndarray], list[float]]:
    """Up to ``count`` BGR frames from the start of ``video`` and their times (index / fps) in seconds.

    Raises ``FileNotFoundError`` when the video cannot be opened or yields no frame.
    """
    capture = cv2.VideoCapture(str(video))
    fps = capture_fps(capture, default=25.0)
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    if not frames:
        raise FileNotFoundError(f"cannot read frames from {video}")
    return frames, [i / fps for i in range(len(frames))]
