"""Gaze-to-prompt fusion: containment, segment crossing, prompt choice (§6.3.19), mask selection (§3.6)."""

import dataclasses

import numpy as np
import pytest

from gazesam.depth import NearMap
from gazesam.detector import Detections
from gazesam.fusion import (
    RULES,
    check_rules,
    choose_prompts,
    drop_boxes_containing,
    filter_by_gaze,
    looks_at_camera,
    near_the_ray,
    prompts_for,
    segment_crosses_box,
    select_mask,
    select_target,
)
from gazesam.settings import load_settings

BOX = np.array([10, 10, 20, 20], np.float32)


def _dets(boxes, scores=None, classes=None) -> Detections:
    n = len(boxes)
    scores = np.linspace(0.9, 0.5, n) if scores is None else scores
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), scores, np.arange(n) if classes is None else classes)


@pytest.mark.parametrize(
    "p0, p1, crosses",
    [
        ((0, 15), (30, 15), True),  # straight through: left and right edges
        ((15, 15), (30, 15), True),  # starts inside, leaves through the right edge
        ((0, 0), (30, 25), True),  # y = 5x/6 meets y = 10 at x = 12, inside the top edge's 10..20
        ((0, 0), (5, 30), False),  # passes beside the box
        ((12, 12), (18, 18), False),  # entirely inside: no edge crossed
        ((0, 10), (30, 10), False),  # collinear with the top edge
        ((0, 15), (10, 15), False),  # ends on the left edge (touching)
        ((10, 15), (0, 15), False),  # starts on the left edge, heading away
        ((0, 20), (20, 0), False),  # x + y = 20 touches only the corner (10, 10)
        ((10, 0), (10, 30), False),  # runs along the left edge
    ],
)
def test_segment_crosses_box(p0, p1, crosses):
    assert segment_crosses_box(np.array(p0, float), np.array(p1, float), BOX) is crosses


def test_drop_boxes_containing_face():
    face = np.array([90, 200, 110, 280], np.float32)
    dets = _dets(
        [
            [50, 150, 200, 479],  # the viewer's body: contains the face -> dropped
            [90, 200, 110, 280],  # equal to the face box: contains (inclusive) -> dropped
            [100, 100, 300, 300],  # overlaps the face but does not contain it -> kept
            [300, 300, 400, 400],  # elsewhere -> kept
        ]
    )
    kept = drop_boxes_containing(dets, face)
    np.testing.assert_array_equal(kept.classes, [2, 3])


def test_filter_by_gaze():
    # Ray (100, 240) -> (500, 0) on a 640x480 frame: y = 240 - 0.6 (x - 100).
    ray = np.array([100, 240, 500, 0], np.float32)
    dets = _dets(
        [
            [280, 100, 320, 160],  # at x = 300, y = 120: inside -> crossed
            [400, 300, 450, 350],  # below the ray -> not crossed
            [480, 0, 520, 5],  # enters through the bottom edge at x = 491.7; ends on the top edge -> kept
            [0, 230, 50, 250],  # behind the viewer -> not crossed
        ]
    )
    np.testing.assert_array_equal(filter_by_gaze(dets, ray).classes, [0, 2])
    assert len(filter_by_gaze(Detections.empty(), ray)) == 0


def test_filter_by_gaze_agrees_with_segment_crosses_box():
    rng = np.random.default_rng(1)
    boxes = rng.uniform(0, 100, size=(300, 4))
    boxes[:, 2:] = boxes[:, :2] + rng.uniform(1, 30, size=(300, 2))
    dets = _dets(boxes, np.full(300, 0.5), np.arange(300))
    ray = np.array([5, 90, 95, 12], np.float32)
    expected = [i for i, b in enumerate(dets.boxes) if segment_crosses_box(ray[:2], ray[2:], b)]
    np.testing.assert_array_equal(filter_by_gaze(dets, ray).classes, expected)


def test_choose_prompts_by_score_with_cap():
    dets = _dets(np.zeros((5, 4)), np.array([0.3, 0.9, 0.5, 0.8, 0.7]), np.arange(5))
    near = np.array([0.6, 0.4, 0.5, 0.9, 0.55])
    # Near enough (>= 0.5): 0, 2, 3, 4 (1 is 0.4). By score: 3 (0.8), 4 (0.7), 2 (0.5), 0 (0.3).
    np.testing.assert_array_equal(choose_prompts(dets, near, 0.5, 10).classes, [3, 4, 2, 0])
    # Cap 2 keeps the two best scores, not the first two in detection order (upstream had no cap).
    np.testing.assert_array_equal(choose_prompts(dets, near, 0.5, 2).classes, [3, 4])
    assert len(choose_prompts(dets, near, 0.5, 0)) == 0
    # A float32 share equal to the ratio passes (0.7 as float32 is 0.69999999 < 0.7 as a double).
    assert len(choose_prompts(dets, np.full(5, 0.7, np.float32), 0.7, 10)) == 5
    assert len(choose_prompts(dets, near, 0.95, 10)) == 0


# --- select_mask: a 20x20 frame whose left half (columns 0..9) is near ---------------------------

HW = (20, 20)
FACE_CENTRE = (15.0, 15.0)  # in the far (right) half


def _near() -> NearMap:
    near = np.zeros(HW, bool)
    near[:, :10] = True
    return NearMap.of_mask(near)


def _mask(rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros(HW, bool)
    mask[rows, cols] = True
    return mask


def _select(masks, boxes, iou=None, centre=FACE_CENTRE, iou_threshold=0.78, ratio=0.5):
    masks = np.array(masks, bool).reshape((-1,) + HW)
    iou = np.full(len(masks), 0.9, np.float32) if iou is None else np.array(iou, np.float32)
    return select_mask(masks, iou, np.array(boxes, np.float32).reshape(-1, 4), _near(), centre, iou_threshold, ratio)


def test_select_mask_rejects_mask_covering_face_centre():
    covering = _mask(slice(0, 20), slice(0, 16))  # includes pixel (row 15, col 15)
    small = _mask(slice(0, 5), slice(0, 5))  # 25 near pixels in a 25-pixel box: score 1
    assert _select([covering], [[0, 0, 15, 19]]) is None
    assert _select([covering, small], [[0, 0, 15, 19], [0, 0, 4, 4]]) == 1


def test_select_mask_face_centre_outside_frame_is_clamped():
    # Centre (50, -3) clamps to (col 19, row 0); the mask covers that pixel -> rejected.
    mask = _mask(slice(0, 5), slice(0, 20))  # near share inside its box: 50 / 100
    assert _select([mask], [[0, 0, 19, 4]], centre=(50.0, -3.0)) is None
    assert _select([mask], [[0, 0, 19, 4]], centre=(50.0, 30.0)) == 0  # clamps to (19, 19): not covered


def test_select_mask_iou_gate():
    mask = _mask(slice(0, 5), slice(0, 5))
    assert _select([mask], [[0, 0, 4, 4]], iou=[0.77]) is None
    assert _select([mask], [[0, 0, 4, 4]], iou=[0.78]) == 0  # only iou < threshold is skipped
    assert _select([mask], [[0, 0, 4, 4]], iou=np.array([[0.9]])) == 0  # (N, 1) as the decoder gives


def test_select_mask_near_ratio():
    # Rows 0..3, columns 0..19: 80 mask pixels, 40 near -> 40 >= 0.5 * 80 -> accepted.
    half = _mask(slice(0, 4), slice(0, 20))
    assert _select([half], [[0, 0, 19, 3]]) == 0
    # Columns 5..19: 60 mask pixels, 20 near (columns 5..9) -> 20 < 30 -> rejected.
    mostly_far = _mask(slice(0, 4), slice(5, 20))
    assert _select([mostly_far], [[0, 0, 19, 3]]) is None
    # Only pixels inside the box count: the same mask with a box over columns 5..9 is all near.
    assert _select([mostly_far], [[5, 0, 9, 3]]) == 0


def test_select_mask_score_is_near_pixels_over_box_area():
    # Same 25-pixel near mask; box 0 is 10x10 (score 25/100), box 1 is 5x5 (score 25/25) -> 1 wins.
    first = _mask(slice(0, 5), slice(0, 5))
    second = _mask(slice(10, 15), slice(0, 5))
    assert _select([first, second], [[0, 0, 9, 9], [0, 10, 4, 14]]) == 1
    # A box partly outside the frame is clipped first: (-5, -5, 4, 4) -> 25 pixels, score 1.
    assert _select([first, second], [[-5, -5, 4, 4], [0, 10, 4, 14]]) == 0


def test_select_mask_tie_keeps_first():
    mask = _mask(slice(0, 5), slice(0, 5))
    assert _select([mask, mask], [[0, 0, 4, 4], [0, 0, 4, 4]]) == 0


def test_select_mask_none():
    assert _select(np.zeros((0,) + HW, bool), np.zeros((0, 4))) is None
    # A mask with no pixel in its box, and a box outside the frame.
    empty = np.zeros(HW, bool)
    assert _select([empty], [[0, 0, 4, 4]]) is None
    assert _select([_mask(slice(0, 5), slice(0, 5))], [[30, 30, 40, 40]]) is None


# --- project rules ------------------------------------------------------------------------------------

PROJECT = load_settings().fusion
UPSTREAM = dataclasses.replace(PROJECT, rules="upstream")


def test_the_default_rules_are_the_projects_and_checked_by_name():
    assert PROJECT.rules == "project" and set(RULES) == {"project", "upstream"}
    assert check_rules("upstream") == "upstream"
    with pytest.raises(ValueError, match="unknown fusion rules 'nearest'"):
        check_rules("nearest")


def test_a_short_image_direction_means_looking_into_the_camera():
    assert looks_at_camera((0.05, -0.1), PROJECT)
    assert not looks_at_camera((0.6, 0.1), PROJECT)
    assert not looks_at_camera((0.05, -0.1), UPSTREAM)  # upstream: always a ray across the frame


def test_boxes_beside_the_ray_are_candidates_within_the_cone():
    ray = np.array([10, 50, 200, 50], np.float32)  # to the right
    boxes = [[150, 30, 190, 70],  # crossed
             [100, 62, 120, 80],  # centre (110, 71): 11.9 degrees off the ray, which misses it
             [60, 120, 80, 140]]  # 61 degrees off
    np.testing.assert_array_equal(near_the_ray(_dets(boxes), ray, 15.0).boxes, np.array(boxes[:2], np.float32))
    np.testing.assert_array_equal(near_the_ray(_dets(boxes), ray, 10.0).boxes, np.array(boxes[:1], np.float32))
    np.testing.assert_array_equal(filter_by_gaze(_dets(boxes), ray).boxes, np.array(boxes[:1], np.float32))


def test_prompts_follow_the_rules_and_drop_the_viewers_own_box():
    face = np.array([0, 40, 20, 60], np.float32)
    ray = np.array([10, 50, 200, 50], np.float32)
    boxes = [[150, 30, 190, 70], [100, 62, 120, 80], [-5, 30, 30, 200]]  # crossed, beside, the viewer's body
    near = NearMap.of_mask(np.ones((100, 220), bool))
    project = prompts_for(PROJECT, _dets(boxes), face, ray, near, 10)
    upstream = prompts_for(UPSTREAM, _dets(boxes), face, ray, near, 10)
    assert len(project) == 2 and len(upstream) == 1
    assert len(prompts_for(PROJECT, _dets(boxes), face, ray, NearMap.of_mask(np.zeros((100, 220), bool)), 10)) == 0  # depth gate


def test_select_target_is_upstreams_choice_under_both_rules():
    masks = np.zeros((2, 20, 20), bool)
    masks[0, 2:5, 2:5] = True
    masks[1, 10:18, 10:18] = True
    boxes = np.array([[2, 2, 4, 4], [10, 10, 19, 19]], np.float32)  # the second mask fills less of its box
    near = NearMap.of_mask(np.ones((20, 20), bool))
    iou = np.array([0.9, 0.9], np.float32)
    ray = np.array([0.5, 0.5, 19, 19], np.float32)
    for rules in (PROJECT, UPSTREAM):
        assert select_target(rules, masks, iou, boxes, near, ray) == 0
    assert select_target(PROJECT, masks, np.array([0.5, 0.5], np.float32), boxes, near, ray) is None
