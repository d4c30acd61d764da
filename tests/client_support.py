"""Helpers for the client tests: short clips cut from the project's real videos, decoding them, and
checking that a real server holds no stream a client left open."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from tritonclient.utils import InferenceServerException

from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam.admission import START_REQUIRED_TEXT
from clients.video_source import open_video, read_frames

from conftest import STREAMS, shared_path


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


def fill_every_slot(client: GazeSamClient, frame: np.ndarray) -> list[int]:
    """Start STREAMS.max_streams streams (one frame each, no end): the server is full; their IDs."""
    streams = [new_stream_id() for _ in range(STREAMS.max_streams)]
    for stream in streams:
        client.infer(frame, 0.0, stream, start=True)
    return streams


def end_streams(client: GazeSamClient, frame: np.ndarray, streams: list[int]) -> None:
    """End each of ``streams``. One the server already dropped (silent past its lease, which a slow test can
    outlast) counts as ended; any other refusal is raised."""
    for stream in streams:
        try:
            client.infer(frame, 0.04, stream, end=True)
        except InferenceServerException as error:
            if START_REQUIRED_TEXT not in str(error):
                raise


def assert_every_stream_slot_is_free(grpc_url: str, transport: str = "raw") -> None:
    """All STREAMS.max_streams streams can start: no stream a client ran still holds a slot on the server.

    A stream left open (no end flag) would hold its slot until the server's idle timeout. Each ensemble
    has its own slots: ``transport`` ``jpeg`` checks ``gazesam_jpeg``'s, the others ``gazesam``'s.
    """
    client = GazeSamClient(grpc_url, "grpc", timeout_s=30, transport=transport)
    frame = np.full((64, 64, 3), 90, np.uint8)
    started = []
    try:
        for _ in range(STREAMS.max_streams):
            stream = new_stream_id()
            client.infer(frame, 0.0, stream, start=True)
            started.append(stream)
    finally:
        for stream in started:
            client.infer(frame, 0.04, stream, end=True)
        client.close()


def write_raw_avi(path: Path, frames: list[np.ndarray], fps: int = 25) -> None:
    """An uncompressed (BI_RGB, 24-bit) AVI of ``frames``: any size, odd sides included, which OpenCV's own
    writers cannot make (they crop to even sides). The layout is the AVI 1.0 RIFF format."""
    height, width = frames[0].shape[:2]
    stride = (width * 3 + 3) // 4 * 4
    size = stride * height

    def chunk(fourcc: bytes, data: bytes) -> bytes:
        return fourcc + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)

    def riff_list(kind: bytes, fourcc: bytes, data: bytes) -> bytes:
        return kind + struct.pack("<I", len(data) + 4) + fourcc + data

    avih = struct.pack("<14I", 1_000_000 // fps, size * fps, 0, 0x10, len(frames), 0, 1, size, width, height, 0, 0, 0, 0)
    strh = b"vids" + b"DIB " + struct.pack("<IHH6IiI4h", 0, 0, 0, 0, 1, fps, 0, len(frames), size, -1, 0,
                                           0, 0, width, height)
    strf = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, size, 0, 0, 0, 0)
    header = riff_list(b"LIST", b"hdrl", chunk(b"avih", avih) + riff_list(b"LIST", b"strl",
                                                                         chunk(b"strh", strh) + chunk(b"strf", strf)))
    rows = [np.ascontiguousarray(frame[::-1]) for frame in frames]  # bottom-up, each row padded to 4 bytes
    data = [r.reshape(height, -1) for r in rows]
    padded = [np.hstack([d, np.zeros((height, stride - width * 3), np.uint8)]).tobytes() for d in data]
    movi, index, offset = b"", b"", 4
    for payload in padded:
        movi += chunk(b"00db", payload)
        index += b"00db" + struct.pack("<III", 0x10, offset, len(payload))
        offset += 8 + len(payload) + len(payload) % 2
    body = header + riff_list(b"LIST", b"movi", movi) + chunk(b"idx1", index)
    path.write_bytes(riff_list(b"RIFF", b"AVI ", body))
