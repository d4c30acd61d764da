"""The Python steps and hooks that belong to one network family (the registry, :mod:`gazesam.networks`, names them).

Steps here read and write global tensor names only; each family's networks map their own tensor names
onto those in the registry.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import detector, gaze, omz_gaze
from .contracts import GAZE, HEAD_POSE, LANDMARKS, OMZ_GAZE
from .frame_check import check_frame_size
from .settings import Settings
from .step import Step


def frame_hw_of(frame_hw: np.ndarray) -> tuple[int, int]:
    """FRAME_HW as (height, width), checked: a step sizes masks from it, so a direct call cannot exhaust memory."""
    height, width = int(frame_hw[0]), int(frame_hw[1])
    check_frame_size(height, width)
    return height, width


# --- gaze: what face_track hands the gaze networks ----------------------------------------------


def l2cs_face_inputs(frame: np.ndarray, face_box: np.ndarray | None) -> dict[str, np.ndarray]:
    """``L2CS_FACE``: the face crop letterboxed for L2CS-Net (zeros without a face)."""
    crop = None if face_box is None else gaze.crop_face(frame, face_box)
    if crop is None:
        return {"L2CS_FACE": np.zeros(GAZE.input("input").shape, np.float32)}
    return {"L2CS_FACE": gaze.preprocess_gaze(crop)}


l2cs_face_inputs.tensors = ("L2CS_FACE",)


def omz_face_inputs(frame: np.ndarray, face_box: np.ndarray | None) -> dict[str, np.ndarray]:
    """``LANDMARK_FACE`` (+ its ``LANDMARK_CROP`` geometry) and ``HEAD_POSE_FACE`` (zeros without a face)."""
    if face_box is None:
        return {
            "LANDMARK_FACE": np.zeros(LANDMARKS.input("face_image").shape, np.float32),
            "LANDMARK_CROP": np.zeros(3, np.float32),
            "HEAD_POSE_FACE": np.zeros(HEAD_POSE.input("data").shape, np.float32),
        }
    landmark_face, crop = omz_gaze.landmark_crop(frame, face_box)
    return {
        "LANDMARK_FACE": landmark_face,
        "LANDMARK_CROP": np.asarray(crop, np.float32),
        "HEAD_POSE_FACE": omz_gaze.head_pose_crop(frame, face_box),
    }


omz_face_inputs.tensors = ("LANDMARK_FACE", "LANDMARK_CROP", "HEAD_POSE_FACE")


def _eye_crops(
    settings: Settings,
    VALID_FRAME: np.ndarray,
    FACE_TRACK_ID: np.ndarray,
    FACE_LANDMARKS: np.ndarray,
    LANDMARK_CROP: np.ndarray,
    HEAD_YAW: np.ndarray,
    HEAD_PITCH: np.ndarray,
    HEAD_ROLL: np.ndarray,
) -> dict[str, np.ndarray]:
    """Roll-aligned 60x60 eye crops at the landmarks' eye corners, and the head pose the gaze network takes."""
    eye_shape = OMZ_GAZE.input("left_eye_image").shape
    if int(FACE_TRACK_ID[0]) == 0:
        zeros = np.zeros(eye_shape, np.float32)
        return {"LEFT_EYE": zeros, "RIGHT_EYE": zeros.copy(), "EYE_HEAD_POSE": np.zeros((1, 3), np.float32)}
    points = omz_gaze.landmarks_to_frame(FACE_LANDMARKS, LANDMARK_CROP)
    roll = float(HEAD_ROLL.reshape(-1)[0])
    left, right = omz_gaze.eye_crops(VALID_FRAME, points, roll)
    # Roll alignment (OMZ's default): the crops are rotated upright, so the network sees roll 0.
    pose = np.array([[float(HEAD_YAW.reshape(-1)[0]), float(HEAD_PITCH.reshape(-1)[0]), 0.0]], np.float32)
    return {"LEFT_EYE": left, "RIGHT_EYE": right, "EYE_HEAD_POSE": pose}


def _gaze_decode(settings: Settings, GAZE_VECTOR: np.ndarray, HEAD_ROLL: np.ndarray) -> dict[str, np.ndarray]:
    """OMZ gaze vector (roll-aligned) -> ``GAZE_ANGLES`` yaw, pitch in radians, L2CS convention (zeros if none)."""
    vector = np.asarray(GAZE_VECTOR, np.float64).reshape(-1)[:3]
    if not np.isfinite(vector).all() or not vector.any():
        return {"GAZE_ANGLES": np.zeros((1, 2), np.float32)}
    yaw, pitch = omz_gaze.gaze_vector_to_yaw_pitch(vector, float(HEAD_ROLL.reshape(-1)[0]))
    return {"GAZE_ANGLES": np.array([[yaw, pitch]], np.float32)}


def omz_gaze_steps() -> tuple[Step, ...]:
    return (
        Step("eye_crops", _eye_crops, ("LEFT_EYE", "RIGHT_EYE", "EYE_HEAD_POSE")),
        Step("gaze_decode", _gaze_decode, ("GAZE_ANGLES",)),
    )


# --- object detection ---------------------------------------------------------------------------


def _detections(dets: detector.Detections) -> dict[str, np.ndarray]:
    return {
        "DET_BOXES": dets.boxes.astype(np.float32).reshape(-1, 4),
        "DET_SCORES": dets.scores.astype(np.float32).reshape(-1),
        "DET_CLASSES": dets.classes.astype(np.int32).reshape(-1),
    }


def _yolox_preprocess(settings: Settings, VALID_FRAME: np.ndarray) -> dict[str, np.ndarray]:
    """Letterbox the frame for YOLOX (416x416 top-left, pad 114, BGR 0..255)."""
    return {"DETECTOR_INPUT": detector.preprocess_yolox(VALID_FRAME)}


def _yolo_nas_preprocess(settings: Settings, VALID_FRAME: np.ndarray) -> dict[str, np.ndarray]:
    """Resize and centre-pad the frame for YOLO-NAS (640x640 uint8 RGB)."""
    return {"DETECTOR_INPUT": detector.preprocess_yolo_nas(VALID_FRAME)}


def _yolox_postprocess(settings: Settings, DETECTOR_GRID: np.ndarray, FRAME_HW: np.ndarray) -> dict[str, np.ndarray]:
    """Decode YOLOX's grid output into frame-pixel detections (NMS, class filter)."""
    s = settings.detector
    dets = detector.decode_yolox(DETECTOR_GRID, frame_hw_of(FRAME_HW), s.score_threshold, s.nms_iou)
    return _detections(detector.filter_classes(dets, s.allowed_class_ids))


def _yolo_nas_postprocess(
    settings: Settings,
    DETECTOR_COUNT: np.ndarray,
    DETECTOR_BOXES: np.ndarray,
    DETECTOR_SCORES: np.ndarray,
    DETECTOR_CLASSES: np.ndarray,
    FRAME_HW: np.ndarray,
) -> dict[str, np.ndarray]:
    """Map YOLO-NAS detections (NMS in its graph) to frame pixels (class filter)."""
    dets = detector.parse_yolo_nas(
        DETECTOR_COUNT, DETECTOR_BOXES, DETECTOR_SCORES, DETECTOR_CLASSES, frame_hw_of(FRAME_HW)
    )
    return _detections(detector.filter_classes(dets, settings.detector.allowed_class_ids))


def detector_steps(family: str) -> tuple[Step, Step]:
    """``detector_preprocess`` and ``detector_postprocess`` of detector ``family``."""
    yolox = family == "yolox"
    outputs = ("DET_BOXES", "DET_SCORES", "DET_CLASSES")
    return (
        Step("detector_preprocess", _yolox_preprocess if yolox else _yolo_nas_preprocess, ("DETECTOR_INPUT",)),
        Step("detector_postprocess", _yolox_postprocess if yolox else _yolo_nas_postprocess, outputs),
    )


# --- depth and SAM encoder pre-processing -------------------------------------------------------


def depth_preprocess_step(preprocess: Callable[[np.ndarray], np.ndarray]) -> Step:
    """``depth_preprocess``: the frame -> the depth family's ``DEPTH_INPUT`` (``preprocess`` says how)."""

    def depth_preprocess(settings: Settings, VALID_FRAME: np.ndarray) -> dict[str, np.ndarray]:
        return {"DEPTH_INPUT": preprocess(VALID_FRAME)}

    depth_preprocess.__doc__ = (preprocess.__doc__ or "").strip().splitlines()[0]
    return Step("depth_preprocess", depth_preprocess, ("DEPTH_INPUT",))


def sam_preprocess_step(preprocess: Callable[[np.ndarray], np.ndarray]) -> Step:
    """``sam_preprocess``: the frame -> the SAM family's ``SAM_INPUT`` at its native resolution."""

    def sam_preprocess(settings: Settings, VALID_FRAME: np.ndarray) -> dict[str, np.ndarray]:
        return {"SAM_INPUT": preprocess(VALID_FRAME)}

    sam_preprocess.__doc__ = (preprocess.__doc__ or "").strip().splitlines()[0]
    return Step("sam_preprocess", sam_preprocess, ("SAM_INPUT",))
