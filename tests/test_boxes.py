"""Box geometry: clipping, areas, IoU, NMS, containment, pixel bounds (pixel-inclusive convention)."""

import numpy as np
import pytest

from gazesam.boxes import (
    batched_nms,
    box_area,
    box_pixel_bounds,
    clip_boxes,
    contains,
    iou_matrix,
    nms,
)


def test_clip_boxes_into_frame():
    # 640x480 frame: x into [0, 639], y into [0, 479].
    boxes = np.array([[-10, -5, 700, 500], [10, 20, 30, 40]], np.float32)
    clipped = clip_boxes(boxes, (480, 640))
    np.testing.assert_array_equal(clipped, [[0, 0, 639, 479], [10, 20, 30, 40]])
    assert clipped.dtype == np.float32
    assert boxes[0, 0] == -10  # input untouched


def test_clip_boxes_empty():
    assert clip_boxes(np.zeros((0, 4)), (480, 640)).shape == (0, 4)


def test_box_area_is_pixel_inclusive():
    # (9-0+1)*(4-0+1) = 50; a single pixel is 1; an inverted box is 0.
    area = box_area(np.array([[0, 0, 9, 4], [5, 5, 5, 5], [10, 10, 2, 2]], np.float32))
    np.testing.assert_array_equal(area, [50, 1, 0])


def test_iou_matrix():
    a = np.array([[0, 0, 9, 9]], np.float32)  # area 100
    b = np.array([[0, 0, 9, 9], [5, 0, 14, 9], [20, 20, 30, 30]], np.float32)
    # second: overlap columns 5..9 = 5 x 10 = 50; union 100 + 100 - 50 = 150 -> 1/3
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 1 / 3, 0.0]], rtol=1e-6)
    assert iou_matrix(a, np.zeros((0, 4))).shape == (1, 0)


def test_nms_greedy_by_score():
    boxes = np.array(
        [
            [0, 0, 9, 9],  # score 0.6, IoU 1/3 with box 1
            [5, 0, 14, 9],  # score 0.9, kept first
            [6, 0, 15, 9],  # score 0.8, IoU with box 1: 9x10=90 / (100+100-90=110) = 0.818 -> suppressed
            [100, 100, 110, 110],  # score 0.7, isolated
        ],
        np.float32,
    )
    scores = np.array([0.6, 0.9, 0.8, 0.7], np.float32)
    keep = nms(boxes, scores, 0.45)
    np.testing.assert_array_equal(keep, [1, 3, 0])
    assert keep.dtype == np.int64


def test_nms_threshold_is_strict():
    # IoU exactly 1/3 is not > 1/3, so both survive; a lower threshold suppresses.
    boxes = np.array([[0, 0, 9, 9], [5, 0, 14, 9]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    np.testing.assert_array_equal(nms(boxes, scores, 0.34), [0, 1])
    np.testing.assert_array_equal(nms(boxes, scores, 0.3), [0])


def test_nms_empty():
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)


def test_batched_nms_only_within_a_class():
    boxes = np.array([[0, 0, 9, 9], [0, 0, 9, 9], [0, 0, 9, 9]], np.float32)
    scores = np.array([0.5, 0.9, 0.7], np.float32)
    classes = np.array([1, 1, 2])
    # class 1: 1 beats 0; class 2: box 2 alone. Sorted by score: 1 (0.9), 2 (0.7).
    np.testing.assert_array_equal(batched_nms(boxes, scores, classes, 0.5), [1, 2])


def _greedy_reference(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, threshold: float) -> list[int]:
    """NMS as its definition reads: take the best remaining box, drop the later ones of its group it overlaps."""
    remaining = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep = []
    while remaining:
        best = remaining.pop(0)
        keep.append(best)
        remaining = [i for i in remaining
                     if groups[i] != groups[best] or iou_matrix(boxes[best], boxes[i])[0, 0] <= threshold]
    return keep


def test_nms_matches_its_definition_on_random_boxes():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(0, 40))
        corner = rng.uniform(0, 200, (n, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(1, 80, (n, 2))], axis=1).astype(np.float32)
        scores = rng.choice(np.linspace(0, 1, 6), n).astype(np.float32)  # ties on purpose
        groups = rng.integers(0, 3, n)
        assert nms(boxes, scores, 0.45).tolist() == _greedy_reference(boxes, scores, np.zeros(n), 0.45)
        assert batched_nms(boxes, scores, groups, 0.5).tolist() == _greedy_reference(boxes, scores, groups, 0.5)


def test_contains_is_inclusive():
    face = np.array([10, 10, 20, 20], np.float32)
    outer = np.array(
        [
            [10, 10, 20, 20],  # equal: contains
            [0, 0, 100, 100],  # strictly larger
            [11, 0, 100, 100],  # misses the face's left column
            [0, 0, 100, 19],  # misses the bottom row
        ],
        np.float32,
    )
    np.testing.assert_array_equal(contains(outer, face), [True, True, False, False])


@pytest.mark.parametrize(
    "box, expected",
    [
        ([10.7, 20.2, 30.9, 40.0], [10, 20, 30, 40]),  # floored
        ([-50, -5, 700, 500], [0, 0, 639, 479]),  # partly outside: clamped
        ([700, 10, 800, 20], None),  # right of the frame: empty, not a border strip
        ([-80, 10, -20, 20], None),  # left of the frame: empty, never wraps around
        ([np.nan, 10, 20, 20], None),
    ],
)
def test_box_pixel_bounds(box, expected):
    c1, r1, c2, r2 = box_pixel_bounds(np.array([box], np.float32), (480, 640))[0]
    if expected is None:
        assert c2 < c1 or r2 < r1
    else:
        assert [c1, r1, c2, r2] == expected
