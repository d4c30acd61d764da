"""Gaze-to-prompt fusion: which detections become SAM prompts, and which mask is the target.

Upstream §3.4-3.6, with its bugs fixed: boxes are clipped, crops never wrap around, the prompt count
is capped by score. The project's rules (``[fusion] rules = "project"``) add a "looking into the
camera" state and candidates just beside the ray; see the rule sets at the end.
"""

from __future__ import annotations

import math

import numpy as np

from .boxes import as_boxes, box_pixel_bounds, contains
from .depth import NearMap
from .detector import Detections
from .settings import FusionSettings


def drop_boxes_containing(dets: Detections, face_box: np.ndarray) -> Detections:
    """Drop detections whose box fully contains the (4,) face box (the viewer's own body, mostly)."""
    return dets.take(~contains(dets.boxes, face_box))


def _orientation(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Sign of the turn a -> b -> c (points (..., 2)): +1 counter-clockwise, -1 clockwise, 0 collinear."""
    cross = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
    return np.sign(cross)


def _box_edges(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points, float64 (N, 4, 2) each, of the top, right, bottom and left edges."""
    b = as_boxes(boxes).astype(np.float64)
    corners = np.stack(
        [b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1
    )  # top-left, top-right, bottom-right, bottom-left
    return corners, np.roll(corners, -1, axis=1)


def _segment_crosses_boxes(p0: np.ndarray, p1: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """bool (N,): whether segment p0-p1 properly crosses an edge of each (N, 4) box."""
    p0 = np.asarray(p0, dtype=np.float64).reshape(2)
    p1 = np.asarray(p1, dtype=np.float64).reshape(2)
    starts, ends = _box_edges(boxes)
    straddles_edge = _orientation(starts, ends, p0) * _orientation(starts, ends, p1) < 0
    straddles_segment = _orientation(p0, p1, starts) * _orientation(p0, p1, ends) < 0
    return (straddles_edge & straddles_segment).any(axis=1)


def segment_crosses_box(p0: np.ndarray, p1: np.ndarray, box: np.ndarray) -> bool:
    """Whether segment p0-p1 (points (2,)) properly crosses any of the 4 edges of the (4,) box.

    Proper crossing: each segment's endpoints lie strictly on opposite sides of the other's line,
    so touching an edge, ending on it, or running along it does not count.
    """
    return bool(_segment_crosses_boxes(p0, p1, as_boxes(box))[0])


def filter_by_gaze(dets: Detections, ray: np.ndarray) -> Detections:
    """Keep the detections whose box the gaze ray (4,) ``x0, y0, x1, y1`` crosses."""
    if len(dets) == 0:
        return dets
    ray = np.asarray(ray, dtype=np.float64).reshape(4)
    return dets.take(_segment_crosses_boxes(ray[:2], ray[2:], dets.boxes))


def choose_prompts(
    dets: Detections, near_fraction: np.ndarray, box_near_ratio: float, max_prompts: int
) -> Detections:
    """The detections at least ``box_near_ratio`` near, at most ``max_prompts``, by descending score.

    ``near_fraction`` float (N,) is each box's near share (see :func:`depth.near_fraction`).
    """
    shares = np.asarray(near_fraction, dtype=np.float32).reshape(-1)
    near_enough = np.flatnonzero(shares >= np.float32(box_near_ratio))  # compared in float32, as stored
    by_score = near_enough[np.argsort(-dets.scores[near_enough], kind="stable")]
    return dets.take(by_score[: max(int(max_prompts), 0)])


def select_mask(
    masks: np.ndarray,
    iou: np.ndarray,
    boxes: np.ndarray,
    near: NearMap,
    face_center: tuple[float, float],
    sam_iou_threshold: float,
    mask_near_ratio: float,
) -> int | None:
    """Index of the target mask among bool (N, H, W) ``masks``, or None (upstream §3.6).

    A mask is skipped when it covers the face centre (clamped into the frame) or its predicted IoU
    (``iou``, (N,) or (N, 1)) is below ``sam_iou_threshold``. Inside its clipped, inclusive box it is
    accepted when it has pixels and at least ``mask_near_ratio`` of them are near (``near``, read per box). Score = near mask pixels / box pixels; the highest positive score wins, ties keep the first.
    """
    n, height, width = masks.shape
    cx, cy = (
        int(np.clip(np.floor(np.nan_to_num(float(v))), 0, side - 1))
        for v, side in zip(face_center, (width, height))
    )
    iou = np.asarray(iou, dtype=np.float32).reshape(-1)
    iou_threshold = np.float32(sam_iou_threshold)  # compared in the decoder's precision
    bounds = box_pixel_bounds(boxes, (height, width))
    best, best_score = None, 0.0
    for i in range(n):
        if masks[i, cy, cx] or not iou[i] >= iou_threshold:
            continue
        c1, r1, c2, r2 = bounds[i]
        if c2 < c1 or r2 < r1:
            continue
        inside = masks[i, r1 : r2 + 1, c1 : c2 + 1]
        mask_pixels = int(np.count_nonzero(inside))
        front_pixels = int(np.count_nonzero(inside & near[r1 : r2 + 1, c1 : c2 + 1]))
        if mask_pixels == 0 or front_pixels < mask_near_ratio * mask_pixels:
            continue
        score = front_pixels / ((c2 - c1 + 1) * (r2 - r1 + 1))
        if score > best_score:
            best, best_score = i, score
    return best


# --- the rule sets ------------------------------------------------------------------------------
# "upstream": upstream §3.4-3.6 (bugs fixed): boxes the ray crosses and about as near as the face become
# prompts; the largest well-filled, near mask wins. "project" keeps that core and adds what the accuracy
# harness (perf/evaluate_accuracy.py) showed to help: no target while the viewer looks into the camera,
# and boxes just beside the ray (within the gaze network's error) as candidates too.

RULES = ("project", "upstream")


def check_rules(rules: str) -> str:
    if rules not in RULES:
        raise ValueError(f"unknown fusion rules {rules!r}; choose one of {', '.join(RULES)}")
    return rules


def looks_at_camera(direction: tuple[float, float], settings: FusionSettings) -> bool:
    """Project rules: an image-plane gaze direction this short means the viewer looks into the lens."""
    return settings.rules == "project" and math.hypot(*direction) < settings.camera_gaze


def _angle_off_ray(ray: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Degrees (N,) between the ray's direction and the line from its origin to each (N, 2) point."""
    direction = np.asarray(ray[2:], np.float64) - ray[:2]
    vectors = np.asarray(points, np.float64) - ray[:2]
    norms = np.linalg.norm(vectors, axis=1) * max(float(np.linalg.norm(direction)), 1e-9)
    cos = np.where(norms > 0, vectors @ direction / np.maximum(norms, 1e-9), 1.0)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def near_the_ray(dets: Detections, ray: np.ndarray, cone_deg: float) -> Detections:
    """The detections the ray (4,) crosses, or whose box centre lies within ``cone_deg`` of its direction."""
    if len(dets) == 0:
        return dets
    ray = np.asarray(ray, dtype=np.float64).reshape(4)
    crossed = _segment_crosses_boxes(ray[:2], ray[2:], dets.boxes)
    boxes = dets.boxes.astype(np.float64)
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    return dets.take(crossed | (_angle_off_ray(ray, centres) <= cone_deg))


def prompts_for(
    settings: FusionSettings, dets: Detections, face_box: np.ndarray, ray: np.ndarray, near: NearMap,
    max_prompts: int,
) -> Detections:
    """The box prompts of one frame under ``settings.rules`` (``near``: the pixels about as near as the face)."""
    dets = drop_boxes_containing(dets, face_box)
    if settings.rules == "project":
        dets = near_the_ray(dets, ray, settings.cone_deg)
    else:
        dets = filter_by_gaze(dets, ray)
    return choose_prompts(dets, near.fraction(dets.boxes), settings.box_near_ratio, max_prompts)


def select_target(
    settings: FusionSettings, masks: np.ndarray, iou: np.ndarray, boxes: np.ndarray, near: NearMap,
    ray: np.ndarray,
) -> int | None:
    """Index of the target among the prompts' bool (N, H, W) ``masks``, or None: both rule sets use
    upstream's choice (ordering along the ray and preferring contained objects measured worse)."""
    ray = np.asarray(ray, np.float32).reshape(4)
    return select_mask(
        masks, iou, boxes, near, (float(ray[0]), float(ray[1])), settings.sam_iou_threshold, settings.mask_near_ratio
    )
