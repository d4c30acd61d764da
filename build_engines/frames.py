"""Real frames for calibration and accuracy checks: every image in a folder, or frames spread over a video."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from clients.video_source import VideoSourceError, read_frames

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


class FramesError(ValueError):
    """The frames path is missing, of an unknown kind, or yields no frame; the message says which."""


def spread_indices(total: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over ``0..total-1`` (all of them when ``count >= total``)."""
    if total <= 0 or count <= 0:
        return []
    if count >= total:
        return list(range(total))
    return [int(i * total / count) for i in range(count)]


def video_frames(path: Path, limit: int) -> list[np.ndarray]:
    """Up to ``limit`` BGR frames spread over the whole video at ``path`` (decoded in order: exact frames)."""
    try:
        frames = read_frames(path)
    except VideoSourceError as exc:
        raise FramesError(str(exc)) from None
    return [frames[i] for i in spread_indices(len(frames), limit)]


def folder_frames(folder: Path, limit: int) -> list[np.ndarray]:
    """Up to ``limit`` BGR frames from the images and videos in ``folder`` and below, in path order, spread evenly."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
    frames = [f for f in (cv2.imread(str(p)) for p in images) if f is not None]
    per_video = max(1, math.ceil((limit - len(frames)) / len(videos))) if videos else 0
    for video in videos:
        frames += video_frames(video, per_video)
    return [frames[i] for i in spread_indices(len(frames), limit)]


def load_frames(path: str | Path, limit: int = 64) -> list[np.ndarray]:
    """BGR uint8 (H, W, 3) frames from a folder (images and videos) or one video file; at most ``limit``.

    Raises :class:`FramesError` when ``path`` does not exist, is not a folder or a video, or gives no frame.
    """
    path = Path(path)
    if limit < 1:
        raise FramesError(f"the frame limit must be at least 1, got {limit}")
    if path.is_dir():
        frames = folder_frames(path, limit)
    elif path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        frames = video_frames(path, limit)
    elif path.exists():
        raise FramesError(f"{path} is neither a folder nor a video ({', '.join(VIDEO_SUFFIXES)})")
    else:
        raise FramesError(f"no such folder or video: {path}")
    if not frames:
        raise FramesError(f"{path} holds no readable image or video frame")
    return frames
