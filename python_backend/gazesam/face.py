"""Face detection with the ProxylessGaze detector (YOLOX-style, one class): pre- and post-processing."""

from __future__ import annotations

import numpy as np

from .boxes import clip_boxes, nms
from .contracts import FACE, spatial_size
from .detector import LETTERBOX_PAD, decode_grid_boxes
from .letterbox import letterbox_nchw


def preprocess_face(frame: np.ndarray) -> tuple[np.ndarray, float]:
    """BGR uint8 frame -> (float32 [1, 3, 160, 128] BGR 0..255, ratio).

    Top-left letterbox padded with 114 (upstream §2.1); frame coordinates = network coordinates / ratio.
    """
    return letterbox_nchw(frame, spatial_size(FACE.input("full_image")), LETTERBOX_PAD)


def decode_faces(
    bbox_det: np.ndarray,
    ratio: float,
    frame_hw: tuple[int, int],
    score_threshold: float,
    nms_iou: float,
) -> np.ndarray:
    """Raw detector output float32 [1, 420, 6] -> faces float32 (N, 5) ``x1, y1, x2, y2, score``.

    Rows are ``raw x, y, w, h, objectness, class score``; ``score = obj * cls``. Keeps
    ``score > score_threshold``, runs greedy NMS (IoU ``> nms_iou`` suppressed), maps boxes back to
    the frame and clips them. Sorted by descending score; (0, 5) when no face is found.
    """
    raw = np.asarray(bbox_det, dtype=np.float32).reshape(bbox_det.shape[-2:])
    scores = raw[:, 4] * raw[:, 5]
    candidates = np.flatnonzero(scores > score_threshold)
    if candidates.size == 0:
        return np.zeros((0, 5), np.float32)
    boxes = decode_grid_boxes(raw[:, :4], spatial_size(FACE.input("full_image")))[candidates] / ratio
    keep = nms(boxes, scores[candidates], nms_iou)
    faces = np.concatenate([clip_boxes(boxes[keep], frame_hw), scores[candidates][keep, None]], axis=1)
    return faces.astype(np.float32)
