"""Axis-aligned box geometry.

Boxes are float32 arrays of shape (N, 4) holding ``x1, y1, x2, y2`` in frame pixels. They are
*pixel-inclusive*, as in the upstream demo: a box covers columns ``x1..x2`` and rows ``y1..y2``, so its
width is ``x2 - x1 + 1``. After :func:`clip_boxes` a box lies within ``[0, W-1] x [0, H-1]``.
"""

from __future__ import annotations

import numpy as np


def as_boxes(boxes: np.ndarray) -> np.ndarray:
    """``boxes`` as a float32 (N, 4) array (a single (4,) box becomes (1, 4))."""
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def clip_boxes(boxes: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    """Clip (N, 4) boxes into the frame ``[0, W-1] x [0, H-1]``; returns a new float32 (N, 4) array."""
    h, w = frame_hw
    out = as_boxes(boxes).copy()
    out[:, 0::2] = np.clip(out[:, 0::2], 0, w - 1)
    out[:, 1::2] = np.clip(out[:, 1::2], 0, h - 1)
    return out


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Pixel-inclusive areas ``(x2-x1+1)(y2-y1+1)`` of (N, 4) boxes as float32 (N,); degenerate boxes give 0."""
    b = as_boxes(boxes)
    width = np.maximum(b[:, 2] - b[:, 0] + 1, 0)
    height = np.maximum(b[:, 3] - b[:, 1] + 1, 0)
    return (width * height).astype(np.float32)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise pixel-inclusive IoU of (N, 4) boxes ``a`` and (M, 4) boxes ``b``: float32 (N, M)."""
    a, b = as_boxes(a), as_boxes(b)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter_wh = np.maximum(bottom_right - top_left + 1, 0)
    inter = inter_wh[..., 0] * inter_wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou.astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression.

    Visits boxes by descending score (ties keep input order) and suppresses every later box whose IoU
    with a kept box is ``> iou_threshold``. Returns the kept indices, int64 (K,), by descending score.
    """
    boxes = as_boxes(boxes)
    return _greedy_keep(iou_matrix(boxes, boxes) > np.float32(iou_threshold), scores)


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Class-aware NMS: a box only suppresses boxes with the same ``groups`` value (int (N,)).

    Returns int64 (K,) indices by descending score (ties keep input order).
    """
    boxes = as_boxes(boxes)
    groups = np.asarray(groups).reshape(-1)
    overlapping = (iou_matrix(boxes, boxes) > np.float32(iou_threshold)) & (groups[:, None] == groups[None, :])
    return _greedy_keep(overlapping, scores)


def _greedy_keep(overlapping: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Indices kept by greedy suppression over the bool (N, N) ``overlapping`` matrix, by descending score.

    One IoU matrix for all pairs, then one pass: a box not yet suppressed is kept and suppresses its row.
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float32).reshape(-1), kind="stable")
    suppressed = np.zeros(len(order), bool)
    keep: list[int] = []
    for index in order:
        if not suppressed[index]:
            keep.append(int(index))
            suppressed |= overlapping[index]
    return np.asarray(keep, dtype=np.int64)


def contains(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Whether each of the (N, 4) ``outer`` boxes fully contains the (4,) ``inner`` box (inclusive): bool (N,)."""
    outer = as_boxes(outer)
    x1, y1, x2, y2 = np.asarray(inner, dtype=np.float32).reshape(4)
    return (outer[:, 0] <= x1) & (outer[:, 1] <= y1) & (outer[:, 2] >= x2) & (outer[:, 3] >= y2)


def box_pixel_bounds(boxes: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    """Inclusive integer pixel bounds of (N, 4) boxes inside the frame: int64 (N, 4) ``c1, r1, c2, r2``.

    Each coordinate is floored, then each side is clamped into the frame on its own, so a box that
    misses the frame comes out empty (``c2 < c1`` or ``r2 < r1``) instead of collapsing onto the border.
    Slice with ``[r1:r2+1, c1:c2+1]``; never wraps around.
    """
    h, w = frame_hw
    raw = as_boxes(boxes).astype(np.float64)
    finite = np.isfinite(raw).all(axis=1)
    b = np.floor(np.clip(np.where(finite[:, None], raw, -1.0), -1, max(h, w)))
    c1 = np.maximum(b[:, 0], 0)
    r1 = np.maximum(b[:, 1], 0)
    c2 = np.where(finite, np.minimum(b[:, 2], w - 1), -1)
    r2 = np.minimum(b[:, 3], h - 1)
    return np.stack([c1, r1, c2, r2], axis=1).astype(np.int64)
