"""The first frames of a real video and their times on the video's own clock, for the benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clients.video_source import open_video, read_frames


def first_frames(video: Path, count: int) -> tuple[list[np.ndarray], list[float]]:
    """Up to ``count`` BGR frames from the start of ``video`` and their times (index / fps) in seconds.

    Raises :class:`~clients.video_source.VideoSourceError` when the video cannot be opened or yields no frame.
    """
    capture, info = open_video(video)
    capture.release()
    frames = read_frames(video, count=count)
    return frames, [i / info.fps for i in range(len(frames))]
