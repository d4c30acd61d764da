"""The One-Euro filter: upstream's formulas (reference §3.8) on the stream's clock, with safe time steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazesam.one_euro import OneEuroFilter


def reference_step(x, x_prev, dx_prev, dt, min_cutoff, beta, d_cutoff):
    """One step written out from the reference's formulas for a scalar."""

    def alpha(c):
        r = 2 * math.pi * c * dt
        return r / (r + 1)

    dx = (x - x_prev) / dt
    dx_hat = alpha(d_cutoff) * dx + (1 - alpha(d_cutoff)) * dx_prev
    c = min_cutoff + beta * abs(dx_hat)
    return alpha(c) * x + (1 - alpha(c)) * x_prev, dx_hat


def test_first_value_passes_through_and_later_ones_follow_the_reference_formulas():
    f = OneEuroFilter(min_cutoff=0.01, beta=0.8)
    xs = [0.10, 0.30, 0.25, -0.4, -0.35]
    ts = [0.0, 1 / 30, 2 / 30, 3 / 30, 5 / 30]
    assert f.filter(np.array([xs[0]]), ts[0])[0] == xs[0]
    x_prev, dx_prev = xs[0], 0.0
    for i in range(1, len(xs)):
        expected, dx_prev = reference_step(xs[i], x_prev, dx_prev, ts[i] - ts[i - 1], 0.01, 0.8, 1.0)
        got = f.filter(np.array([xs[i]]), ts[i])[0]
        assert got == pytest.approx(expected, rel=1e-12)
        x_prev = expected


def test_upstream_face_box_example_10px_step_at_30fps():
    f = OneEuroFilter(min_cutoff=0.0, beta=1.0)  # upstream face-box parameters
    f.filter(np.array([100.0]), 0.0)
    assert f.filter(np.array([110.0]), 1 / 30)[0] == pytest.approx(109.2, abs=0.05)  # reference §3.8


@pytest.mark.parametrize("dt", [0.0, -0.5])
def test_repeated_or_backwards_time_leaves_the_estimate_unchanged(dt):
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    f.filter(np.array([0.0, 0.0]), 1.0)
    before = f.filter(np.array([1.0, 2.0]), 1.1)
    after = f.filter(np.array([50.0, 50.0]), 1.1 + dt)
    np.testing.assert_array_equal(after, before)
    assert np.all(np.isfinite(after))


def test_vectors_are_filtered_per_component_and_reset_forgets():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    f.filter(np.array([0.0, 10.0]), 0.0)
    out = f.filter(np.array([1.0, 10.0]), 0.1)
    assert 0 < out[0] < 1 and out[1] == 10.0
    f.reset()
    np.testing.assert_array_equal(f.filter(np.array([5.0, 6.0]), 0.2), [5.0, 6.0])
