"""Gaze with the Intel Open Model Zoo chain: the pure pre- and post-processing (numpy and OpenCV only).

The chain, per face box (``../shared/models/SOURCES.md``, "Gaze: Intel Open Model Zoo gaze chain"):

1. :func:`landmark_crop` -> ``landmark_detection.onnx`` (``face_image``) -> ``facial_landmark`` [1, 196]
   -> :func:`landmarks_to_frame` -> 98 frame points (WFLW order).
2. :func:`head_pose_crop` -> ``omz_head_pose_estimation_adas_0001.onnx`` (``data``) -> yaw, pitch, roll (degrees).
3. :func:`eye_crops` (the eyes rotated by ``roll`` so that they are level) -> ``omz_gaze_estimation_adas_0002.onnx``
   fed ``head_pose_angles = (yaw, pitch, 0)`` -> ``gaze_vector`` [1, 3].
4. :func:`gaze_vector_to_yaw_pitch` (rotated back by ``roll``) -> the project's L2CS yaw/pitch (radians).

The served networks do these steps inside their graphs (``build_engines.served_forms``: GridSample crops,
the landmarks mapped to the frame, the eyes roll-aligned and the vector turned back); the functions here
are the numpy/cv2 reference they are checked against (``perf/compare_inputs.py``), and they name the
constants both use.

Coordinates. Frame positions are continuous pixel coordinates: pixel ``(col, row)`` covers
``[col, col + 1) x [row, row + 1)``, so its centre is ``(col + 0.5, row + 0.5)``. Every crop is one
``cv2.warpAffine`` of the frame onto a square window (possibly rotated), sampled at the output pixels'
centres, so a point maps in and out of a crop exactly (no integer rounding of the window; OpenCV
itself places samples to 1/32 pixel).

Degenerate inputs (a box or eye of zero or negative size, NaN or infinite numbers, a frame that is not
H x W x 3 uint8, points that are not (98, 2)) raise ``ValueError`` with the reason: a zero tensor fed to
the networks would give a confident-looking but meaningless gaze, so the caller must decide what to
do. A box that is partly, or even wholly, outside the frame is not degenerate: see each crop's padding.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

LANDMARK_SIDE = 112
"""Side of the landmark network's square input ``face_image`` [1, 3, 112, 112]."""
OMZ_CROP_SIDE = 60
"""Side of the OMZ networks' square inputs: the head-pose face and both eye images, [1, 3, 60, 60]."""
LANDMARK_CROP_SCALE = 1.11
"""The landmark crop's side as a multiple of the face box's longer side (ProxylessGaze)."""
LANDMARK_COUNT = 98
"""WFLW landmarks: ``facial_landmark`` holds 98 (x, y) pairs."""
HEAD_POSE_ENLARGE = (-0.067, -0.028, 0.15, 0.13)
"""OMZ's face-box enlargement before head pose: x += -6.7 % w, y += -2.8 % h, w += 15 %, h += 13 %."""
EYE_BOX_SCALE = 1.8
"""An eye crop's side as a multiple of the distance between the eye's two corners (OMZ)."""
LEFT_EYE_CORNERS = (60, 64)
"""WFLW indices of the image-left eye's corners (outer, inner): the subject's right eye."""
RIGHT_EYE_CORNERS = (68, 72)
"""WFLW indices of the image-right eye's corners (inner, outer): the subject's left eye."""
ROLL_SIGN = 1.0
"""Head-pose roll -> image tilt: a head rolled by ``roll`` degrees has its eye line at ``ROLL_SIGN * roll``
degrees in the frame, measured from image-right towards image-down (clockwise on screen). Measured on
the real head-pose network by rotating the webcam photo by +-10 and +-20 degrees: positive roll = the
head tilted clockwise on screen (its image-right side down), roll within ~2 degrees of the eye line."""


def _check_frame(frame: np.ndarray) -> None:
    """Raise ValueError unless ``frame`` is a non-empty H x W x 3 uint8 image."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be an H x W x 3 uint8 BGR image, got {_describe(frame)}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"frame is empty: shape {frame.shape}")


def _describe(value: object) -> str:
    """``dtype`` and shape of an array, or the type of anything else, for error messages."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


def _box_corner_size(face_box: np.ndarray) -> tuple[float, float, float, float]:
    """(4,) ``x1, y1, x2, y2`` -> ``(x1, y1, w, h)``; ValueError when not 4 finite numbers with w, h > 0."""
    box = np.asarray(face_box, dtype=np.float64)
    if box.size != 4:
        raise ValueError(f"face_box must hold 4 numbers x1, y1, x2, y2, got shape {box.shape}")
    x1, y1, x2, y2 = (float(v) for v in box.reshape(4))
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise ValueError(f"face_box has a non-finite coordinate: {[x1, y1, x2, y2]}")
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"face_box has no area (need x2 > x1 and y2 > y1): {[x1, y1, x2, y2]}")
    return x1, y1, x2 - x1, y2 - y1


def _sample_square(
    frame: np.ndarray,
    centre: tuple[float, float],
    side: float,
    angle_rad: float,
    out_side: int,
    interpolation: int,
    border_mode: int,
) -> np.ndarray:
    """The frame's square window of ``side`` px about ``centre``, resampled to ``out_side`` x ``out_side`` x 3 uint8.

    The window's x axis points along ``(cos a, sin a)`` in the frame (y down), so content lying at angle
    ``a`` in the frame is horizontal in the output. Output pixel ``(j, i)`` is the frame at continuous
    position ``centre + (side / out_side) * R(a) @ (j + 0.5 - out_side / 2, i + 0.5 - out_side / 2)``;
    positions outside the frame follow ``border_mode`` (constant 0 or replicate). uint8 saturates, so
    cubic overshoot stays in 0..255.
    """
    scale = side / out_side
    cos_a, sin_a = math.cos(angle_rad), math.sin(angle_rad)
    linear = scale * np.array([[cos_a, -sin_a], [sin_a, cos_a]], dtype=np.float64)
    first_centre = np.full(2, 0.5 - out_side / 2.0)  # output pixel (0, 0) relative to the window centre
    # cv2 addresses a pixel by its centre: continuous x -> cv2 x - 0.5.
    offset = np.asarray(centre, dtype=np.float64) - 0.5 + linear @ first_centre
    matrix = np.concatenate([linear, offset[:, None]], axis=1)
    return cv2.warpAffine(
        frame,
        matrix,
        (out_side, out_side),
        flags=interpolation | cv2.WARP_INVERSE_MAP,
        borderMode=border_mode,
        borderValue=(0, 0, 0),
    )


def _to_nchw(image: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """H x W x 3 uint8 -> float32 [1, 3, H, W] times ``scale`` (channel order kept: BGR)."""
    tensor = image.astype(np.float32).transpose(2, 0, 1)[None]
    if scale != 1.0:
        tensor *= np.float32(scale)
    return np.ascontiguousarray(tensor)


def landmark_crop(frame: np.ndarray, face_box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The landmark network's input for one face, and where it lies in the frame.

    ``frame`` H x W x 3 uint8 BGR; ``face_box`` (4,) ``x1, y1, x2, y2`` frame pixels. The window is the
    square of side ``1.11 * max(w, h)`` centred on the box centre (ProxylessGaze), bilinear, **zero**
    outside the frame (a box wholly outside gives an all-zero image).

    Returns ``face_image`` float32 [1, 3, 112, 112] BGR / 255, and the geometry float32 (3,)
    ``x0, y0, side``: the window is ``[x0, x0 + side] x [y0, y0 + side]`` in frame pixels, which is what
    :func:`landmarks_to_frame` needs.
    """
    _check_frame(frame)
    x1, y1, w, h = _box_corner_size(face_box)
    side = LANDMARK_CROP_SCALE * max(w, h)
    centre = (x1 + w / 2.0, y1 + h / 2.0)
    image = _sample_square(frame, centre, side, 0.0, LANDMARK_SIDE, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)
    geometry = np.array([centre[0] - side / 2.0, centre[1] - side / 2.0, side], dtype=np.float32)
    return _to_nchw(image, 1.0 / 255.0), geometry


def landmarks_to_frame(landmarks: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """``facial_landmark`` [1, 196] (x, y pairs in 0..1 of the crop) + geometry (3,) -> float32 (98, 2) frame pixels.

    ``crop`` is :func:`landmark_crop`'s ``x0, y0, side``: a point ``(u, v)`` is ``(x0 + u * side, y0 + v * side)``.
    """
    values = np.asarray(landmarks, dtype=np.float64)
    if values.size != 2 * LANDMARK_COUNT:
        raise ValueError(f"landmarks must hold {2 * LANDMARK_COUNT} numbers, got shape {values.shape}")
    geometry = np.asarray(crop, dtype=np.float64)
    if geometry.size != 3 or not np.isfinite(geometry).all() or geometry.reshape(3)[2] <= 0:
        raise ValueError(f"crop must be (3,) finite x0, y0, side with side > 0, got {geometry.reshape(-1)}")
    x0, y0, side = geometry.reshape(3)
    points = values.reshape(LANDMARK_COUNT, 2) * side + np.array([x0, y0])
    return points.astype(np.float32)


def head_pose_window(face_box: np.ndarray) -> tuple[float, float, float]:
    """OMZ's head-pose window for a (4,) face box: ``(centre_x, centre_y, side)`` in frame pixels.

    The box is enlarged (x -6.7 % w, y -2.8 % h, w +15 %, h +13 %), then squared about its centre with
    side ``max(w', h')``.
    """
    x1, y1, w, h = _box_corner_size(face_box)
    dx, dy, dw, dh = HEAD_POSE_ENLARGE
    left, top, width, height = x1 + dx * w, y1 + dy * h, w * (1 + dw), h * (1 + dh)
    return left + width / 2.0, top + height / 2.0, max(width, height)


def head_pose_crop(frame: np.ndarray, face_box: np.ndarray) -> np.ndarray:
    """The head-pose network's ``data`` float32 [1, 3, 60, 60], BGR 0..255, for a (4,) face box.

    The window is :func:`head_pose_window`, bicubic (OMZ resizes with ``INTER_CUBIC``). Where it leaves
    the frame the edge pixels are **replicated** (clipping the window instead would stretch the face and
    bias the pose; black would put a hard edge next to it). Negative coordinates never wrap around.
    """
    _check_frame(frame)
    cx, cy, side = head_pose_window(face_box)
    image = _sample_square(frame, (cx, cy), side, 0.0, OMZ_CROP_SIDE, cv2.INTER_CUBIC, cv2.BORDER_REPLICATE)
    return _to_nchw(image)


def _check_points(points: np.ndarray) -> np.ndarray:
    """(98, 2) frame landmarks as float64; ValueError when the shape is wrong."""
    values = np.asarray(points, dtype=np.float64)
    if values.shape != (LANDMARK_COUNT, 2):
        raise ValueError(f"points must be ({LANDMARK_COUNT}, 2) frame landmarks, got shape {values.shape}")
    return values


def eye_window(points: np.ndarray, corners: tuple[int, int]) -> tuple[float, float, float]:
    """OMZ ``createEyeBoundingBox``: ``(centre_x, centre_y, side)`` of one eye's square, frame pixels.

    Centred on the midpoint of the two corner landmarks ``corners`` of the (98, 2) ``points``, side
    ``1.8 x`` their distance. ValueError when the corners are non-finite or coincide.
    """
    values = _check_points(points)
    a, b = values[corners[0]], values[corners[1]]
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"eye corners {corners} are not finite: {a.tolist()}, {b.tolist()}")
    distance = float(np.hypot(*(b - a)))
    if distance <= 0:
        raise ValueError(f"eye corners {corners} coincide at {a.tolist()}: the eye has no size")
    centre = (a + b) / 2.0
    return float(centre[0]), float(centre[1]), EYE_BOX_SCALE * distance


def roll_to_image_angle(roll_deg: float) -> float:
    """Head roll (degrees, head-pose network) -> the eye line's angle in the frame (radians, y down).

    ValueError when ``roll_deg`` is not finite.
    """
    roll = float(roll_deg)
    if not math.isfinite(roll):
        raise ValueError(f"roll_deg must be finite, got {roll_deg}")
    return math.radians(ROLL_SIGN * roll)


def eye_crops(frame: np.ndarray, points: np.ndarray, roll_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """The gaze network's ``left_eye_image`` and ``right_eye_image``, each float32 [1, 3, 60, 60] BGR 0..255.

    ``points`` (98, 2) frame landmarks (:func:`landmarks_to_frame`); left = the image-left eye (corners
    60, 64), right = the image-right eye (68, 72). Each window is :func:`eye_window`, rotated by the
    head's ``roll_deg`` about its centre so that a rolled head's eyes come out level (OMZ's roll
    alignment; feed the network ``(yaw, pitch, 0)`` and undo it with :func:`gaze_vector_to_yaw_pitch`).
    The rotated window is sampled straight from the frame (bicubic), so its corners hold real pixels,
    not black; outside the frame the edge pixels are replicated.
    """
    _check_frame(frame)
    angle = roll_to_image_angle(roll_deg)
    crops = []
    for corners in (LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS):
        cx, cy, side = eye_window(points, corners)
        image = _sample_square(frame, (cx, cy), side, angle, OMZ_CROP_SIDE, cv2.INTER_CUBIC, cv2.BORDER_REPLICATE)
        crops.append(_to_nchw(image))
    return crops[0], crops[1]


def gaze_vector_to_yaw_pitch(vector: np.ndarray, roll_deg: float) -> tuple[float, float]:
    """``gaze_vector`` (3,) or [1, 3] from roll-aligned eyes -> ``(yaw, pitch)`` radians, L2CS convention.

    The vector (x image-right, y up, z from the camera, -z = into the lens) is first rotated back about
    z by the alignment :func:`eye_crops` applied, then ``g = v / |v|``, ``yaw = atan2(-g.x, -g.z)``,
    ``pitch = asin(g.y)``: +yaw looks towards image-left, +pitch up (``gaze.gaze_direction``).
    ValueError when the vector is not 3 finite numbers or is zero.
    """
    v = np.asarray(vector, dtype=np.float64)
    if v.size != 3:
        raise ValueError(f"gaze vector must hold 3 numbers, got shape {v.shape}")
    x, y, z = (float(c) for c in v.reshape(3))
    if not all(math.isfinite(c) for c in (x, y, z)):
        raise ValueError(f"gaze vector is not finite: {[x, y, z]}")
    norm = math.sqrt(x * x + y * y + z * z)
    if norm == 0:
        raise ValueError("gaze vector is zero: no direction")
    # The crop's x axis is the frame's (cos a, sin a) with y down, i.e. (cos a, -sin a) with y up; its
    # up axis is the frame's (sin a, cos a) with y up. Express the vector in the frame's axes.
    angle = roll_to_image_angle(roll_deg)
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    x, y = x * cos_a + y * sin_a, -x * sin_a + y * cos_a
    x, y, z = x / norm, y / norm, z / norm
    yaw = math.atan2(-x, -z)
    pitch = math.asin(min(max(y, -1.0), 1.0))
    return yaw, pitch
