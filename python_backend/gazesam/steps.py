"""The pipeline's Python steps: plain functions over numpy arrays, each one Triton model.

A :class:`~gazesam.step.Step` reads the global tensors its function's parameters name and returns a
dict of the ones it declares; family-specific steps live in :mod:`gazesam.family_steps`.
The Triton adapter (``python_backend/gazesam_triton``) and the in-process pipeline both call these
same functions, so the served ensemble and the oracle compute the same thing.

Empty results never produce empty tensors (an ensemble cannot skip a step, and a decoder profile
starts at one box): counts and flags travel beside fixed-size, zero-filled tensors.

Stateful steps (``stream_state`` set) also take the state of the request's stream as ``run``'s second
argument: the viewer track and face-box smoothing, the gaze smoothing, and the mask hold. Time is the
frame's ``FRAME_TIME`` (the stream's own clock).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import depth, face, fusion, gaze, sam
from .boxes import clip_boxes
from .contracts import MASK_ON, MAX_PROMPTS, Status
from .detector import Detections
from .family_steps import frame_hw_of
from .frame_check import FrameError, check_frame, check_frame_time
from .jpeg_frame import decode_jpeg_frame
from .mask_hold import MaskHold, Target
from .settings import Settings
from .step import Step
from .stream_state import FaceTrackState, GazeState, new_face_track_state, new_gaze_state, new_mask_hold

if TYPE_CHECKING:
    from .networks import ModelSet

# --- validation: once, before the branches fan out ----------------------------------------------


def _frame_check(
    settings: Settings, FRAME_TIME: np.ndarray, FRAME: np.ndarray | None = None, JPEG_FRAME: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Check the frame (raw FRAME, or JPEG_FRAME decoded after its header is checked) and its time, before any branch."""
    if (FRAME is None) == (JPEG_FRAME is None):
        raise FrameError("send exactly one of FRAME (ensemble gazesam) or JPEG_FRAME (ensemble gazesam_jpeg)")
    frame = decode_jpeg_frame(JPEG_FRAME) if FRAME is None else FRAME
    check_frame(frame)
    check_frame_time(FRAME_TIME)
    return {"VALID_FRAME": frame}


# --- face branch ---------------------------------------------------------------------------------


def _face_preprocess(settings: Settings, VALID_FRAME: np.ndarray) -> dict[str, np.ndarray]:
    """Letterbox the frame to the face detector's 160x128 input (top-left, pad 114, BGR 0..255)."""
    return {"FACE_INPUT": face.preprocess_face(VALID_FRAME), "FRAME_HW": np.array(VALID_FRAME.shape[:2], np.int32)}


def _face_track(
    settings: Settings,
    state: FaceTrackState,
    VALID_FRAME: np.ndarray,
    FACE_GRID: np.ndarray,
    FRAME_TIME: np.ndarray,
) -> dict[str, np.ndarray]:
    """Decode faces, follow the stream's viewer, smooth its box, and crop it for the gaze family's networks."""
    frame_hw = VALID_FRAME.shape[:2]
    t = float(FRAME_TIME[0])
    faces = face.decode_faces(FACE_GRID, frame_hw, settings.face.score_threshold, settings.face.nms_iou)
    index, track_id = state.tracker.update(faces, frame_hw, t)
    face_inputs = settings.model_set.hook("gaze", "face_inputs")
    box = None
    if index is not None:
        if track_id != state.track_id:  # another viewer: do not smooth from the previous one's box
            state.box_filter.reset()
            state.track_id = track_id
        box = clip_boxes(state.box_filter.filter(faces[index, :4], t), frame_hw)[0]
        if gaze.crop_face(VALID_FRAME, box) is None:  # nothing of the face left inside the frame
            box = None
    if box is None:
        return {
            **face_inputs(VALID_FRAME, None),
            "FACE_BOX": np.zeros(4, np.float32),
            "FACE_SCORE": np.zeros(1, np.float32),
            "FACE_TRACK_ID": np.zeros(1, np.int32),
        }
    return {
        **face_inputs(VALID_FRAME, box),
        "FACE_BOX": box.astype(np.float32),
        "FACE_SCORE": faces[index, 4:5].astype(np.float32),
        "FACE_TRACK_ID": np.array([track_id], np.int32),
    }


# --- fusion: gaze + detections + depth -> box prompts --------------------------------------------


def _nearness_map(settings: Settings, raw_depth: np.ndarray) -> np.ndarray:
    """The depth family's output as a (h, w) 0..255 per-frame nearness map (larger = nearer)."""
    return depth.normalize_depth(settings.model_set.hook("depth", "nearness")(raw_depth))


def _gaze_fusion(
    settings: Settings,
    state: GazeState,
    FRAME_HW: np.ndarray,
    FRAME_TIME: np.ndarray,
    FACE_BOX: np.ndarray,
    FACE_SCORE: np.ndarray,
    FACE_TRACK_ID: np.ndarray,
    GAZE_ANGLES: np.ndarray,
    DET_BOXES: np.ndarray,
    DET_SCORES: np.ndarray,
    DET_CLASSES: np.ndarray,
    DEPTH_RAW: np.ndarray,
) -> dict[str, np.ndarray]:
    """Smoothed gaze ray, face-box/gaze/depth filters over the detections -> at most MAX_PROMPTS box prompts."""
    frame_hw = frame_hw_of(FRAME_HW)
    f = settings.fusion
    prompts_of = settings.model_set.hook("segmentation", "prompts")
    no_prompts = {
        **prompts_of(np.zeros((0, 4), np.float32), frame_hw),
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
    yaw, pitch = (float(v) for v in state.gaze_filter.filter(GAZE_ANGLES.reshape(-1)[:2], float(FRAME_TIME[0])))
    ray = gaze.gaze_ray(FACE_BOX, yaw, pitch, frame_hw)
    if fusion.looks_at_camera(gaze.gaze_direction(yaw, pitch), f):  # no ray across the scene, no target
        ray = np.concatenate([ray[:2], ray[:2]]).astype(np.float32)
        return {**no_prompts, "GAZE_YAW_PITCH": np.array([yaw, pitch], np.float32), "GAZE_RAY": ray}
    dets = Detections(DET_BOXES, DET_SCORES, DET_CLASSES)
    depth_map = _nearness_map(settings, DEPTH_RAW)
    threshold = depth.face_depth(depth_map, FACE_BOX, frame_hw, f.face_depth_patch) - f.depth_margin
    near = depth.near_mask(depth_map, threshold, frame_hw)
    prompts = fusion.prompts_for(f, dets, FACE_BOX, ray, near, MAX_PROMPTS)

    gaze_out = {
        "GAZE_YAW_PITCH": np.array([yaw, pitch], np.float32),
        "GAZE_RAY": ray.astype(np.float32),
        "NEAR_THRESHOLD": np.array([threshold], np.float32),
    }
    if len(prompts) == 0:
        return {**no_prompts, **gaze_out}
    return {
        **prompts_of(prompts.boxes, frame_hw),
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
    LOW_RES_MASKS: np.ndarray,
    MASK_IOU: np.ndarray,
    DEPTH_RAW: np.ndarray,
) -> dict[str, np.ndarray]:
    """Upscale the decoder's masks, pick the target (face-centre, IoU, depth tests), hold it -> MASK, STATUS."""
    frame_hw = frame_hw_of(FRAME_HW)
    count = int(PROMPT_COUNT[0])
    chosen = None
    if count > 0:
        masks = sam.upscale_masks(LOW_RES_MASKS[:count], frame_hw)
        near = depth.near_mask(_nearness_map(settings, DEPTH_RAW), float(NEAR_THRESHOLD[0]), frame_hw)
        chosen = fusion.select_target(settings.fusion, masks, MASK_IOU[:count, 0], PROMPT_BOXES[:count], near, GAZE_RAY)
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

_PROMPT_INFO = ("PROMPT_COUNT", "PROMPT_BOXES", "PROMPT_SCORES", "PROMPT_CLASSES", "NEAR_THRESHOLD")
_FACE_OUT = ("FACE_BOX", "FACE_SCORE", "FACE_TRACK_ID")
_TARGET_OUT = ("STATUS", "MASK", "TARGET_BOX", "TARGET_CLASS", "TARGET_SCORE")


def python_steps(model_set: ModelSet) -> dict[str, Step]:
    """Every Python-backend step of ``model_set``'s pipeline, by Triton model name, with tensor specs bound."""
    face_inputs = model_set.hook("gaze", "face_inputs").tensors
    prompt_tensors = model_set.hook("segmentation", "prompts").tensors
    steps = [
        Step("frame_check", _frame_check, ("VALID_FRAME",), admits_streams=True),
        Step("face_preprocess", _face_preprocess, ("FACE_INPUT", "FRAME_HW")),
        Step("face_track", _face_track, face_inputs + _FACE_OUT, stream_state=new_face_track_state),
        Step("gaze_fusion", _gaze_fusion, prompt_tensors + _PROMPT_INFO + ("GAZE_YAW_PITCH", "GAZE_RAY"),
             stream_state=new_gaze_state),
        Step("mask_select", _mask_select, _TARGET_OUT, stream_state=new_mask_hold),
        *(step for family in model_set.families for step in family.steps),
    ]
    specs = model_set.tensor_specs
    return {step.name: step.bind(specs) for step in steps}
