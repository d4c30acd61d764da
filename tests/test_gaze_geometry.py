"""Gaze: face crop (bug §6.2.5), colour order (bug §6.2.10), direction and exact ray exit (bug §6.2.8)."""

import math

import numpy as np
import pytest

from gazesam.contracts import GAZE
from gazesam.gaze import crop_face, gaze_direction, gaze_ray, preprocess_gaze, ray_exit_point

FRAME_HW = (480, 640)  # rectangle [0, 639] x [0, 479]
ORIGIN = (100.0, 240.0)


@pytest.mark.parametrize(
    "direction, exit_point",
    [
        ((1, 0), (639, 240)),  # right border: t = 639 - 100 = 539
        ((-1, 0), (0, 240)),  # left border: t = 100
        ((0, -1), (100, 0)),  # top border: t = 240
        ((0, 1), (100, 479)),  # bottom border: t = 479 - 240 = 239
        # Reference §3.3: slope -0.6 up-right. t_x = 539, t_y = 240 / 0.6 = 400 -> t = 400:
        # (100 + 400, 240 - 0.6 * 400) = (500, 0). Upstream returned (639, -83).
        ((1, -0.6), (500, 0)),
        # Right border below the middle: t_x = 539, t_y = 239 / 0.2 = 1195 -> (639, 240 + 107.8)
        ((1, 0.2), (639, 347.8)),
        # Steep down-left: t_x = 100 / 0.1 = 1000, t_y = 239 -> (100 - 23.9, 479)
        ((-0.1, 1), (76.1, 479)),
        # Corners: aiming exactly at a corner gives t_x == t_y.
        ((-100, -240), (0, 0)),  # t_x = 100/100 = 1, t_y = 240/240 = 1
        ((539, -240), (639, 0)),
        ((539, 239), (639, 479)),
        ((-100, 239), (0, 479)),
        # Scaling the direction does not move the exit point (upstream LEN = 15 only scales).
        ((15, -9), (500, 0)),
    ],
)
def test_ray_exit_point_on_every_border_and_corner(direction, exit_point):
    x, y = ray_exit_point(ORIGIN, direction, FRAME_HW)
    assert (x, y) == pytest.approx(exit_point, abs=1e-9)


def test_ray_exit_point_zero_direction_is_origin():
    assert ray_exit_point(ORIGIN, (0.0, 0.0), FRAME_HW) == ORIGIN
    assert ray_exit_point(ORIGIN, (math.nan, 1.0), FRAME_HW) == ORIGIN


def test_ray_exit_point_origin_outside_is_clamped_first():
    # (-50, 600) -> clamped to (0, 479); heading right -> (639, 479).
    assert ray_exit_point((-50, 600), (1, 0), FRAME_HW) == pytest.approx((639, 479))
    # From (0, 479) up-right at 45 degrees: t_x = 639, t_y = 479 -> (479, 0).
    assert ray_exit_point((-50, 600), (1, -1), FRAME_HW) == pytest.approx((479, 0))
    # On the border heading out: t = 0, the origin itself.
    assert ray_exit_point((639, 240), (1, 0), FRAME_HW) == pytest.approx((639, 240))


def test_gaze_direction_convention():
    # Looking at the camera: no image-plane direction.
    assert gaze_direction(0.0, 0.0) == pytest.approx((0.0, 0.0))
    # +yaw = toward image-left: dx = -sin(pi/2) cos(0) = -1.
    assert gaze_direction(math.pi / 2, 0.0) == pytest.approx((-1.0, 0.0))
    # +pitch = up: dy = -sin(pi/6) = -0.5, dx = -sin(0) = 0.
    assert gaze_direction(0.0, math.pi / 6) == pytest.approx((0.0, -0.5))
    # dx = -sin(-pi/6) cos(pi/3) = 0.5 * 0.5 = 0.25; dy = -sin(pi/3) = -0.866
    assert gaze_direction(-math.pi / 6, math.pi / 3) == pytest.approx((0.25, -math.sqrt(3) / 2))


def test_gaze_ray_from_face_centre_to_exact_exit():
    # Face box (90, 200, 110, 280): centre (100, 240) (float, not truncated).
    # pitch = asin(0.3) -> dy = -0.3; yaw with -sin(yaw) cos(pitch) = 0.5 -> direction (0.5, -0.3),
    # slope -0.6 -> exit (500, 0) as in the reference example.
    pitch = math.asin(0.3)
    yaw = math.asin(-0.5 / math.cos(pitch))
    ray = gaze_ray(np.array([90, 200, 110, 280], np.float32), yaw, pitch, FRAME_HW)
    assert ray.dtype == np.float32 and ray.shape == (4,)
    np.testing.assert_allclose(ray, [100, 240, 500, 0], atol=1e-3)
    # An odd-sized box keeps the half pixel: (91 + 110) / 2 = 100.5.
    ray = gaze_ray(np.array([91, 200, 110, 281], np.float32), 0.0, 0.0, FRAME_HW)
    np.testing.assert_allclose(ray, [100.5, 240.5, 100.5, 240.5])


def _landscape_frame() -> np.ndarray:
    """1280x720 frame whose pixel (x, y) holds x % 256, y % 256, 7."""
    ys, xs = np.mgrid[:720, :1280]
    return np.stack([xs % 256, ys % 256, np.full_like(xs, 7)], axis=-1).astype(np.uint8)


def test_crop_face_right_of_x_equals_height():
    # Regression for bug 5: on a 1280x720 frame upstream clamped x2 by H = 720, so a face at
    # x = 900..1000 came out empty. Inclusive box -> columns 900..1000 (101), rows 100..250 (151).
    frame = _landscape_frame()
    crop = crop_face(frame, np.array([900, 100, 1000, 250], np.float32))
    assert crop is not None and crop.shape == (151, 101, 3)
    assert crop[0, 0, 0] == 900 % 256 and crop[0, 0, 1] == 100
    assert crop[-1, -1, 0] == 1000 % 256 and crop[-1, -1, 1] == 250


def test_crop_face_clamps_x_by_width_and_y_by_height():
    frame = _landscape_frame()
    # x2 = 1500 clamps to the width (last column 1279), y2 = 900 to the height (last row 719).
    crop = crop_face(frame, np.array([1200, 700, 1500, 900], np.float32))
    assert crop.shape == (20, 80, 3)  # rows 700..719, columns 1200..1279
    crop = crop_face(frame, np.array([-20.5, -3, 9.9, 4.2], np.float32))  # floor: columns 0..9, rows 0..4
    assert crop.shape == (5, 10, 3)


@pytest.mark.parametrize(
    "box",
    [[1300, 10, 1400, 50], [10, 800, 50, 900], [-100, 10, -20, 50], [50, 50, 40, 60], [np.nan, 0, 10, 10]],
)
def test_crop_face_empty_is_none(box):
    assert crop_face(_landscape_frame(), np.array(box, np.float32)) is None


def test_preprocess_gaze_is_rgb_then_imagenet():
    crop = np.zeros((64, 64, 3), np.uint8)
    crop[..., 0] = 255  # pure blue in BGR
    tensor = preprocess_gaze(crop)
    assert tensor.shape == GAZE.input("input").shape and tensor.dtype == np.float32
    # RGB order: blue lands in channel 2, normalised with the *blue* statistics:
    # channel 0 (R = 0): (0 - 0.485) / 0.229 = -2.1179; channel 2 (B = 1): (1 - 0.406) / 0.225 = 2.64.
    np.testing.assert_allclose(tensor[0, 0], -0.485 / 0.229, rtol=1e-5)
    np.testing.assert_allclose(tensor[0, 1], -0.456 / 0.224, rtol=1e-5)
    np.testing.assert_allclose(tensor[0, 2], (1 - 0.406) / 0.225, rtol=1e-5)


def test_preprocess_gaze_letterbox_pads_black_before_normalising():
    crop = np.full((50, 100, 3), 255, np.uint8)  # 2:1 -> 448 x 224 content, 112 rows of pad each side
    tensor = preprocess_gaze(crop)
    np.testing.assert_allclose(tensor[0, 0, 0], -0.485 / 0.229, rtol=1e-5)  # black pad
    np.testing.assert_allclose(tensor[0, 0, 224], (1 - 0.485) / 0.229, rtol=1e-5)  # white content
