"""JPEG frames: the size comes from the header and is checked before decoding; bad data gets a clear error."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gazesam.contracts import MAX_FRAME_SIDE, MAX_JPEG_BYTES
from gazesam.frame_check import FrameError
from gazesam.jpeg_frame import decode_jpeg_frame, jpeg_size

from conftest import shared_path


def encode(frame: np.ndarray, quality: int = 90) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.reshape(-1)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return cv2.imread(str(shared_path("media", "images", "office_team_laptop.jpg")))


@pytest.mark.parametrize("hw", [(853, 1280), (32, 3840), (481, 33)])
def test_size_is_read_from_the_header(photo, hw):
    frame = cv2.resize(photo, (hw[1], hw[0]))
    assert jpeg_size(encode(frame).tobytes()) == hw


def test_real_jpeg_file_decodes_like_opencv(photo):
    data = np.fromfile(str(shared_path("media", "images", "office_team_laptop.jpg")), np.uint8)
    np.testing.assert_array_equal(decode_jpeg_frame(data), photo)


def test_a_header_claiming_a_huge_image_is_refused_before_decoding(photo):
    data = bytearray(encode(photo[:40, :40]).tobytes())
    sof = next(i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2))
    data[sof + 5 : sof + 9] = (20000).to_bytes(2, "big") + (20000).to_bytes(2, "big")
    with pytest.raises(FrameError, match="got 20000x20000"):
        decode_jpeg_frame(np.frombuffer(bytes(data), np.uint8))


@pytest.mark.parametrize(
    "data, message",
    [
        (np.frombuffer(b"\x89PNG\r\n\x1a\n....", np.uint8), "not a JPEG"),
        (np.frombuffer(b"\xff\xd8\xff\xe0\x00", np.uint8), "no frame header"),
        (np.zeros(0, np.uint8), "not a JPEG"),
        (np.zeros((4, 4), np.uint8), "must be uint8 \\[N\\]"),
        (np.zeros(MAX_JPEG_BYTES + 1, np.uint8), "at most"),
    ],
)
def test_bad_data_is_refused_with_the_reason(data, message):
    with pytest.raises(FrameError, match=message):
        decode_jpeg_frame(data)


def test_truncated_image_data_is_refused(photo):
    data = encode(photo)
    with pytest.raises(FrameError, match="could not be decoded"):
        decode_jpeg_frame(data[: len(data) // 50].copy())


def test_frame_outside_the_documented_sides_is_refused(photo):
    with pytest.raises(FrameError, match=f"<= {MAX_FRAME_SIDE}; got 16x16"):
        decode_jpeg_frame(encode(photo[:16, :16]))
