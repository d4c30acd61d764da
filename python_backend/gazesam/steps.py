"""The pipeline's Python steps: plain functions over numpy arrays, each one Triton model.

A :class:`Step` names its tensors (specs), and ``run(settings, **inputs)`` returns a dict of outputs.
The Triton adapter (``python_backend/gazesam_triton``) and the in-process pipeline both call these
same functions, so the served ensemble and the oracle compute the same thing.

Empty results never produce empty tensors (an ensemble cannot skip a step, and a decoder profile
starts at one box): counts and flags travel beside fixed-size, zero-filled tensors.

Stateful steps (``stream_state`` set) also take the state of the request's stream as ``run``'s second
argument: the viewer track and face-box smoothing, the gaze smoothing, and the mask hold. Time is the
frame's ``FRAME_TIME`` (the stream's own clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import depth, detector, face, fusion, gaze, sam
from .contracts import (
    DEPTH,
    DETECTOR_FAMILIES,
    ENSEMBLE_INPUTS,
    ENSEMBLE_OUTPUTS,
    FACE,
    GAZE,
    JPEG_ENSEMBLE_INPUTS,
    MASK_ON,
    MAX_PROMPTS,
    SAM_DECODER,
    SAM_ENCODER,
    Status,
    TensorSpec,
)
from .frame_check import check_frame, check_frame_size, check_frame_time
from .jpeg_frame import decode_jpeg_frame
from .boxes import clip_boxes
from .mask_hold import MaskHold, Target
from .settings import Settings
from .stream_state import FaceTrackState, GazeState, new_face_track_state, new_gaze_state, new_mask_hold

StepFn = Callable[..., dict[str, np.ndarray]]


@dataclass(frozen=True)
class Step:
    """One Python-backend model: its tensors and the function that maps inputs to outputs."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    run: StepFn  # run(settings, **inputs), or run(settings, state, **inputs) -> {output name: array}
    stream_state: Callable[[Settings], Any] | None = None  # builds a stream's fresh state; None = stateless
    admits_streams: bool = False  # the ensemble's first step: tracks which streams run, refuses beyond MAX_STREAMS

    @property
    def tracks_streams(self) -> bool:
        """True for a step served under Triton's sequence batcher (it keeps per-stream state or admits streams)."""
        return self.stream_state is not None or self.admits_streams

    def __call__(self, settings: Settings, inputs: dict[str, np.ndarray], state: Any = None) -> dict[str, np.ndarray]:
        if self.stream_state is None:
            return self.run(settings, **inputs)
        return self.run(settings, state, **inputs)


FRAME, FRAME_TIME = ENSEMBLE_INPUTS
JPEG_FRAME = JPEG_ENSEMBLE_INPUTS[0]
_ENSEMBLE_OUT = {spec.name: spec for spec in ENSEMBLE_OUTPUTS}
VALID_FRAME = TensorSpec("VALID_FRAME", "uint8", (-1, -1, 3))
FRAME_HW = TensorSpec("FRAME_HW", "int32", (2,))
FACE_RATIO = TensorSpec("FACE_RATIO", "float32", (1,))
FACE_BOX, FACE_SCORE, FACE_TRACK_ID = (_ENSEMBLE_OUT[n] for n in ("FACE_BOX", "FACE_SCORE", "FACE_TRACK_ID"))
DETECTOR_TRANSFORM = TensorSpec("DETECTOR_TRANSFORM", "float32", (3,))  # scale, pad_x, pad_y
DET_BOXES = TensorSpec("DET_BOXES", "float32", (-1, 4))
DET_SCORES = TensorSpec("DET_SCORES", "float32", (-1,))
DET_CLASSES = TensorSpec("DET_CLASSES", "int32", (-1,))
GAZE_YAW_PITCH, GAZE_RAY = _ENSEMBLE_OUT["GAZE_YAW_PITCH"], _ENSEMBLE_OUT["GAZE_RAY"]
PROMPT_COUNT = TensorSpec("PROMPT_COUNT", "int32", (1,))
PROMPT_BOXES = TensorSpec("PROMPT_BOXES", "float32", (-1, 4))  # frame pixels, one row per prompt
PROMPT_SCORES = TensorSpec("PROMPT_SCORES", "float32", (-1,))
PROMPT_CLASSES = TensorSpec("PROMPT_CLASSES", "int32", (-1,))
NEAR_THRESHOLD = TensorSpec("NEAR_THRESHOLD", "float32", (1,))
STATUS, MASK, TARGET_BOX, TARGET_CLASS, TARGET_SCORE = (
    _ENSEMBLE_OUT[n] for n in ("STATUS", "MASK", "TARGET_BOX", "TARGET_CLASS", "TARGET_SCORE")
)

_DUMMY_PROMPT = np.array([[[0.0, 0.0, 1.0, 1.0]]], dtype=np.float32)


def _single_image(spec: TensorSpec) -> TensorSpec:
    """``spec`` with a dynamic batch axis fixed to one image."""
    return TensorSpec(spec.name, spec.dtype, (1,) + spec.shape[1:])


def _frame_hw(frame_hw: np.ndarray) -> tuple[int, int]:
    """FRAME_HW as (height, width), checked: a step sizes masks from it, so a direct call cannot exhaust memory."""
    height, width = int(frame_hw[0]), int(frame_hw[1])
    check_frame_size(height, width)
    return height, width


# --- validation: once, before the branches fan out ----------------------------------------------


def _frame_check(settings: Settings, FRAME: np.ndarray, FRAME_TIME: np.ndarray) -> dict[str, np.ndarray]:
    """Reject a bad frame or timestamp with one clear error, before any branch runs."""
    check_frame(FRAME)
    check_frame_time(FRAME_TIME)
    return {"VALID_FRAME": FRAME}


def _frame_decode(settings: Settings, JPEG_FRAME: np.ndarray, FRAME_TIME: np.ndarray) -> dict[str, np.ndarray]:
    """Decode a JPEG frame (size checked from its header first) and check it and its timestamp, before the branches."""
    frame = decode_jpeg_frame(JPEG_FRAME)
    check_frame_time(FRAME_TIME)
    return {"VALID_FRAME": frame}


# --- face branch ---------------------------------------------------------------------------------


def _face_preprocess(settings: Settings, FRAME: np.ndarray) -> dict[str, np.ndarray]:
    """Letterbox the frame to the face detector's 160x128 input (top-left, pad 114, BGR 0..255)."""
    tensor, ratio = face.preprocess_face(FRAME)
    return {
        "full_image": tensor,
        "FACE_RATIO": np.array([ratio], np.float32),
        "FRAME_HW": np.array(FRAME.shape[:2], np.int32),
    }


def _face_track(
    settings: Settings,
    state: FaceTrackState,
    FRAME: np.ndarray,
    bbox_det: np.ndarray,
    FACE_RATIO: np.ndarray,
    FRAME_TIME: np.ndarray,
) -> dict[str, np.ndarray]:
    """Decode faces, follow the stream's viewer, smooth its box, crop and letterbox it for the gaze network."""
    frame_hw = FRAME.shape[:2]
    t = float(FRAME_TIME[0])
    faces = face.decode_faces(
        bbox_det, float(FACE_RATIO[0]), frame_hw, settings.face.score_threshold, settings.face.nms_iou
    )
    index, track_id = state.tracker.update(faces, frame_hw, t)
    crop = None
    if index is not None:
        if track_id != state.track_id:  # another viewer: do not smooth from the previous one's box
            state.box_filter.reset()
            state.track_id = track_id
        box = clip_boxes(state.box_filter.filter(faces[index, :4], t), frame_hw)[0]
        crop = gaze.crop_face(FRAME, box)
    if crop is None:
        return {
            "input": np.zeros(GAZE.input("input").shape, np.float32),
            "FACE_BOX": np.zeros(4, np.float32),
            "FACE_SCORE": np.zeros(1, np.float32),
            "FACE_TRACK_ID": np.zeros(1, np.int32),
        }
    return {
        "input": gaze.preprocess_gaze(crop),
        "FACE_BOX": box.astype(np.float32),
        "FACE_SCORE": faces[index, 4:5].astype(np.float32),
        "FACE_TRACK_ID": np.array([track_id], np.int32),
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
    state: GazeState,
    FRAME_HW: np.ndarray,
    FRAME_TIME: np.ndarray,
    FACE_BOX: np.ndarray,
    FACE_SCORE: np.ndarray,
    FACE_TRACK_ID: np.ndarray,
    gaze_yaw_pitch: np.ndarray,
    DET_BOXES: np.ndarray,
    DET_SCORES: np.ndarray,
    DET_CLASSES: np.ndarray,
    output: np.ndarray,
) -> dict[str, np.ndarray]:
    """Smoothed gaze ray, face-box/gaze/depth filters over the detections -> at most MAX_PROMPTS box prompts."""
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

    track_id = int(FACE_TRACK_ID[0])
    if track_id != state.track_id:  # another viewer: do not smooth from the previous one's gaze
        state.gaze_filter.reset()
        state.track_id = track_id
    yaw, pitch = (float(v) for v in state.gaze_filter.filter(gaze_yaw_pitch.reshape(-1)[:2], float(FRAME_TIME[0])))
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
    hold: MaskHold,
    FRAME_HW: np.ndarray,
    FRAME_TIME: np.ndarray,
    FACE_SCORE: np.ndarray,
    FACE_TRACK_ID: np.ndarray,
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
    """Upscale the decoder's masks, pick the target (face-centre, IoU, depth tests), hold it -> MASK, STATUS."""
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
    fresh = None
    if chosen is not None:
        fresh = Target(
            mask=masks[chosen].astype(np.uint8) * np.uint8(MASK_ON),
            box=PROMPT_BOXES[chosen].astype(np.float32),
            class_id=int(PROMPT_CLASSES[chosen]),
            score=float(PROMPT_SCORES[chosen]),
        )
    target, held = hold.update(fresh, int(FACE_TRACK_ID[0]), float(FRAME_TIME[0]), frame_hw)
    if target is None:
        status = Status.NO_FACE if FACE_SCORE[0] <= 0 else Status.NO_TARGET
        return {
            "STATUS": np.array([status], np.int32),
            "MASK": np.zeros(frame_hw, np.uint8),
            "TARGET_BOX": np.zeros(4, np.float32),
            "TARGET_CLASS": np.array([-1], np.int32),
            "TARGET_SCORE": np.zeros(1, np.float32),
        }
    return {
        "STATUS": np.array([Status.HELD if held else Status.OK], np.int32),
        "MASK": target.mask,
        "TARGET_BOX": target.box,
        "TARGET_CLASS": np.array([target.class_id], np.int32),
        "TARGET_SCORE": np.array([target.score], np.float32),
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
        Step("frame_check", (FRAME, FRAME_TIME), (VALID_FRAME,), _frame_check, admits_streams=True),
        Step("frame_decode", (JPEG_FRAME, FRAME_TIME), (VALID_FRAME,), _frame_decode, admits_streams=True),
        Step("face_preprocess", (FRAME,), (FACE.input("full_image"), FACE_RATIO, FRAME_HW), _face_preprocess),
        Step(
            "face_track",
            (FRAME, FACE.output("bbox_det"), FACE_RATIO, FRAME_TIME),
            (GAZE.input("input"), FACE_BOX, FACE_SCORE, FACE_TRACK_ID),
            _face_track,
            stream_state=new_face_track_state,
        ),
        detector_pre,
        detector_post,
        Step("depth_preprocess", (FRAME,), (DEPTH.input("input"),), _depth_preprocess),
        Step("sam_preprocess", (FRAME,), (_single_image(SAM_ENCODER.input("input_image")),), _sam_preprocess),
        Step(
            "gaze_fusion",
            (
                FRAME_HW,
                FRAME_TIME,
                FACE_BOX,
                FACE_SCORE,
                FACE_TRACK_ID,
                GAZE.output("gaze_yaw_pitch"),
                DET_BOXES,
                DET_SCORES,
                DET_CLASSES,
                depth_out,
            ),
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
            stream_state=new_gaze_state,
        ),
        Step(
            "mask_select",
            (
                FRAME_HW,
                FRAME_TIME,
                FACE_SCORE,
                FACE_TRACK_ID,
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
            stream_state=new_mask_hold,
        ),
    ]
    return {step.name: step for step in steps}
