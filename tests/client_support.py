"""Helpers for the client tests: short clips cut from the project's real videos, decoding them, and
checking that a real server holds no stream a client left open."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from clients.gazesam_client import GazeSamClient, new_stream_id
from clients.video_source import open_video, read_frames
from gazesam.contracts import MAX_STREAMS

from conftest import shared_path


def write_clip(path: Path, source: str, frames: int) -> tuple[float, tuple[int, int]]:
    """The first ``frames`` frames of real video ``source``, re-encoded (mp4v); returns its fps and size."""
    video = shared_path("media", "videos", source)
    capture, info = open_video(video)
    capture.release()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), info.fps, info.size)
    for frame in read_frames(video, indices=range(frames)):
        writer.write(frame)
    writer.release()
    return info.fps, info.size


def decoded_frames(path: Path) -> list[np.ndarray]:
    """Every frame of the video at ``path``, decoded."""
    return read_frames(path)


def video_properties(path: Path) -> tuple[int, tuple[int, int], float]:
    """(decoded frame count, (width, height), fps) of the video at ``path``."""
    capture, info = open_video(path)
    capture.release()
    return len(decoded_frames(path)), info.size, info.fps


def assert_every_stream_slot_is_free(grpc_url: str, transport: str = "raw") -> None:
    """All MAX_STREAMS streams can start: no stream a client ran still holds a slot on the server.

    A stream left open (no end flag) would hold its slot until the server's idle timeout. Each ensemble
    has its own slots: ``transport`` ``jpeg`` checks ``gazesam_jpeg``'s, the others ``gazesam``'s.
    """
    client = GazeSamClient(grpc_url, "grpc", timeout_s=30, transport=transport)
    frame = np.full((64, 64, 3), 90, np.uint8)
    started = []
    try:
        for _ in range(MAX_STREAMS):
            stream = new_stream_id()
            client.infer(frame, 0.0, stream, start=True)
            started.append(stream)
    finally:
        for stream in started:
            client.infer(frame, 0.04, stream, end=True)
        client.close()
