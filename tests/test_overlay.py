"""Overlay drawing: mask blend values, banner, robustness to off-frame and non-finite coordinates."""

import numpy as np
import pytest

from clients.overlay import BANNER_COLOR, GAZE_COLOR, MASK_COLOR, draw_result

HW = (240, 320)


def _draw(frame, **overrides):
    args = dict(
        mask=None,
        face_box=None,
        target_box=None,
        target_label=None,
        gaze_ray=None,
        status_text="",
        banner=None,
    )
    args.update(overrides)
    return draw_result(frame, **args)


def test_returns_a_new_frame():
    frame = np.full(HW + (3,), 10, np.uint8)
    out = _draw(frame, face_box=np.array([10, 10, 50, 50]), status_text="OK")
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert out is not frame and (frame == 10).all()  # input untouched
    assert (out != 10).any()


def test_mask_blends_half_yellow():
    frame = np.zeros(HW + (3,), np.uint8)
    frame[..., 2] = 100
    mask = np.zeros(HW, np.uint8)
    mask[50:100, 150:200] = 255
    out = _draw(frame, mask=mask)
    # (79 + 0) // 2 = 39, (244 + 0) // 2 = 122, (255 + 100) // 2 = 177
    np.testing.assert_array_equal(out[75, 175], [39, 122, 177])
    assert (out[75, 175] == (np.array(MASK_COLOR) + [0, 0, 100]) // 2).all()
    np.testing.assert_array_equal(out[10, 10], [0, 0, 100])  # outside the mask: untouched


def test_mask_of_another_size_is_resized():
    mask = np.ones((10, 10), np.uint8)
    out = _draw(np.zeros(HW + (3,), np.uint8), mask=mask)
    np.testing.assert_array_equal(out[120, 160], np.array(MASK_COLOR) // 2)


def test_gaze_ray_is_drawn():
    out = _draw(np.zeros(HW + (3,), np.uint8), gaze_ray=np.array([20, 120, 300, 120], np.float32))
    column = out[116:125, 160].astype(int)  # anti-aliased: the brightest pixel sits on the line
    assert (column[:, 0] == column[:, 1]).all() and (column[:, 1] == column[:, 2]).all()  # grey
    assert column.max() >= 0.8 * GAZE_COLOR[0] and not out[100, 160].any()


def test_banner_is_a_red_bar_at_the_top():
    frame = np.zeros(HW + (3,), np.uint8)
    out = _draw(frame, banner="STAND-IN MODELS: gaze, depth, sam")
    np.testing.assert_array_equal(out[1, HW[1] - 2], BANNER_COLOR)  # top-right corner: bar, no text
    red = (out[:, :, 2] == BANNER_COLOR[2]) & (out[:, :, 0] == 0)
    assert red[:10].mean() > 0.5  # most of the top rows are red
    assert (out[:, :, 2] > 128).any() & (out[:, :, 0] > 128).any()  # white text on it
    assert not _draw(frame, banner=None)[:10].any()


@pytest.mark.parametrize(
    "coords",
    [
        [-1e9, -1e9, 1e9, 1e9],
        [np.nan, 0, 10, 10],
        [np.inf, -np.inf, 5, 5],
        [400, 300, 500, 600],  # entirely off-frame
        [300, 200, 10, 10],  # inverted
    ],
)
def test_never_crashes_on_bad_coordinates(coords):
    box = np.array(coords, np.float32)
    out = _draw(
        np.zeros(HW + (3,), np.uint8),
        mask=np.zeros(HW, np.uint8),
        face_box=box,
        target_box=box,
        target_label="cup 0.87",
        gaze_ray=box,
        status_text="gaze yaw 0.10 pitch -0.20",
        banner="STAND-IN MODELS: gaze, depth",
    )
    assert out.shape == HW + (3,)


def test_tiny_frame_with_long_texts():
    out = _draw(
        np.zeros((32, 32, 3), np.uint8),
        target_box=np.array([0, 0, 31, 31]),
        target_label="a very long label " * 5,
        status_text="a very long status line " * 5,
        banner="STAND-IN MODELS: gaze, depth, sam encoder, sam decoder",
    )
    assert out.shape == (32, 32, 3)
