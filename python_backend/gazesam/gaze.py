"""Gaze estimation with L2CS-Net: face crop, pre-processing, and the gaze ray in the image.

The served L2CS graph crops the face box and letterboxes it itself (:data:`L2CS_INPUT`);
:func:`crop_face` and :func:`preprocess_gaze` are the cv2 reference it is checked against.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .contracts import GAZE, spatial_size
from .frame_input import FrameInput
from .geometry import FrameResize, ResizeRule

L2CS_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
"""ImageNet statistics L2CS-Net was trained with, RGB order, on 0..1 pixels."""
L2CS_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
L2CS_INPUT = FrameInput(ResizeRule("letterbox_centred", spatial_size(GAZE.input("input"))), "area_or_cubic", "rgb",
                        pad=0.0, divisor=255.0, mean=tuple(L2CS_MEAN.tolist()), std=tuple(L2CS_STD.tolist()))
"""The face crop (:func:`crop_face`) letterboxed onto 448x448 (centred, black; upstream: INTER_AREA down,
INTER_CUBIC up), RGB, ImageNet-normalised (upstream applied the RGB statistics to BGR, bug §6.2.10)."""


def crop_face(frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The pixels of the (4,) inclusive face ``box`` in the H x W x 3 ``frame``, or None when empty.

    Columns are clamped by the frame's width and rows by its height (upstream swapped them, bug
    §6.2.5). Returns a view into ``frame``.
    """
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box).reshape(4))
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        return None
    left, top = max(math.floor(x1), 0), max(math.floor(y1), 0)
    right, bottom = min(math.floor(x2) + 1, width), min(math.floor(y2) + 1, height)
    if right <= left or bottom <= top:
        return None
    return frame[top:bottom, left:right]


def preprocess_gaze(crop: np.ndarray) -> np.ndarray:
    """BGR uint8 face crop -> float32 [1, 3, 448, 448] RGB, ImageNet-normalised.

    Converted to RGB *before* normalising (upstream applied the RGB statistics to BGR, bug §6.2.10),
    then letterboxed (centred, black: :meth:`FrameResize.letterbox_centred`) as upstream.
    """
    input_hw = spatial_size(GAZE.input("input"))
    resize = FrameResize.letterbox_centred(crop.shape[:2], input_hw)
    shrinking = crop.shape[0] > input_hw[0] or crop.shape[1] > input_hw[1]  # upstream: AREA down, CUBIC up
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    square = resize.apply_image(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB), 0, interpolation)
    normalised = (square.astype(np.float32) / 255.0 - L2CS_MEAN) / L2CS_STD
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None], dtype=np.float32)


def gaze_direction(yaw: float, pitch: float) -> tuple[float, float]:
    """Image-plane gaze direction ``(dx, dy)`` for yaw/pitch in radians (L2CS ``draw_gaze`` convention).

    ``dx = -sin(yaw) cos(pitch)``, ``dy = -sin(pitch)``: +yaw looks toward image-left, +pitch up.
    """
    return -math.sin(yaw) * math.cos(pitch), -math.sin(pitch)


def ray_exit_point(
    origin: tuple[float, float], direction: tuple[float, float], frame_hw: tuple[int, int]
) -> tuple[float, float]:
    """Where the ray ``origin + t * direction`` (t >= 0) leaves the rectangle ``[0, W-1] x [0, H-1]``.

    The origin is first clamped into the rectangle; a zero (or non-finite) direction returns it.
    For each axis the ray moves along, ``t`` to reach that axis's far border is computed; the
    smallest one is the exit (Liang-Barsky with the entry at t = 0).
    """
    height, width = frame_hw
    x0 = min(max(float(origin[0]), 0.0), width - 1.0)
    y0 = min(max(float(origin[1]), 0.0), height - 1.0)
    dx, dy = float(direction[0]), float(direction[1])
    if not (math.isfinite(dx) and math.isfinite(dy)) or (dx == 0 and dy == 0):
        return x0, y0
    t = min(_steps_to_border(x0, dx, width - 1.0), _steps_to_border(y0, dy, height - 1.0))
    x = min(max(x0 + t * dx, 0.0), width - 1.0)
    y = min(max(y0 + t * dy, 0.0), height - 1.0)
    return x, y


def _steps_to_border(start: float, step: float, far: float) -> float:
    """Ray parameter at which ``start + t * step`` reaches 0 or ``far``; inf when ``step == 0``."""
    if step > 0:
        return (far - start) / step
    if step < 0:
        return -start / step
    return math.inf


def gaze_ray(
    face_box: np.ndarray, yaw: float, pitch: float, frame_hw: tuple[int, int]
) -> np.ndarray:
    """Gaze ray float32 (4,) ``x0, y0, x1, y1``: from the face-box centre to where it leaves the frame.

    ``(x0, y0)`` is the (float) centre of the (4,) face box, clamped into the frame when the box is
    not; ``(x1, y1)`` is :func:`ray_exit_point` along :func:`gaze_direction`.

    The gaze networks see only the face crop, so their yaw and pitch are relative to the line of
    sight from the camera to the face (looking into the lens is (0, 0) wherever the face is); to first
    order such a gaze projects along :func:`gaze_direction` anywhere in the image. (Treating them as
    camera-frame angles and projecting with a pinhole model doubled the harness's gaze error.)
    """
    x1, y1, x2, y2 = (float(v) for v in np.asarray(face_box).reshape(4))
    height, width = frame_hw
    centre = (min(max((x1 + x2) / 2, 0.0), width - 1.0), min(max((y1 + y2) / 2, 0.0), height - 1.0))
    end = ray_exit_point(centre, gaze_direction(yaw, pitch), frame_hw)
    return np.array([*centre, *end], dtype=np.float32)
