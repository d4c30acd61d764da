"""The One-Euro filter (Casiez et al. 2012) over a vector, on the stream's own clock.

Upstream GazeSAM smooths the face box and yaw/pitch with it (reference §3.8) but drives it with the
wall clock and divides by zero on equal timestamps (§6.2.13, §6.3.21). Here time is the frame's
timestamp, and a zero or backwards step leaves the estimate where it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass with ``cutoff_hz`` at time step ``dt`` > 0."""
    r = 2.0 * math.pi * cutoff_hz * dt
    return r / (r + 1.0)


@dataclass
class OneEuroFilter:
    """Adaptive low-pass filter: ``min_cutoff`` (Hz) when still, faster as speed grows by ``beta``.

    ``filter(x, t)`` takes a float vector (n,) and a time in seconds and returns the estimate (n,).
    The first call returns ``x`` unchanged; ``reset()`` forgets everything.
    """

    min_cutoff: float
    beta: float
    d_cutoff: float = 1.0
    _t: float | None = field(default=None, init=False, repr=False)
    _x: np.ndarray | None = field(default=None, init=False, repr=False)
    _dx: np.ndarray | None = field(default=None, init=False, repr=False)

    def reset(self) -> None:
        self._t = self._x = self._dx = None

    def filter(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._x.shape != x.shape:
            self._t, self._x, self._dx = t, x.copy(), np.zeros_like(x)
            return x.copy()
        dt = t - self._t
        if not dt > 0:  # repeated or backwards timestamp: no time has passed for the filter
            return self._x.copy()
        dx = (x - self._x) / dt
        dx_hat = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        a = _alpha(self.min_cutoff + self.beta * np.abs(dx_hat), dt)
        self._t, self._x, self._dx = t, self._x + a * (x - self._x), dx_hat
        return self._x.copy()
