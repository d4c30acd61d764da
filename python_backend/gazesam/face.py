"""Face detection with the ProxylessGaze detector (YOLOX-style, one class): pre- and post-processing.

The served graph does the letterbox (:data:`FACE_INPUT`) and the grid decode; :func:`decode_faces` keeps
the score threshold, NMS and the way back to the frame. :func:`preprocess_face` is the cv2 reference of
the graph's pre-processing (checked against it in the tests and ``perf/compare_inputs.py``).
"""

from __future__ import annotations

import numpy as np

from .boxes import clip_boxes, nms
from .contracts import FACE, spatial_size
from .detector import LETTERBOX_PAD, nchw_float
from .frame_input import FrameInput
from .geometry import FrameResize, ResizeRule

FACE_INPUT = FrameInput(ResizeRule("letterbox_top_left", spatial_size(FACE.input("full_image"))), "linear", "bgr",
                        pad=LETTERBOX_PAD)
"""Upstream §2.1: top-left letterbox onto 160x128, pad 114, BGR 0..255, INTER_LINEAR."""


def face_resize(frame_hw: tuple[int, int]) -> FrameResize:
    """The face detector's top-left letterbox of a ``frame_hw`` frame onto its 160x128 input (upstream §2.1)."""
    return FACE_INPUT.rule.of(frame_hw)


def preprocess_face(frame: np.ndarray) -> np.ndarray:
    """BGR uint8 frame -> float32 [1, 3, 160, 128] BGR 0..255, letterboxed (:func:`face_resize`, pad 114)."""
    return nchw_float(face_resize(frame.shape[:2]).apply_image(frame, LETTERBOX_PAD))


def decode_faces(
    boxes: np.ndarray,
    scores: np.ndarray,
    frame_hw: tuple[int, int],
    score_threshold: float,
    nms_iou: float,
) -> np.ndarray:
    """The served detector's grid-decoded candidates -> faces float32 (N, 5) ``x1, y1, x2, y2, score``.

    ``boxes`` [1, A, 4] input pixels, ``scores`` [1, A] (``obj * cls``). Keeps ``score > score_threshold``,
    runs greedy NMS (IoU ``> nms_iou`` suppressed), maps boxes back to the ``frame_hw`` frame
    (:func:`face_resize`) and clips them. Sorted by descending score; (0, 5) when no face is found.
    """
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    candidates = np.flatnonzero(scores > score_threshold)
    if candidates.size == 0:
        return np.zeros((0, 5), np.float32)
    boxes = face_resize(frame_hw).boxes_to_frame(np.asarray(boxes, np.float32).reshape(-1, 4)[candidates])
    keep = nms(boxes, scores[candidates], nms_iou)
    faces = np.concatenate([clip_boxes(boxes[keep], frame_hw), scores[candidates][keep, None]], axis=1)
    return faces.astype(np.float32)
