"""Object detection: YOLOX (raw grid output) and YOLO-NAS (NMS in the graph) pre- and post-processing.

Both families' served graphs begin with their letterbox (:data:`YOLOX_INPUT`, :data:`YOLO_NAS_INPUT`) and end
with the same candidate tensors: boxes [1, K, 4] in input pixels, scores [1, K], classes int32 [1, K]
(YOLOX: every anchor, grid-decoded in the graph; YOLO-NAS: its NMS rows, the unused ones scored -1).
The family's ``detections`` hook (:func:`yolox_detections`, :func:`yolo_nas_detections`) keeps what is not
tensor math: the score threshold and NMS, and the way back to the frame through :class:`FrameResize`.

Also home of the YOLOX-style grid (:func:`grid_anchors`), which the face detector (a YOLOX-style network)
shares; :func:`decode_grid_boxes` and the ``preprocess_*`` functions are the numpy/cv2 references the
graphs are checked against (tests, ``perf/compare_inputs.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .boxes import batched_nms, clip_boxes
from .contracts import YOLO_NAS_ORT, YOLOX, spatial_size
from .frame_input import FrameInput
from .geometry import FrameResize, ResizeRule

YOLOX_STRIDES = (8, 16, 32)
LETTERBOX_PAD = 114
"""Grey used by YOLOX's and super-gradients' letterboxes (and the face detector's)."""

YOLO_NAS_RESCALE_MARGIN = 4
"""super-gradients' COCO processing rescales the longest side to ``input - 4`` (636 for 640)."""

YOLOX_INPUT = FrameInput(ResizeRule("letterbox_top_left", spatial_size(YOLOX.input("images"))), "linear", "bgr",
                         pad=LETTERBOX_PAD)
"""YOLOX's official demo: top-left letterbox onto 416x416, pad 114, BGR 0..255, INTER_LINEAR."""
_YOLO_NAS_HW = spatial_size(YOLO_NAS_ORT.input("input"))
YOLO_NAS_INPUT = FrameInput(ResizeRule("longest_side", _YOLO_NAS_HW, min(_YOLO_NAS_HW) - YOLO_NAS_RESCALE_MARGIN, True),
                            "linear", "rgb", pad=LETTERBOX_PAD)
"""super-gradients' COCO processing: longest side to 636, centred on 640x640, pad 114, uint8 RGB (scaled in the network)."""



def nchw_float(image: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 -> float32 [1, 3, H, W] with pixel values kept (0..255)."""
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)


@dataclass
class Detections:
    """Detected objects in frame pixels.

    boxes: float32 (N, 4) ``x1, y1, x2, y2``; scores: float32 (N,); classes: int32 (N,) COCO ids.
    """

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.classes = np.asarray(self.classes, dtype=np.int32).reshape(-1)
        if not len(self.boxes) == len(self.scores) == len(self.classes):
            raise ValueError(
                f"detections disagree in length: boxes {len(self.boxes)}, "
                f"scores {len(self.scores)}, classes {len(self.classes)}"
            )

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, indices: np.ndarray) -> Detections:
        """The detections at ``indices`` (int indices or a bool mask), in that order."""
        return Detections(self.boxes[indices], self.scores[indices], self.classes[indices])


# --- YOLOX-style grid decode ---------------------------------------------------------------------


def grid_anchors(input_hw: tuple[int, int], strides: tuple[int, ...] = YOLOX_STRIDES) -> np.ndarray:
    """Anchor cells of a YOLOX head as float32 (A, 3) ``gx, gy, stride``.

    One (H/s) x (W/s) grid per stride, in stride order, row-major with x fastest.
    """
    cells = []
    for stride in strides:
        gy, gx = np.mgrid[: input_hw[0] // stride, : input_hw[1] // stride]
        cells.append(np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, stride)], axis=1))
    return np.concatenate(cells).astype(np.float32)


def decode_grid_boxes(raw: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """Decode YOLOX raw regressions (A, 4) into (A, 4) float32 ``x1, y1, x2, y2`` input pixels.

    ``cx, cy = (raw_xy + grid) * stride`` and ``w, h = exp(raw_wh) * stride``.
    """
    anchors = grid_anchors(input_hw)
    if raw.shape[0] != anchors.shape[0]:
        raise ValueError(f"{raw.shape[0]} predictions, but a {input_hw} input has {anchors.shape[0]} anchors")
    stride = anchors[:, 2:3]
    centre = (raw[:, :2] + anchors[:, :2]) * stride
    with np.errstate(over="ignore"):
        size = np.exp(raw[:, 2:4]) * stride
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(np.float32)


# --- YOLOX ---------------------------------------------------------------------------------------


def yolox_resize(frame_hw: tuple[int, int]) -> FrameResize:
    """YOLOX's official demo letterbox of a ``frame_hw`` frame: top-left onto 416x416."""
    return YOLOX_INPUT.rule.of(frame_hw)


def preprocess_yolox(frame: np.ndarray) -> np.ndarray:
    """BGR uint8 frame -> float32 [1, 3, 416, 416] BGR 0..255, letterboxed (:func:`yolox_resize`, pad 114)."""
    return nchw_float(yolox_resize(frame.shape[:2]).apply_image(frame, LETTERBOX_PAD))


def yolox_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    frame_hw: tuple[int, int],
    score_threshold: float,
    nms_iou: float,
) -> Detections:
    """The served YOLOX's candidates (every anchor) -> clipped detections sorted by descending score.

    ``boxes`` [1, A, 4] input pixels, ``scores`` [1, A] (objectness x best class score), ``classes`` [1, A]
    (the best class). Keeps ``score > score_threshold``, then class-aware NMS (IoU ``> nms_iou`` suppressed).
    """
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    classes = np.asarray(classes).reshape(-1)
    candidates = np.flatnonzero(scores > score_threshold)
    if candidates.size == 0:
        return Detections.empty()
    frame_boxes = yolox_resize(frame_hw).boxes_to_frame(np.asarray(boxes, np.float32).reshape(-1, 4)[candidates])
    keep = batched_nms(frame_boxes, scores[candidates], classes[candidates], nms_iou)
    return Detections(clip_boxes(frame_boxes[keep], frame_hw), scores[candidates][keep], classes[candidates][keep])


# --- YOLO-NAS ------------------------------------------------------------------------------------


def yolo_nas_resize(frame_hw: tuple[int, int]) -> FrameResize:
    """super-gradients' COCO processing: longest side to 636, centred on the 640x640 canvas."""
    return YOLO_NAS_INPUT.rule.of(frame_hw)


def preprocess_yolo_nas(frame: np.ndarray) -> np.ndarray:
    """BGR uint8 frame -> uint8 [1, 3, 640, 640] RGB (:func:`yolo_nas_resize`, INTER_LINEAR, pad 114).

    The network scales to 0..1 itself.
    """
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    canvas = yolo_nas_resize(frame.shape[:2]).apply_image(rgb, LETTERBOX_PAD)
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None])


def yolo_nas_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    frame_hw: tuple[int, int],
    score_threshold: float,
    nms_iou: float,
) -> Detections:
    """The served YOLO-NAS's NMS rows -> clipped detections in frame pixels, by descending score.

    boxes (1, K, 4) float32 xyxy in network pixels; scores (1, K) float32, -1 on the rows beyond the
    export's ``num`` (its graph marks them); classes (1, K) int32. Both exports (ONNX Runtime, TensorRT
    EfficientNMS) apply their own score threshold and NMS in the graph, so ``score_threshold`` and
    ``nms_iou`` are not used. Boxes are mapped back to the ``frame_hw`` frame (:func:`yolo_nas_resize`),
    clipped, and dropped when they end up degenerate (zero width or height, e.g. entirely outside the frame).
    """
    rows = np.flatnonzero(np.asarray(scores, np.float32).reshape(-1) >= 0)
    xyxy = yolo_nas_resize(frame_hw).boxes_to_frame(np.asarray(boxes, dtype=np.float32).reshape(-1, 4)[rows])
    dets = Detections(
        clip_boxes(xyxy, frame_hw),
        np.asarray(scores).reshape(-1)[rows],
        np.asarray(classes).reshape(-1)[rows],
    )
    b = dets.boxes
    finite = np.isfinite(xyxy).all(axis=1)
    dets = dets.take(finite & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1]))
    return dets.take(np.argsort(-dets.scores, kind="stable"))


def filter_classes(dets: Detections, allowed_class_ids: frozenset[int]) -> Detections:
    """Only the detections whose class id is in ``allowed_class_ids``."""
    allowed = np.fromiter(allowed_class_ids, dtype=np.int64, count=len(allowed_class_ids))
    return dets.take(np.isin(dets.classes, allowed))
