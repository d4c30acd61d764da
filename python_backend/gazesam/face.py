"""Face detection with the ProxylessGaze detector (YOLOX-style, one class): pre- and post-processing."""

from __future__ import annotations

import numpy as np

from .boxes import clip_boxes, nms
from .contracts import FACE, spatial_size
from .detector import LETTERBOX_PAD, decode_grid_boxes, nchw_float
from .geometry import FrameResize


def face_resize(frame_hw: tuple[int, int]) -> FrameResize:
    """The face detector's top-left letterbox of a ``frame_hw`` frame onto its 160x128 input (upstream §2.1)."""
    return FrameResize.letterbox_top_left(frame_hw, spatial_size(FACE.input("full_image")))


def preprocess_face(frame: np.ndarray) -> np.ndarray:
    """BGR uint8 frame -> float32 [1, 3, 160, 128] BGR 0..255, letterboxed (:func:`face_resize`, pad 114)."""
    return nchw_float(face_resize(frame.shape[:2]).apply_image(frame, LETTERBOX_PAD))


def decode_faces(
    bbox_det: np.ndarray,
    frame_hw: tuple[int, int],
    score_threshold: float,
    nms_iou: float,
) -> np.ndarray:
    """Raw detector output float32 [1, 420, 6] -> faces float32 (N, 5) ``x1, y1, x2, y2, score``.

    Rows are ``raw x, y, w, h, objectness, class score``; ``score = obj * cls``. Keeps
    ``score > score_threshold``, runs greedy NMS (IoU ``> nms_iou`` suppressed), maps boxes back to
    the ``frame_hw`` frame (:func:`face_resize`) and clips them. Sorted by descending score; (0, 5) when no face is found.
    """
    raw = np.asarray(bbox_det, dtype=np.float32).reshape(bbox_det.shape[-2:])
    scores = raw[:, 4] * raw[:, 5]
    candidates = np.flatnonzero(scores > score_threshold)
    if candidates.size == 0:
        return np.zeros((0, 5), np.float32)
    resize = face_resize(frame_hw)
    boxes = resize.boxes_to_frame(decode_grid_boxes(raw[:, :4], resize.input_hw)[candidates])
    keep = nms(boxes, scores[candidates], nms_iou)
    faces = np.concatenate([clip_boxes(boxes[keep], frame_hw), scores[candidates][keep, None]], axis=1)
    return faces.astype(np.float32)
