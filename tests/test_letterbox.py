"""Letterboxes and the longest-side rule (reference §1.3 worked examples)."""

import numpy as np
import pytest

from gazesam.contracts import FACE, spatial_size
from gazesam.letterbox import letterbox_top_left, longest_side_shape, resize_and_pad_center

FACE_HW = spatial_size(FACE.input("full_image"))  # (160, 128)


@pytest.mark.parametrize(
    "frame_hw, content_hw, ratio",
    [
        # 640x480: r = min(160/480, 128/640) = min(0.333, 0.2) = 0.2 -> 128 x 96
        ((480, 640), (96, 128), 0.2),
        # 1280x720: r = min(160/720, 128/1280) = 0.1 -> 128 x 72
        ((720, 1280), (72, 128), 0.1),
        # 1920x1080: r = min(0.148, 0.0667) = 1/15 -> 128 x 72
        ((1080, 1920), (72, 128), 128 / 1920),
    ],
)
def test_face_letterbox_examples(frame_hw, content_hw, ratio):
    frame = np.full(frame_hw + (3,), 7, np.uint8)
    canvas, r = letterbox_top_left(frame, FACE_HW, 114)
    assert canvas.shape == FACE_HW + (3,) and canvas.dtype == np.uint8
    assert r == pytest.approx(ratio)
    h, w = content_hw
    assert (canvas[:h, :w] == 7).all()  # content at the top-left
    assert (canvas[h:, :] == 114).all() and (canvas[:, w:] == 114).all()  # pad everywhere else


def test_resize_and_pad_center_landscape_enlarges():
    # 100x50 (w x h) into 448x448: scale 4.48 -> 448 x 224; vertical pad 224 split 112 / 112.
    image = np.full((50, 100, 3), 200, np.uint8)
    canvas = resize_and_pad_center(image, (448, 448))
    assert canvas.shape == (448, 448, 3)
    assert (canvas[:112] == 0).all() and (canvas[336:] == 0).all()
    assert (canvas[112:336] == 200).all()


def test_resize_and_pad_center_odd_split_and_shrink():
    # 500x999 (w x h) into 448x448: scale 448/999 -> h 448, w round(224.22) = 224;
    # horizontal pad 224 -> 112 / 112. Shrinking uses INTER_AREA (constant image stays constant).
    image = np.full((999, 500, 3), 50, np.uint8)
    canvas = resize_and_pad_center(image, (448, 448), pad_value=9)
    assert (canvas[:, :112] == 9).all() and (canvas[:, 336:] == 9).all()
    assert (canvas[:, 112:336] == 50).all()
    # 3x2 (w x h) into 448: scale 149.33 -> 448 x 299; pad 149 -> floor 74 top, ceil 75 bottom.
    canvas = resize_and_pad_center(np.full((2, 3, 3), 80, np.uint8), (448, 448))
    assert (canvas[:74] == 0).all() and (canvas[74] != 0).all()
    assert (canvas[-75:] == 0).all() and (canvas[-76] != 0).all()


def test_resize_and_pad_center_square_only_resizes():
    canvas = resize_and_pad_center(np.full((10, 10, 3), 33, np.uint8), (448, 448))
    assert (canvas == 33).all()


@pytest.mark.parametrize(
    "hw, target, expected",
    [
        ((480, 640), 512, (384, 512)),  # s = 0.8: 384, 512
        ((480, 640), 1024, (768, 1024)),  # s = 1.6: 768, 1024
        ((720, 1280), 512, (288, 512)),  # s = 0.4: 288, 512
        ((1066, 1066), 1024, (1024, 1024)),
        ((853, 1280), 1024, (682, 1024)),  # 853 * 0.8 = 682.4 -> int(682.9) = 682
        ((3, 5), 1024, (614, 1024)),  # 3 * 204.8 = 614.4 -> 614
    ],
)
def test_longest_side_shape(hw, target, expected):
    assert longest_side_shape(*hw, target) == expected
