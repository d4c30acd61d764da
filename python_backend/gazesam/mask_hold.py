"""Mask hold: a stream's last target stays on screen for a few frames without a new one.

Upstream holds the previous mask for exactly one frame, and only on some failure branches
(reference §1.6, §6.2.12). Here the hold is configured in frames and in stream seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Target:
    """The chosen object of one frame: its (H, W) uint8 mask, (4,) box, COCO class and detector score."""

    mask: np.ndarray
    box: np.ndarray
    class_id: int
    score: float


@dataclass
class MaskHold:
    """Remembers a stream's last target and repeats it for at most ``max_frames`` frames and ``max_s`` seconds.

    The hold ends early when the viewer changes (another track ID) or the frame size changes.
    ``max_frames = 0`` disables it.
    """

    max_frames: int
    max_s: float
    _target: Target | None = field(default=None, init=False, repr=False)
    _track_id: int = field(default=0, init=False, repr=False)
    _at: float = field(default=0.0, init=False, repr=False)
    _frames_held: int = field(default=0, init=False, repr=False)

    @property
    def holding(self) -> bool:
        """True when the latest :meth:`update` repeated the last target (a held mask)."""
        return self._target is not None and self._frames_held > 0

    def update(
        self, fresh: Target | None, track_id: int, t: float, frame_hw: tuple[int, int]
    ) -> tuple[Target | None, bool]:
        """This frame's target and whether it is held: (``fresh``, False), (last target, True) or (None, False).

        ``track_id`` is the frame's viewer (0 = no face visible); ``t`` is stream time in seconds.
        """
        if fresh is not None:
            self._target, self._track_id, self._at, self._frames_held = fresh, track_id, t, 0
            return fresh, False
        if self._target is None or self._target.mask.shape != tuple(frame_hw) or not self._may_hold(track_id, t):
            self._target = None
            return None, False
        self._frames_held += 1
        return self._target, True

    def _may_hold(self, track_id: int, t: float) -> bool:
        same_viewer = track_id in (0, self._track_id)  # 0: the face dropped out for a moment
        return same_viewer and self._frames_held < self.max_frames and t - self._at <= self.max_s
