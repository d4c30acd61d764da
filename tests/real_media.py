"""Frames of the project's real videos (``../shared/media/videos``) for the tests."""

from __future__ import annotations

import cv2
import numpy as np

from clients.video_source import open_video, read_frames
from conftest import shared_path


def video_frame(name: str, index: int) -> np.ndarray:
    """Frame ``index`` of real video ``name`` (BGR uint8)."""
    return read_frames(shared_path("media", "videos", name), indices=[index])[0]


def downscaled_clip(name: str, frames: int, width: int) -> tuple[list[np.ndarray], float]:
    """The first ``frames`` frames of real video ``name`` scaled to ``width`` px wide, and its frame rate."""
    path = shared_path("media", "videos", name)
    capture, info = open_video(path)
    capture.release()
    images = []
    for frame in read_frames(path, indices=range(frames)):
        height = round(frame.shape[0] * width / frame.shape[1])
        images.append(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
    return images, info.fps
