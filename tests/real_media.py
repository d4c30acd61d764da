"""Frames of the project's real videos (``../shared/media/videos``) for the tests."""

from __future__ import annotations

import cv2
import numpy as np

from conftest import shared_path


def video_frame(name: str, index: int) -> np.ndarray:
    """Frame ``index`` of real video ``name`` (BGR uint8)."""
    capture = cv2.VideoCapture(str(shared_path("media", "videos", name)))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    assert ok, f"cannot read frame {index} of {name}"
    return frame


def downscaled_clip(name: str, frames: int, width: int) -> tuple[list[np.ndarray], float]:
    """The first ``frames`` frames of real video ``name`` scaled to ``width`` px wide, and its frame rate."""
    capture = cv2.VideoCapture(str(shared_path("media", "videos", name)))
    fps = capture.get(cv2.CAP_PROP_FPS)
    images = []
    for _ in range(frames):
        ok, frame = capture.read()
        assert ok, f"{name} has fewer than {frames} frames"
        height = round(frame.shape[0] * width / frame.shape[1])
        images.append(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
    capture.release()
    return images, fps
