"""Which face is the viewer: policies, and keeping the same person between frames."""

from __future__ import annotations

import numpy as np
import pytest

from gazesam.viewer import ViewerTracker, pick_face

FRAME_HW = (480, 640)


def faces(*boxes_and_scores) -> np.ndarray:
    return np.array(boxes_and_scores, np.float32).reshape(-1, 5)


SMALL_CENTRAL = (300, 220, 340, 260, 0.9)
LARGE_LEFT = (10, 10, 200, 200, 0.6)


def test_pick_largest_and_central():
    both = faces(SMALL_CENTRAL, LARGE_LEFT)
    assert pick_face(both, FRAME_HW, "largest") == 1
    assert pick_face(both, FRAME_HW, "central") == 0


def test_tracked_viewer_is_kept_when_a_larger_face_appears():
    tracker = ViewerTracker("tracked", min_iou=0.3, lost_after_s=1.0)
    assert tracker.update(faces(SMALL_CENTRAL), FRAME_HW, 0.0) == (0, 1)
    moved = (304, 222, 344, 262, 0.9)
    # a larger face now comes first and scores higher; the viewer (moved a little) is still followed
    assert tracker.update(faces((10, 10, 200, 200, 0.99), moved), FRAME_HW, 0.04) == (1, 1)


def test_tracked_viewer_out_of_sight_is_not_replaced_until_lost():
    tracker = ViewerTracker("tracked", min_iou=0.3, lost_after_s=1.0)
    tracker.update(faces(SMALL_CENTRAL), FRAME_HW, 0.0)
    assert tracker.update(faces(LARGE_LEFT), FRAME_HW, 0.5) == (None, 0)
    assert tracker.update(faces(LARGE_LEFT), FRAME_HW, 1.5) == (0, 2)  # lost for > 1 s: a new viewer


def test_largest_policy_switches_person_with_a_new_track_id():
    tracker = ViewerTracker("largest", min_iou=0.3, lost_after_s=1.0)
    assert tracker.update(faces(SMALL_CENTRAL), FRAME_HW, 0.0) == (0, 1)
    assert tracker.update(faces(SMALL_CENTRAL, LARGE_LEFT), FRAME_HW, 0.04) == (1, 2)
    assert tracker.update(faces(LARGE_LEFT), FRAME_HW, 0.08) == (0, 2)


def test_the_same_face_after_a_long_absence_is_a_new_track():
    tracker = ViewerTracker("tracked", min_iou=0.3, lost_after_s=1.0)
    tracker.update(faces(SMALL_CENTRAL), FRAME_HW, 0.0)
    assert tracker.update(faces(), FRAME_HW, 0.5) == (None, 0)
    assert tracker.update(faces(SMALL_CENTRAL), FRAME_HW, 0.9) == (0, 1)  # back within the limit
    tracker.update(faces(), FRAME_HW, 1.0)
    assert tracker.update(faces(SMALL_CENTRAL), FRAME_HW, 2.5) == (0, 2)


def test_backwards_time_does_not_lose_the_viewer():
    tracker = ViewerTracker("tracked", min_iou=0.3, lost_after_s=1.0)
    tracker.update(faces(SMALL_CENTRAL), FRAME_HW, 5.0)
    assert tracker.update(faces(SMALL_CENTRAL), FRAME_HW, 1.0) == (0, 1)


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="unknown viewer policy"):
        ViewerTracker("nearest", 0.3, 1.0)


def test_largest_prefers_a_whole_face_to_a_bigger_one_cut_by_the_frame_edge():
    """woman_cup_shelf.mp4 frame 360: a man's head cut by the top edge is larger than the viewer's face."""
    faces = np.array([[378, 110, 523, 309, 0.77], [781, 3, 958, 181, 0.61]], np.float32)
    assert pick_face(faces, (720, 1280), "largest") == 0
    assert pick_face(faces[1:], (720, 1280), "largest") == 0  # a cut face is still a face when it is the only one
    both_cut = np.array([[0, 100, 100, 200, 0.9], [1100, 0, 1279, 250, 0.8]], np.float32)
    assert pick_face(both_cut, (720, 1280), "largest") == 1


def test_a_viewer_cut_by_the_frame_edge_yields_to_a_whole_face():
    """woman_cup_shelf.mp4 frames 8-10 and 23: the track began on a man's chin cut by the top edge (the only face
    then); the woman's whole face that appears next must not wait a second as "no face", nor lose to the chin."""
    hw = (720, 1280)
    chin, woman = (802, 3, 938, 144, 0.5), (366, 117, 515, 310, 0.72)
    tracker = ViewerTracker("tracked", min_iou=0.3, lost_after_s=1.0)
    assert tracker.update(faces(chin), hw, 8 / 25) == (0, 1)
    assert tracker.update(faces(woman), hw, 10 / 25) == (0, 2)  # the chin is gone: the whole face at once
    assert tracker.update(faces(woman, (768, 1, 936, 165, 0.59)), hw, 11 / 25) == (0, 2)  # and kept over the chin
    tracker = ViewerTracker("tracked", min_iou=0.3, lost_after_s=1.0)
    tracker.update(faces(chin), hw, 0.0)
    assert tracker.update(faces(woman, chin), hw, 0.04) == (0, 2)  # both visible: the whole face, not the chin
    whole = ViewerTracker("tracked", min_iou=0.3, lost_after_s=1.0)
    whole.update(faces(woman), hw, 0.0)
    assert whole.update(faces((700, 160, 820, 300, 0.9)), hw, 0.04) == (None, 0)  # a whole viewer still waits
