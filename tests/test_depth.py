"""Depth: colour order (bug §6.2.10), normalisation guard, face-depth patch (§6.2.11), near tests (§6.2.6)."""

import numpy as np
import pytest

from gazesam.contracts import DEPTH, FASTDEPTH
from gazesam.depth import (
    NearMap,
    face_depth,
    fastdepth_nearness,
    near_fraction,
    near_mask,
    normalize_depth,
    preprocess_depth_anything,
    preprocess_fastdepth,
)


def test_preprocess_depth_anything_is_rgb_imagenet():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[..., 0] = 255  # pure blue in BGR
    tensor = preprocess_depth_anything(frame)
    assert tensor.shape == DEPTH.input("input").shape and tensor.dtype == np.float32
    # Stretched, no padding: every pixel is blue. RGB order -> channel 2 is high:
    # (1 - 0.406) / 0.225 = 2.64; channel 0: (0 - 0.485) / 0.229 = -2.118.
    np.testing.assert_allclose(tensor[0, 2], (1 - 0.406) / 0.225, rtol=1e-5)
    np.testing.assert_allclose(tensor[0, 0], -0.485 / 0.229, rtol=1e-5)


def test_preprocess_fastdepth_is_nhwc_rgb_unit_range():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[..., 0] = 255  # pure blue in BGR
    tensor = preprocess_fastdepth(frame)
    assert tensor.shape == FASTDEPTH.input("image").shape and tensor.dtype == np.float32
    # Stretched, no padding: every pixel is blue; RGB order on 0..1, channels last.
    np.testing.assert_allclose(tensor[0, ..., 2], 1.0)
    assert not tensor[0, ..., :2].any()


def test_fastdepth_nearness_inverts_metres():
    metres = np.array([[[[0.5, 2.0], [0.01, np.nan]]]], np.float32)
    nearness = fastdepth_nearness(metres)
    assert nearness.shape == (2, 2) and nearness.dtype == np.float32
    np.testing.assert_allclose(nearness, [[2.0, 0.5], [10.0, 0.0]])  # floor 0.1 m; NaN = infinitely far


def test_normalize_depth_min_max():
    raw = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) + 3  # 3..18: span 15
    depth = normalize_depth(raw)
    assert depth.shape == (4, 4) and depth.dtype == np.float32
    np.testing.assert_allclose(depth.ravel(), np.arange(16) * 17)  # (v - 3) / 15 * 255 = 17 (v - 3)


def test_normalize_depth_constant_is_zeros():
    depth = normalize_depth(np.full((1, 1, 5, 5), 42.0, np.float32))
    assert depth.shape == (5, 5) and not depth.any() and np.isfinite(depth).all()


def _patch_map() -> np.ndarray:
    """100x100 depth map: 1000 everywhere, values 1..16 at rows 38..41, columns 28..31."""
    depth = np.full((100, 100), 1000.0, np.float32)
    depth[38:42, 28:32] = np.arange(1, 17, dtype=np.float32).reshape(4, 4)
    return depth


def test_face_depth_median_of_central_patch():
    # Frame 200x200, map 100x100: scale 0.5. Face box (40, 60, 79, 99) covers [40, 80) x [60, 100):
    # centre (60, 80), size 40. Patch 0.2 -> 8 frame px: [56, 64) x [76, 84) -> map [28, 32) x [38, 42),
    # the 16 values 1..16 -> median 8.5 (the surrounding 1000s are not read).
    face = np.array([40, 60, 79, 99], np.float32)
    assert face_depth(_patch_map(), face, (200, 200), 0.2) == pytest.approx(8.5)


def test_face_depth_patch_is_at_least_one_pixel():
    # Patch 0: the single map pixel containing the centre (60, 80) * 0.5 = (30, 40) -> row 40, col 30
    # = value at (row 2, col 2) of the block = 2*4 + 2 + 1 = 11.
    face = np.array([40, 60, 79, 99], np.float32)
    assert face_depth(_patch_map(), face, (200, 200), 0.0) == pytest.approx(11.0)


def test_face_depth_box_at_the_border_stays_inside_the_map():
    depth = np.zeros((10, 10), np.float32)
    depth[9, 9] = 5.0
    # Box beyond the bottom-right corner: the patch is clamped onto the last pixel.
    assert face_depth(depth, np.array([300, 300, 400, 400], np.float32), (100, 100), 0.1) == 5.0


def test_near_mask_threshold_and_nearest_resize():
    depth = np.array([[0, 100], [200, 255]], np.float32)
    near = near_mask(depth, 100.0, (4, 6))  # >= 100 -> [[F, T], [T, T]], each cell 2 rows x 3 cols
    assert near.dtype == bool and near.shape == (4, 6)
    expected = np.array([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1], [1] * 6, [1] * 6], bool)
    np.testing.assert_array_equal(near, expected)


def _near() -> np.ndarray:
    """10x20 frame: left half (columns 0..9) near, plus the single pixel (row 2, column 17)."""
    near = np.zeros((10, 20), bool)
    near[:, :10] = True
    near[2, 17] = True
    return near


@pytest.mark.parametrize(
    "box, expected",
    [
        ((0, 0, 19, 9), 101 / 200),  # whole frame: 100 + 1 near of 200
        # Regression for bug 6: x1 = -10 made upstream slice near[:, -10:5], which is empty in numpy
        # (share 0). Clipped: columns 0..4, all near -> 1.0.
        ((-10, 0, 4, 9), 1.0),
        ((15, -5, 30, 4), 1 / 25),  # clipped to columns 15..19, rows 0..4: only (2, 17) is near
        ((25, 0, 40, 9), 0.0),  # right of the frame: nothing inside
        ((-8, -3, -2, 5), 0.0),  # left of the frame: no wrap-around onto the right columns
        ((2.7, 1.2, 11.9, 1.9), 0.8),  # floored: columns 2..11 of row 1; 2..9 near -> 8 / 10
        ((12, 5, 5, 8), 0.0),  # inverted box
    ],
)
def test_near_fraction(box, expected):
    share = near_fraction(_near(), np.array([box], np.float32))
    assert share.dtype == np.float32 and share.shape == (1,)
    assert share[0] == pytest.approx(expected)


def test_near_fraction_matches_brute_force():
    rng = np.random.default_rng(0)
    near = rng.random((37, 53)) > 0.6
    boxes = rng.uniform(-20, 70, size=(200, 4)).astype(np.float32)
    boxes[:, 2:] = boxes[:, :2] + rng.uniform(0, 40, size=(200, 2))
    shares = near_fraction(near, boxes)
    for box, share in zip(boxes, shares):
        c1, r1 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
        c2, r2 = min(int(np.floor(box[2])), 52), min(int(np.floor(box[3])), 36)
        crop = near[r1 : r2 + 1, c1 : c2 + 1] if c2 >= c1 and r2 >= r1 else np.zeros((0, 0), bool)
        assert share == pytest.approx(crop.mean() if crop.size else 0.0)


def test_near_fraction_no_boxes():
    assert near_fraction(_near(), np.zeros((0, 4), np.float32)).shape == (0,)


@pytest.mark.parametrize("map_hw, frame_hw", [((224, 224), (720, 1280)), ((518, 518), (853, 1280)),
                                              ((224, 224), (32, 3840)), ((224, 224), (100, 150))])
def test_near_map_counts_and_regions_equal_the_frame_sized_mask(map_hw, frame_hw):
    """NearMap gives what near_mask + near_fraction give, without building the frame-sized mask."""
    rng = np.random.default_rng(sum(frame_hw))
    depth = (rng.random(map_hw) * 255).astype(np.float32)
    full, near = near_mask(depth, 120.0, frame_hw), NearMap.of(depth, 120.0, frame_hw)
    height, width = frame_hw
    boxes = np.sort(rng.random((20, 2, 2)) * [width, height], axis=1).reshape(-1, 4).astype(np.float32)
    boxes[0], boxes[1] = [-50, -50, width + 50, height + 50], [width + 1, 0, width + 5, 5]  # all of it; none of it
    np.testing.assert_array_equal(near.fraction(boxes), near_fraction(full, boxes))
    for x1, y1, x2, y2 in boxes[2:8].astype(int):
        np.testing.assert_array_equal(near[y1 : y2 + 1, x1 : x2 + 1], full[y1 : y2 + 1, x1 : x2 + 1])
    assert near.shape == frame_hw and NearMap.of_mask(full).fraction(boxes).tolist() == near.fraction(boxes).tolist()
