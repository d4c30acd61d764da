"""Mask hold: the last target is repeated for a limited number of frames and seconds."""

from __future__ import annotations

import numpy as np

from gazesam.mask_hold import MaskHold, Target

HW = (4, 6)
TARGET = Target(np.full(HW, 255, np.uint8), np.array([1, 1, 3, 3], np.float32), 41, 0.8)


def test_fresh_target_passes_through_and_is_held_for_the_configured_frames():
    hold = MaskHold(max_frames=2, max_s=10.0)
    assert hold.update(TARGET, 1, 0.0, HW) == (TARGET, False)
    assert hold.update(None, 1, 0.1, HW) == (TARGET, True)
    assert hold.update(None, 1, 0.2, HW) == (TARGET, True)
    assert hold.update(None, 1, 0.3, HW) == (None, False)
    assert hold.update(None, 1, 0.4, HW) == (None, False)  # cleared, not resumed


def test_hold_ends_after_the_configured_seconds():
    hold = MaskHold(max_frames=100, max_s=0.5)
    hold.update(TARGET, 1, 0.0, HW)
    assert hold.update(None, 1, 0.5, HW)[1]
    assert hold.update(None, 1, 0.51, HW) == (None, False)


def test_hold_survives_a_face_dropout_but_not_a_new_viewer_or_frame_size():
    hold = MaskHold(max_frames=5, max_s=10.0)
    hold.update(TARGET, 1, 0.0, HW)
    assert hold.update(None, 0, 0.1, HW)[1]  # no face this frame
    assert hold.update(None, 2, 0.2, HW) == (None, False)  # someone else
    hold.update(TARGET, 1, 0.3, HW)
    assert hold.update(None, 1, 0.4, (8, 6)) == (None, False)


def test_zero_frames_disables_the_hold():
    hold = MaskHold(max_frames=0, max_s=10.0)
    hold.update(TARGET, 1, 0.0, HW)
    assert hold.update(None, 1, 0.1, HW) == (None, False)
