"""FrameResize: each family's frame <-> network-input rule (reference §1.3 worked examples) and its inverse."""

import numpy as np
import pytest

from gazesam.contracts import FACE, spatial_size
from gazesam.geometry import FrameResize

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
    resize = FrameResize.letterbox_top_left(frame_hw, FACE_HW)
    canvas = resize.apply_image(np.full(frame_hw + (3,), 7, np.uint8), 114)
    assert canvas.shape == FACE_HW + (3,) and canvas.dtype == np.uint8
    assert resize.scale_xy == pytest.approx((ratio, ratio)) and resize.content_hw == content_hw
    h, w = content_hw
    assert (canvas[:h, :w] == 7).all()  # content at the top-left
    assert (canvas[h:, :] == 114).all() and (canvas[:, w:] == 114).all()  # pad everywhere else


def test_centred_letterbox_landscape_enlarges():
    # 100x50 (w x h) into 448x448: scale 4.48 -> 448 x 224; vertical pad 224 split 112 / 112.
    canvas = FrameResize.letterbox_centred((50, 100), (448, 448)).apply_image(np.full((50, 100, 3), 200, np.uint8))
    assert canvas.shape == (448, 448, 3)
    assert (canvas[:112] == 0).all() and (canvas[336:] == 0).all()
    assert (canvas[112:336] == 200).all()


def test_centred_letterbox_odd_split_and_shrink():
    # 500x999 (w x h) into 448x448: scale 448/999 -> h 448, w round(224.22) = 224; pad 112 / 112.
    canvas = FrameResize.letterbox_centred((999, 500), (448, 448)).apply_image(np.full((999, 500, 3), 50, np.uint8), 9)
    assert (canvas[:, :112] == 9).all() and (canvas[:, 336:] == 9).all()
    assert (canvas[:, 112:336] == 50).all()
    # 3x2 (w x h) into 448: scale 149.33 -> 448 x 299; pad 149 -> floor 74 top, ceil 75 bottom.
    canvas = FrameResize.letterbox_centred((2, 3), (448, 448)).apply_image(np.full((2, 3, 3), 80, np.uint8))
    assert (canvas[:74] == 0).all() and (canvas[74] != 0).all()
    assert (canvas[-75:] == 0).all() and (canvas[-76] != 0).all()


def test_square_into_square_only_resizes():
    canvas = FrameResize.letterbox_centred((10, 10), (448, 448)).apply_image(np.full((10, 10, 3), 33, np.uint8))
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
def test_longest_side_content(hw, target, expected):
    resize = FrameResize.longest_side(hw, target, (target, target))
    assert resize.content_hw == expected and resize.offset_xy == (0, 0)
    assert resize.scale_xy == (expected[1] / hw[1], expected[0] / hw[0])  # per axis, as segment-anything


def test_centred_longest_side_is_super_gradients_rule():
    # 640x480 -> longest 636: s = 0.99375, content 636 x 477, pad ((640-636)//2, (640-477)//2) = (2, 81).
    resize = FrameResize.longest_side((480, 640), 636, (640, 640), centred=True)
    assert resize.content_hw == (477, 636) and resize.offset_xy == (2, 81)
    assert resize.scale_xy == (0.99375, 0.99375)


RULES = [
    FrameResize.letterbox_top_left((479, 641), (416, 416)),
    FrameResize.letterbox_centred((479, 641), (448, 448)),
    FrameResize.longest_side((479, 641), 1024, (1024, 1024)),
    FrameResize.longest_side((479, 641), 636, (640, 640), centred=True),
    FrameResize.stretch((479, 641), (224, 224)),
]


@pytest.mark.parametrize("resize", RULES, ids=lambda r: f"{r.content_hw}@{r.offset_xy}")
def test_boxes_round_trip_and_land_on_the_content(resize):
    height, width = resize.frame_hw
    frame_boxes = np.array([[0, 0, width, height], [10.5, 20.25, 300, 400]], np.float32)
    on_input = resize.boxes_to_input(frame_boxes)
    np.testing.assert_allclose(resize.boxes_to_frame(on_input), frame_boxes, rtol=1e-5, atol=1e-3)
    left, top = resize.offset_xy
    np.testing.assert_allclose(on_input[0], [left, top, left + resize.content_hw[1], top + resize.content_hw[0]],
                               atol=1.0)  # the whole frame covers the content (up to its rounding)


@pytest.mark.parametrize("resize", RULES, ids=lambda r: f"{r.content_hw}@{r.offset_xy}")
def test_a_canvas_map_comes_back_where_the_frame_was(resize):
    frame = np.zeros(resize.frame_hw, np.float32)
    frame[100:300, 200:500] = 1.0  # a block in frame pixels
    canvas = resize.apply_image(frame, pad_value=-1.0)
    assert canvas.shape == tuple(resize.input_hw)
    back = resize.to_frame_map(canvas)
    assert back.shape == resize.frame_hw
    assert back[150:250, 250:450].min() > 0.9 and back[:50].max() < 0.1 and back[350:].max() < 0.1
