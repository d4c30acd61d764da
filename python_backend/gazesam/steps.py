"""The pipeline's Python steps: plain functions over numpy arrays, each one Triton model.

A :class:`~gazesam.step.Step` reads the global tensors its function's parameters name and returns a
dict of the ones it declares. Every network's pre-processing and tensor-shaped post-processing is in its
served graph (``build_engines.served_forms``), so four steps lie between FRAME and MASK: ``frame_check``,
``face_track``, ``gaze_fusion``, ``mask_select`` (:func:`gazesam.graph.critical_path`); none reads the frame
itself, only its size.
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

from . import depth, detector, face, fusion, gaze
from .boxes import clip_boxes
from .contracts import MASK_ON, MAX_PROMPTS, Status
from .detector import Detections
from .frame_check import FrameError, check_frame, check_frame_time, frame_hw_of
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
    """Check the frame (raw FRAME, or JPEG_FRAME decoded after its header is checked) and its time, before any
    branch; the frame's size, and the decoded frame as FRAME.

    A raw frame goes on from the request to the networks (no copy): each reads FRAME_HW too, so none starts
    before this check has passed.
    """
    if (FRAME is None) == (JPEG_FRAME is None):
        raise FrameError("send exactly one of FRAME (ensemble gazesam) or JPEG_FRAME (ensemble gazesam_jpeg)")
    frame = decode_jpeg_frame(JPEG_FRAME) if FRAME is None else FRAME
    check_frame(frame)
    check_frame_time(FRAME_TIME)
    size = {"FRAME_HW": np.array(frame.shape[:2], np.int32)}
    return size if FRAME is not None else size | {"FRAME": frame}


# --- face branch ---------------------------------------------------------------------------------


def _face_track(
    settings: Settings,
    state: FaceTrackState,
    FRAME_HW: np.ndarray,
    FACE_DETECTOR_BOXES: np.ndarray,
    FACE_DETECTOR_SCORES: np.ndarray,
    FRAME_TIME: np.ndarray,
) -> dict[str, np.ndarray]:
    """Decode faces (threshold, NMS, back to the frame), follow the stream's viewer and smooth its box.

    The face networks crop the box from the frame themselves (their served graphs).
    """
    frame_hw = frame_hw_of(FRAME_HW)
    t = float(FRAME_TIME[0])
    faces = face.decode_faces(FACE_DETECTOR_BOXES, FACE_DETECTOR_SCORES, frame_hw, settings.face.score_threshold,
                              settings.face.nms_iou)
    index, track_id = state.tracker.update(faces, frame_hw, t)
    box = None
    if index is not None:
        if track_id != state.track_id:  # another viewer: do not smooth from the previous one's box
            state.box_filter.reset()
            state.track_id = track_id
        box = clip_boxes(state.box_filter.filter(faces[index, :4], t), frame_hw)[0]
        if not np.isfinite(box).all():  # a clipped box always holds a pixel of the frame, unless it is not finite
            box = None
    if box is None:
        return {
            "FACE_BOX": np.zeros(4, np.float32),
            "FACE_SCORE": np.zeros(1, np.float32),
            "FACE_TRACK_ID": np.zeros(1, np.int32),
        }
    return {
        "FACE_BOX": box.astype(np.float32),
        "FACE_SCORE": faces[index, 4:5].astype(np.float32),
        "FACE_TRACK_ID": np.array([track_id], np.int32),
    }


# --- fusion: gaze + detections + depth -> box prompts --------------------------------------------


def frame_detections(
    settings: Settings, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, frame_hw: tuple[int, int]
) -> Detections:
    """The served detector's candidates -> target-class detections in frame pixels (the family's ``detections``)."""
    s = settings.detector
    dets = settings.model_set.hook("detector", "detections")(boxes, scores, classes, frame_hw, s.score_threshold, s.nms_iou)
    return detector.filter_classes(dets, s.allowed_class_ids)


def _gaze_fusion(
    settings: Settings,
    state: GazeState,
    FRAME_HW: np.ndarray,
    FRAME_TIME: np.ndarray,
    FACE_BOX: np.ndarray,
    FACE_SCORE: np.ndarray,
    FACE_TRACK_ID: np.ndarray,
    GAZE_ANGLES: np.ndarray,
    DETECTOR_BOXES: np.ndarray,
    DETECTOR_SCORES: np.ndarray,
    DETECTOR_CLASSES: np.ndarray,
    NEARNESS: np.ndarray,
) -> dict[str, np.ndarray]:
    """Detections (NMS, back to the frame), smoothed gaze ray, face-box/gaze/depth filters -> at most
    MAX_PROMPTS box prompts."""
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
    dets = frame_detections(settings, DETECTOR_BOXES, DETECTOR_SCORES, DETECTOR_CLASSES, frame_hw)
    threshold = depth.face_depth(NEARNESS, FACE_BOX, frame_hw, f.face_depth_patch) - f.depth_margin
    near = depth.NearMap.of(NEARNESS, threshold, frame_hw)
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
    PROMPT_MASKS: np.ndarray,
    MASK_IOU: np.ndarray,
    NEARNESS: np.ndarray,
) -> dict[str, np.ndarray]:
    """Pick the target among the decoder's frame-sized masks (face-centre, IoU, depth tests), hold it -> MASK, STATUS."""
    frame_hw = frame_hw_of(FRAME_HW)
    count = int(PROMPT_COUNT[0])
    chosen = None
    if count > 0:
        masks = PROMPT_MASKS[:count]
        if masks.shape != (count, *frame_hw):
            raise ValueError(f"PROMPT_MASKS {list(PROMPT_MASKS.shape)} holds no {count} masks of the frame's {frame_hw}")
        near = depth.NearMap.of(NEARNESS, float(NEAR_THRESHOLD[0]), frame_hw)
        chosen = fusion.select_target(settings.fusion, masks, MASK_IOU[:count, 0], PROMPT_BOXES[:count], near, GAZE_RAY)
    fresh = None
    if chosen is not None:
        fresh = Target(
            mask=masks[chosen].view(np.uint8) * np.uint8(MASK_ON),  # bool -> 0 / MASK_ON in one pass
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
    prompt_tensors = model_set.hook("segmentation", "prompts").tensors
    steps = [
        Step("frame_check", _frame_check, ("FRAME_HW", "FRAME"), admits_streams=True, passed_on=("FRAME",)),
        Step("face_track", _face_track, _FACE_OUT, stream_state=new_face_track_state),
        Step("gaze_fusion", _gaze_fusion, prompt_tensors + _PROMPT_INFO + ("GAZE_YAW_PITCH", "GAZE_RAY"),
             stream_state=new_gaze_state),
        Step("mask_select", _mask_select, _TARGET_OUT, stream_state=new_mask_hold),
    ]
    specs = model_set.tensor_specs
    return {step.name: step.bind(specs) for step in steps}
