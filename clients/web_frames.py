"""What a browser tab may send the web gateway, checked before anything reaches the server.

A frame message is one binary WebSocket message: :data:`HEADER_BYTES` bytes of header, then a JPEG
file's bytes (the camera frame as the page encoded it)::

    float64 little-endian   capture time, milliseconds on the page's clock (performance.now())
    bytes                   the JPEG file

Per connection, :class:`FrameLimits` caps a frame's bytes and sides and the frame rate; a frame over
a limit is refused with the reason (:class:`FrameRefused`), and one that comes too soon after the last
is dropped (:class:`RateGate`), never queued. :class:`StreamClock` turns the page's capture times into
the stream's ``FRAME_TIME`` (seconds since the stream's first frame).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from gazesam.contracts import MAX_FRAME_SIDE, MAX_JPEG_BYTES, MIN_FRAME_SIDE
from gazesam.frame_check import FrameError
from gazesam.jpeg_frame import jpeg_size

_HEADER = struct.Struct("<d")
HEADER_BYTES = _HEADER.size


class FrameRefused(ValueError):
    """A frame message the gateway does not forward; the message says why, for the page to show."""


@dataclass(frozen=True)
class FrameLimits:
    """Per-connection caps: JPEG bytes, the longer side in pixels, frames per second."""

    max_bytes: int = 2 * 1024 * 1024
    max_side: int = 1920
    max_fps: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.max_bytes <= MAX_JPEG_BYTES:
            raise ValueError(f"max frame bytes must be 1..{MAX_JPEG_BYTES} (the server's limit), not {self.max_bytes}")
        if not MIN_FRAME_SIDE <= self.max_side <= MAX_FRAME_SIDE:
            raise ValueError(f"max frame side must be {MIN_FRAME_SIDE}..{MAX_FRAME_SIDE} px, not {self.max_side}")
        if not (math.isfinite(self.max_fps) and self.max_fps > 0):
            raise ValueError(f"max fps must be a positive number, not {self.max_fps}")

    @property
    def message_bytes(self) -> int:
        """The largest WebSocket message a connection accepts (header + the largest frame)."""
        return HEADER_BYTES + self.max_bytes

    def to_json(self) -> dict:
        return {"max_bytes": self.max_bytes, "max_side": self.max_side, "max_fps": self.max_fps}


@dataclass(frozen=True)
class FrameMessage:
    """One checked frame: the page's capture time (ms) and the JPEG's bytes and size."""

    capture_ms: float
    jpeg: bytes
    height: int
    width: int


def frame_message(data: bytes, limits: FrameLimits) -> FrameMessage:
    """The frame in WebSocket message ``data``; :class:`FrameRefused` with the reason when it breaks a rule."""
    if len(data) <= HEADER_BYTES:
        raise FrameRefused(f"a frame message is an {HEADER_BYTES}-byte capture time and a JPEG; got {len(data)} bytes")
    (capture_ms,) = _HEADER.unpack_from(data)
    if not math.isfinite(capture_ms):
        raise FrameRefused(f"the frame's capture time is {capture_ms}, not a finite number of milliseconds")
    jpeg = bytes(data[HEADER_BYTES:])
    if len(jpeg) > limits.max_bytes:
        raise FrameRefused(f"the frame has {len(jpeg)} bytes; this gateway takes at most {limits.max_bytes}")
    try:
        height, width = jpeg_size(jpeg)
    except FrameError as exc:
        raise FrameRefused(str(exc)) from None
    if max(height, width) > limits.max_side or min(height, width) < MIN_FRAME_SIDE:
        raise FrameRefused(f"the frame is {width}x{height}; this gateway takes {MIN_FRAME_SIDE} to "
                           f"{limits.max_side} px a side")
    return FrameMessage(capture_ms, jpeg, height, width)


def encode_frame_message(capture_ms: float, jpeg: bytes) -> bytes:
    """The message the page sends for a frame (what :func:`frame_message` reads)."""
    return _HEADER.pack(capture_ms) + jpeg


class RateGate:
    """Admits at most ``max_fps`` frames a second: a frame sooner than 1/max_fps after the last admitted is dropped."""

    def __init__(self, max_fps: float):
        self.min_interval_s = 1.0 / max_fps
        self._last_s: float | None = None

    def admit(self, now_s: float) -> bool:
        """True (and counted) when a frame arriving at monotonic time ``now_s`` may go to the server."""
        if self._last_s is not None and now_s - self._last_s < self.min_interval_s:
            return False
        self._last_s = now_s
        return True

    def wait_s(self, now_s: float) -> float:
        """How long until a frame would be admitted."""
        return 0.0 if self._last_s is None else max(0.0, self._last_s + self.min_interval_s - now_s)


class StreamClock:
    """A stream's FRAME_TIME from the page's capture times: seconds since the stream's first frame."""

    def __init__(self) -> None:
        self._first_ms: float | None = None

    def frame_time_s(self, capture_ms: float) -> float:
        if self._first_ms is None:
            self._first_ms = capture_ms
        return (capture_ms - self._first_ms) / 1000.0
