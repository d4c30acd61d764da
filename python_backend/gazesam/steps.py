"""The pipeline's Python steps: plain functions over numpy arrays, each one Triton model.

A :class:`Step` names its tensors (specs), and ``run(settings, **inputs)`` returns a dict of outputs.
The Triton adapter (``python_backend/gazesam_triton``) and the in-process pipeline both call these
same functions, so the served ensemble and the oracle compute the same thing.

Empty results never produce empty tensors (an ensemble cannot skip a step, and a decoder profile
starts at one box): counts and flags travel beside fixed-size, zero-filled tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import depth, detector, face, fusion, gaze, sam
from .contracts import (
    DEPTH,
    DETECTOR_FAMILIES,
    FACE,
    GAZE,
    MASK_ON,
    MAX_PROMPTS,
    SAM_DECODER,
    SAM_ENCODER,
    Status,
    TensorSpec,
)
from .frame_check import check_frame
from .settings import Settings

StepFn = Callable[..., dict[str, np.ndarray]]


@dataclass(frozen=True)
class Step:
    """One Python-backend model: its tensors and the function that maps inputs to outputs."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    run: StepFn  # run(settings, **inputs) -> {output name: array}


FRAME = TensorSpec("FRAME", "uint8", (-1, -1, 3))
VALID_FRAME = TensorSpec("VALID_FRAME", "uint8", (-1, -1, 3))
FRAME_HW = TensorSpec("FRAME_HW", "int32", (2,))
FACE_RATIO = TensorSpec("FACE_RATIO", "float32", (1,))
FACE_BOX = TensorSpec("FACE_BOX", "float32", (4,))
FACE_SCORE = TensorSpec("FACE_SCORE", "float32", (1,))
DETECTOR_TRANSFORM = TensorSpec("DETECTOR_TRANSFORM", "float32", (3,))  # scale, pad_x, pad_y
DET_BOXES = TensorSpec("DET_BOXES", "float32", (-1, 4))
DET_SCORES = TensorSpec("DET_SCORES", "float32", (-1,))
DET_CLASSES = TensorSpec("DET_CLASSES", "int32", (-1,))
GAZE_YAW_PITCH = TensorSpec("GAZE_YAW_PITCH", "float32", (2,))
GAZE_RAY = TensorSpec("GAZE_RAY", "float32", (4,))
PROMPT_COUNT = TensorSpec("PROMPT_COUNT", "int32", (1,))
PROMPT_BOXES = TensorSpec("PROMPT_BOXES", "float32", (-1, 4))  # frame pixels, one row per prompt
PROMPT_SCORES = TensorSpec("PROMPT_SCORES", "float32", (-1,))
PROMPT_CLASSES = TensorSpec("PROMPT_CLASSES", "int32", (-1,))
NEAR_THRESHOLD = TensorSpec("NEAR_THRESHOLD", "float32", (1,))
STATUS = TensorSpec("STATUS", "int32", (1,))
MASK = TensorSpec("MASK", "uint8", (-1, -1))
TARGET_BOX = TensorSpec("TARGET_BOX", "float32", (4,))
TARGET_CLASS = TensorSpec("TARGET_CLASS", "int32", (1,))
TARGET_SCORE = TensorSpec("TARGET_SCORE", "float32", (1,))

_DUMMY_PROMPT = np.array([[[0.0, 0.0, 1.0, 1.0]]], dtype=np.float32)


def _single_image(spec: TensorSpec) -> TensorSpec:
    """``spec`` with a dynamic batch axis fixed to one image."""
    return TensorSpec(spec.name, spec.dtype, (1,) + spec.shape[1:])


def _frame_hw(frame_hw: np.ndarray) -> tuple[int, int]:
    return int(frame_hw[0]), int(frame_hw[1])


# --- validation: once, before the branches fan out ----------------------------------------------


def _frame_check(settings: Settings, FRAME: np.ndarray) -> dict[str, np.ndarray]:
    """Reject frames outside the documented size/dtype with one clear error, before any branch runs."""
    check_frame(FRAME)
    return {"VALID_FRAME": FRAME}


# --- face branch ---------------------------------------------------------------------------------


def _face_preprocess(settings: Settings, FRAME: np.ndarray) -> dict[str, np.ndarray]:
    """Letterbox the frame to the face detector's 160x128 input (top-left, pad 114, BGR 0..255)."""
    tensor, ratio = face.preprocess_face(FRAME)
    return {
        "full_image": tensor,
        "FACE_RATIO": np.array([ratio], np.float32),
        "FRAME_HW": np.array(FRAME.shape[:2], np.int32),
    }


def _face_crop(
    settings: Settings, FRAME: np.ndarray, bbox_det: np.ndarray, FACE_RATIO: np.ndarray
) -> dict[str, np.ndarray]:
    """Decode faces (grid + NMS), keep the best, crop and letterbox it for the gaze network (zeros when none)."""
    frame_hw = FRAME.shape[:2]
    faces = face.decode_faces(
        bbox_det, float(FACE_RATIO[0]), frame_hw, settings.face.score_threshold, settings.face.nms_iou
    )
    crop = gaze.crop_face(FRAME, faces[0, :4]) if len(faces) else None
    if crop is None:
        return {
            "input": np.zeros(GAZE.input("input").shape, np.float32),
            "FACE_BOX": np.zeros(4, np.float32),
            "FACE_SCORE": np.zeros(1, np.float32),
        }
    return {
        "input": gaze.preprocess_gaze(crop),
        "FACE_BOX": faces[0, :4].astype(np.float32),
        "FACE_SCORE": faces[0, 4:5].astype(np.float32),
    }


# --- detector branch -----------------------------------------------------------------------------


def _yolox_preprocess(settings: Settings, FRAME: np.ndarray) -> dict[str, np.ndarray]:
    """Letterbox the frame for YOLOX (416x416 top-left, pad 114, BGR 0..255)."""
    tensor, ratio = detector.preprocess_yolox(FRAME)
    return {"images": tensor, "DETECTOR_TRANSFORM": np.array([ratio, 0.0, 0.0], np.float32)}


def _yolo_nas_preprocess(settings: Settings, FRAME: np.ndarray) -> dict[str, np.ndarray]:
    """Resize and centre-pad the frame for YOLO-NAS (640x640 uint8 RGB)."""
    tensor, transform = detector.preprocess_yolo_nas(FRAME)
    return {"input": tensor, "DETECTOR_TRANSFORM": np.asarray(transform, np.float32)}


def _detections(dets: detector.Detections) -> dict[str, np.ndarray]:
    return {
        "DET_BOXES": dets.boxes.astype(np.float32).reshape(-1, 4),
        "DET_SCORES": dets.scores.astype(np.float32).reshape(-1),
        "DET_CLASSES": dets.classes.astype(np.int32).reshape(-1),
    }


def _yolox_postprocess(
    settings: Settings, output: np.ndarray, DETECTOR_TRANSFORM: np.ndarray, FRAME_HW: np.ndarray
) -> dict[str, np.ndarray]:
    """Decode YOLOX's grid output into frame-pixel detections (NMS, class filter)."""
    s = settings.detector
    dets = detector.decode_yolox(
        output, float(DETECTOR_TRANSFORM[0]), _frame_hw(FRAME_HW), s.score_threshold, s.nms_iou
    )
    return _detections(detector.filter_classes(dets, s.allowed_class_ids))


def _yolo_nas_postprocess(num, boxes, scores, classes, settings, transform, frame_hw):
    dets = detector.parse_yolo_nas(num, boxes, scores, classes, tuple(transform), _frame_hw(frame_hw))
    return _detections(detector.filter_classes(dets, settings.detector.allowed_class_ids))


def _yolo_nas_ort_postprocess(
    settings, num_predictions, pred_boxes, pred_scores, pred_classes, DETECTOR_TRANSFORM, FRAME_HW
):
    """Map YOLO-NAS (ONNX Runtime export) detections to frame pixels (class filter)."""
    return _yolo_nas_postprocess(
        num_predictions, pred_boxes, pred_scores, pred_classes, settings, DETECTOR_TRANSFORM, FRAME_HW
    )


def _yolo_nas_trt_postprocess(
    settings, num_dets, det_boxes, det_scores, det_classes, DETECTOR_TRANSFORM, FRAME_HW
):
    """Map YOLO-NAS (EfficientNMS export) detections to frame pixels (class filter)."""
    return _yolo_nas_postprocess(
        num_dets, det_boxes, det_scores, det_classes, settings, DETECTOR_TRANSFORM, FRAME_HW
    )


# --- depth and SAM encoder branches --------------------------------------------------------------


def _depth_preprocess(settings: Settings, FRAME: np.ndarray) -> dict[str, np.ndarray]:
    """Resize the frame to Depth-Anything's 518x518 input (RGB, ImageNet mean/std)."""
    return {"input": depth.preprocess_depth(FRAME)}


def _sam_preprocess(settings: Settings, FRAME: np.ndarray) -> dict[str, np.ndarray]:
    """Resize the longest side to 512 and pad for the SAM encoder (RGB, SAM mean/std)."""
    return {"input_image": sam.preprocess_sam(FRAME)}


# --- fusion: gaze + detections + depth -> box prompts --------------------------------------------


def _gaze_fusion(
    settings: Settings,
    FRAME_HW: np.ndarray,
    FACE_BOX: np.ndarray,
    FACE_SCORE: np.ndarray,
    gaze_yaw_pitch: np.ndarray,
    DET_BOXES: np.ndarray,
    DET_SCORES: np.ndarray,
    DET_CLASSES: np.ndarray,
    output: np.ndarray,
) -> dict[str, np.ndarray]:
    """Gaze ray, face-box/gaze/depth filters over the detections -> at most MAX_PROMPTS SAM box prompts."""
    frame_hw = _frame_hw(FRAME_HW)
    f = settings.fusion
    no_prompts = {
        "boxes": _DUMMY_PROMPT,
        "PROMPT_COUNT": np.zeros(1, np.int32),
        "PROMPT_BOXES": np.zeros((0, 4), np.float32),
        "PROMPT_SCORES": np.zeros(0, np.float32),
        "PROMPT_CLASSES": np.zeros(0, np.int32),
        "NEAR_THRESHOLD": np.zeros(1, np.float32),
    }
    if FACE_SCORE[0] <= 0:
        return {**no_prompts, "GAZE_YAW_PITCH": np.zeros(2, np.float32), "GAZE_RAY": np.zeros(4, np.float32)}

    yaw, pitch = (float(v) for v in gaze_yaw_pitch.reshape(-1)[:2])
    ray = gaze.gaze_ray(FACE_BOX, yaw, pitch, frame_hw)
    dets = detector.Detections(DET_BOXES, DET_SCORES, DET_CLASSES)
    dets = fusion.filter_by_gaze(fusion.drop_boxes_containing(dets, FACE_BOX), ray)

    depth_map = depth.normalize_depth(output)
    threshold = depth.face_depth(depth_map, FACE_BOX, frame_hw, f.face_depth_patch) - f.depth_margin
    near = depth.near_mask(depth_map, threshold, frame_hw)
    prompts = fusion.choose_prompts(dets, depth.near_fraction(near, dets.boxes), f.box_near_ratio, MAX_PROMPTS)

    gaze_out = {
        "GAZE_YAW_PITCH": np.array([yaw, pitch], np.float32),
        "GAZE_RAY": ray.astype(np.float32),
        "NEAR_THRESHOLD": np.array([threshold], np.float32),
    }
    if len(prompts) == 0:
        return {**no_prompts, **gaze_out}
    return {
        "boxes": sam.boxes_to_prompts(prompts.boxes, frame_hw),
        "PROMPT_COUNT": np.array([len(prompts)], np.int32),
        "PROMPT_BOXES": prompts.boxes.astype(np.float32),
        "PROMPT_SCORES": prompts.scores.astype(np.float32),
        "PROMPT_CLASSES": prompts.classes.astype(np.int32),
        **gaze_out,
    }


# --- mask selection ------------------------------------------------------------------------------


def _mask_select(
    settings: Settings,
    FRAME_HW: np.ndarray,
    FACE_SCORE: np.ndarray,
    GAZE_RAY: np.ndarray,
    PROMPT_COUNT: np.ndarray,
    PROMPT_BOXES: np.ndarray,
    PROMPT_SCORES: np.ndarray,
    PROMPT_CLASSES: np.ndarray,
    NEAR_THRESHOLD: np.ndarray,
    low_res_masks: np.ndarray,
    iou_predictions: np.ndarray,
    output: np.ndarray,
) -> dict[str, np.ndarray]:
    """Upscale the decoder's masks and pick the target (face-centre, IoU and depth tests) -> MASK, STATUS."""
    frame_hw = _frame_hw(FRAME_HW)
    count = int(PROMPT_COUNT[0])
    chosen = None
    if count > 0:
        masks = sam.upscale_masks(low_res_masks[:count], frame_hw)
        near = depth.near_mask(depth.normalize_depth(output), float(NEAR_THRESHOLD[0]), frame_hw)
        chosen = fusion.select_mask(
            masks,
            iou_predictions[:count, 0],
            PROMPT_BOXES[:count],
            near,
            (float(GAZE_RAY[0]), float(GAZE_RAY[1])),
            settings.fusion.sam_iou_threshold,
            settings.fusion.mask_near_ratio,
        )
    if chosen is None:
        status = Status.NO_FACE if FACE_SCORE[0] <= 0 else Status.NO_TARGET
        return {
            "STATUS": np.array([status], np.int32),
            "MASK": np.zeros(frame_hw, np.uint8),
            "TARGET_BOX": np.zeros(4, np.float32),
            "TARGET_CLASS": np.array([-1], np.int32),
            "TARGET_SCORE": np.zeros(1, np.float32),
        }
    return {
        "STATUS": np.array([Status.OK], np.int32),
        "MASK": masks[chosen].astype(np.uint8) * np.uint8(MASK_ON),
        "TARGET_BOX": PROMPT_BOXES[chosen].astype(np.float32),
        "TARGET_CLASS": PROMPT_CLASSES[chosen : chosen + 1].astype(np.int32),
        "TARGET_SCORE": PROMPT_SCORES[chosen : chosen + 1].astype(np.float32),
    }


# --- the step table ------------------------------------------------------------------------------


def _detector_steps(family: str) -> tuple[Step, Step]:
    contract = DETECTOR_FAMILIES[family]
    is_yolox = family == "yolox"
    pre = Step(
        "detector_preprocess",
        (FRAME,),
        (contract.inputs[0], DETECTOR_TRANSFORM),
        _yolox_preprocess if is_yolox else _yolo_nas_preprocess,
    )
    post_fn = {
        "yolox": _yolox_postprocess,
        "yolo_nas_ort": _yolo_nas_ort_postprocess,
        "yolo_nas_trt": _yolo_nas_trt_postprocess,
    }[family]
    post = Step(
        "detector_postprocess",
        contract.outputs + (DETECTOR_TRANSFORM, FRAME_HW),
        (DET_BOXES, DET_SCORES, DET_CLASSES),
        post_fn,
    )
    return pre, post


def python_steps(detector_family: str = "yolox") -> dict[str, Step]:
    """Every Python-backend step of the pipeline, by Triton model name."""
    detector_pre, detector_post = _detector_steps(detector_family)
    depth_out = DEPTH.output("output")
    steps = [
        Step("frame_check", (FRAME,), (VALID_FRAME,), _frame_check),
        Step("face_preprocess", (FRAME,), (FACE.input("full_image"), FACE_RATIO, FRAME_HW), _face_preprocess),
        Step(
            "face_crop",
            (FRAME, FACE.output("bbox_det"), FACE_RATIO),
            (GAZE.input("input"), FACE_BOX, FACE_SCORE),
            _face_crop,
        ),
        detector_pre,
        detector_post,
        Step("depth_preprocess", (FRAME,), (DEPTH.input("input"),), _depth_preprocess),
        Step("sam_preprocess", (FRAME,), (_single_image(SAM_ENCODER.input("input_image")),), _sam_preprocess),
        Step(
            "gaze_fusion",
            (FRAME_HW, FACE_BOX, FACE_SCORE, GAZE.output("gaze_yaw_pitch"), DET_BOXES, DET_SCORES, DET_CLASSES, depth_out),
            (
                SAM_DECODER.input("boxes"),
                PROMPT_COUNT,
                PROMPT_BOXES,
                PROMPT_SCORES,
                PROMPT_CLASSES,
                NEAR_THRESHOLD,
                GAZE_YAW_PITCH,
                GAZE_RAY,
            ),
            _gaze_fusion,
        ),
        Step(
            "mask_select",
            (
                FRAME_HW,
                FACE_SCORE,
                GAZE_RAY,
                PROMPT_COUNT,
                PROMPT_BOXES,
                PROMPT_SCORES,
                PROMPT_CLASSES,
                NEAR_THRESHOLD,
                SAM_DECODER.output("low_res_masks"),
                SAM_DECODER.output("iou_predictions"),
                depth_out,
            ),
            (STATUS, MASK, TARGET_BOX, TARGET_CLASS, TARGET_SCORE),
            _mask_select,
        ),
    ]
    return {step.name: step for step in steps}
