"""What each stateful step remembers about one stream, built from the settings.

``face_track`` follows the viewer and smooths the face box, ``gaze_fusion`` smooths yaw/pitch, and
``mask_select`` holds the last target. Each is a fresh object at a stream's start.
"""

from __future__ import annotations

from dataclasses import dataclass

from .mask_hold import MaskHold
from .one_euro import OneEuroFilter
from .settings import Settings
from .viewer import ViewerTracker


@dataclass
class FaceTrackState:
    tracker: ViewerTracker
    box_filter: OneEuroFilter  # over x1, y1, x2, y2 in pixels
    track_id: int = 0  # the viewer whose box the filter holds


@dataclass
class GazeState:
    gaze_filter: OneEuroFilter  # over yaw, pitch in radians
    track_id: int = 0  # the viewer whose gaze the filter holds


def new_face_track_state(settings: Settings) -> FaceTrackState:
    s, v = settings.smoothing, settings.viewer
    return FaceTrackState(
        ViewerTracker(v.policy, v.track_min_iou, v.lost_after_s),
        OneEuroFilter(s.face_min_cutoff, s.face_beta, s.d_cutoff),
    )


def new_gaze_state(settings: Settings) -> GazeState:
    s = settings.smoothing
    return GazeState(OneEuroFilter(s.gaze_min_cutoff, s.gaze_beta, s.d_cutoff))


def new_mask_hold(settings: Settings) -> MaskHold:
    return MaskHold(settings.mask_hold.frames, settings.mask_hold.seconds)
