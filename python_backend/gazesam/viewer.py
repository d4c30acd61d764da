"""Which face is the viewer: choosing one face per frame and keeping its identity between frames.

Upstream takes the highest-scoring face every frame, so the viewer can jump between people
(reference §6.2.14). Here a :class:`ViewerTracker` per stream follows one person: a face in the new
frame continues the viewer's track when it overlaps the viewer's last box; otherwise it is a new
viewer with a new track ID, and the stream's smoothing starts over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .boxes import box_area, iou_matrix

POLICIES = ("tracked", "largest", "central")
"""tracked: follow the current viewer, acquire a new one by size only when it has been lost;
largest / central: the largest face, or the face nearest the frame centre, in every frame."""


EDGE_SHARE = 0.01
"""A face box within this share of the frame's side from an edge is cut off by the frame."""


def cut_by_frame_edge(faces: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    """bool (N,): faces whose box reaches the frame's edge (part of the face is outside the picture)."""
    h, w = frame_hw
    margin_x, margin_y = EDGE_SHARE * w, EDGE_SHARE * h
    return ((faces[:, 0] < margin_x) | (faces[:, 1] < margin_y)
            | (faces[:, 2] > w - 1 - margin_x) | (faces[:, 3] > h - 1 - margin_y))


def pick_face(faces: np.ndarray, frame_hw: tuple[int, int], rule: str) -> int:
    """Index of the largest face (``rule="largest"``) or the one nearest the frame centre (``"central"``).

    ``faces`` is (N, 5) ``x1, y1, x2, y2, score`` with N >= 1. Ties go to the earlier (higher-scoring) face.
    "largest" takes a face cut off by the frame's edge only when every face is: a head half out of the
    picture is a bystander passing, rarely the viewer, and its gaze cannot be read.
    """
    if rule == "largest":
        areas = box_area(faces[:, :4]).astype(np.float64)
        return int(np.argmax(np.where(cut_by_frame_edge(faces, frame_hw), areas - areas.max() - 1.0, areas)))
    if rule == "central":
        h, w = frame_hw
        centres = (faces[:, 0:2] + faces[:, 2:4]) / 2.0
        return int(np.argmin(np.hypot(centres[:, 0] - (w - 1) / 2.0, centres[:, 1] - (h - 1) / 2.0)))
    raise ValueError(f"unknown face rule {rule!r}; expected largest or central")


@dataclass
class ViewerTracker:
    """Follows the viewer's face through one stream.

    ``policy`` is one of :data:`POLICIES`; a face continues the track when its IoU with the viewer's last
    box is at least ``min_iou``; a viewer unseen for more than ``lost_after_s`` (stream time) is lost.
    """

    policy: str
    min_iou: float
    lost_after_s: float
    _box: np.ndarray | None = field(default=None, init=False, repr=False)
    _seen_at: float = field(default=0.0, init=False, repr=False)
    _track_id: int = field(default=0, init=False, repr=False)
    _tracks_started: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"unknown viewer policy {self.policy!r}; expected one of {POLICIES}")

    def update(self, faces: np.ndarray, frame_hw: tuple[int, int], t: float) -> tuple[int | None, int]:
        """The viewer among (N, 5) ``faces`` at stream time ``t``: (face index or None, track ID).

        The track ID is 0 when no viewer is visible in this frame, and numbers viewers 1, 2, ... within
        the stream: it changes exactly when a different person (or the same one after being lost) is chosen.
        """
        if self._box is not None and t - self._seen_at > self.lost_after_s:
            self._box = None  # lost for too long: whoever is chosen next starts a new track
        if len(faces) == 0:
            return None, 0
        continuing = self._continuing(faces)
        if self.policy == "tracked" and self._cut_viewer_yields(faces, continuing, frame_hw):
            self._box, continuing = None, None
        if self.policy == "tracked":
            if self._box is not None and continuing is None:
                return None, 0  # the viewer is not visible; others are not followed until the viewer is lost
            index = continuing if continuing is not None else pick_face(faces, frame_hw, "largest")
        else:
            index = pick_face(faces, frame_hw, self.policy)
        if index != continuing:
            self._tracks_started += 1
            self._track_id = self._tracks_started
        self._box, self._seen_at = faces[index, :4].copy(), max(t, self._seen_at)
        return index, self._track_id

    def _cut_viewer_yields(self, faces: np.ndarray, continuing: int | None, frame_hw: tuple[int, int]) -> bool:
        """True when the viewer's face is cut by the frame's edge (as seen now, or last seen) and a whole face
        is visible: as in :func:`pick_face`, a head half out of the picture is a bystander whenever a whole face
        exists, so it does not hold the track (and the "no face" state) against one."""
        if self._box is None:
            return False
        viewer = faces[continuing, :4] if continuing is not None else self._box
        return bool(cut_by_frame_edge(viewer.reshape(1, 4), frame_hw)[0] and (~cut_by_frame_edge(faces, frame_hw)).any())

    def _continuing(self, faces: np.ndarray) -> int | None:
        """Index of the face that best overlaps the viewer's last box, if it overlaps enough."""
        if self._box is None:
            return None
        overlaps = iou_matrix(self._box, faces[:, :4])[0]
        best = int(np.argmax(overlaps))
        return best if overlaps[best] >= self.min_iou else None
