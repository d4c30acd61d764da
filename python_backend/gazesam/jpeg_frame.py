"""JPEG-encoded frames (ensemble ``gazesam_jpeg``): the size is read from the header and checked against
the documented limits before a single pixel is decoded, so a small file cannot claim a huge image."""

from __future__ import annotations

import cv2
import numpy as np

from .contracts import MAX_JPEG_BYTES
from .frame_check import FrameError, check_frame_size

_SOI = b"\xff\xd8"
# Start-of-frame markers carry the image size; C4 (DHT), C8 (JPG) and CC (DAC) are not SOF markers.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD8)) | {0x01}  # RSTn and TEM have no length field
_SOS = 0xDA


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(height, width) from the JPEG header; :class:`FrameError` when ``data`` is not a readable JPEG."""
    if not data.startswith(_SOI):
        raise FrameError("JPEG_FRAME is not a JPEG (it must start with the SOI marker FF D8)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise FrameError(f"JPEG_FRAME is corrupt: no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        if marker == _SOS:
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF_MARKERS and length >= 7 and pos + 9 <= len(data):
            return int.from_bytes(data[pos + 5 : pos + 7], "big"), int.from_bytes(data[pos + 7 : pos + 9], "big")
        pos += 2 + length
    raise FrameError("JPEG_FRAME is corrupt or truncated: no frame header (SOF) before the image data")


def decode_jpeg_frame(encoded: np.ndarray) -> np.ndarray:
    """uint8 (N,) JPEG bytes -> H×W×3 uint8 BGR frame, checked like a raw ``FRAME``.

    Raises :class:`FrameError` (with the reason) for non-JPEG, corrupt, truncated or oversized input.
    """
    if encoded.dtype != np.uint8 or encoded.ndim != 1:
        raise FrameError(f"JPEG_FRAME must be uint8 [N] (the file's bytes); got {encoded.dtype} {list(encoded.shape)}")
    if encoded.size > MAX_JPEG_BYTES:
        raise FrameError(f"JPEG_FRAME has {encoded.size} bytes; at most {MAX_JPEG_BYTES} are accepted")
    height, width = jpeg_size(encoded.tobytes())
    check_frame_size(height, width)
    frame = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    if frame is None or frame.shape[:2] != (height, width):
        raise FrameError("JPEG_FRAME could not be decoded (corrupt or truncated image data)")
    return frame
