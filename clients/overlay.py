"""Drawing one frame's result: target mask, gaze ray, face and target boxes, status, banner.

Colours are BGR. Coordinates may lie anywhere (off-frame, NaN): drawing never fails on them.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

MASK_COLOR = (79, 244, 255)  # upstream's YELLOW, blended at 50 %
GAZE_COLOR = (128, 128, 128)  # upstream's GREY
FACE_COLOR = (0, 200, 0)
TARGET_COLOR = (255, 0, 255)
TEXT_COLOR = (255, 255, 255)
TEXT_BACKGROUND = (0, 0, 0)
BANNER_COLOR = (0, 0, 220)
FONT = cv2.FONT_HERSHEY_SIMPLEX

_REFERENCE_SIDE = 640  # line widths and fonts are sized for a 640-pixel frame and scaled from there
_COORD_LIMIT = 32767  # far outside any frame, safely inside OpenCV's fixed-point drawing range


def draw_result(
    frame: np.ndarray,
    *,
    mask: np.ndarray | None,
    face_box: np.ndarray | None,
    target_box: np.ndarray | None,
    target_label: str | None,
    gaze_ray: np.ndarray | None,
    status_text: str,
    banner: str | None,
    caption: list[str] | None = None,
) -> np.ndarray:
    """A copy of the H x W x 3 uint8 BGR ``frame`` with the result drawn on it.

    mask: (H, W) uint8 (non-zero = target) or None; face_box, target_box: (4,) ``x1, y1, x2, y2``;
    gaze_ray: (4,) ``x0, y0, x1, y1``; banner: text for a red bar across the top (e.g. a warning
    that stand-in models are in use), or None; caption: small lines at the bottom right (e.g. which
    network family fills each role), or None.
    """
    out = np.ascontiguousarray(frame, dtype=np.uint8).copy()
    scale = max(out.shape[:2]) / _REFERENCE_SIDE
    thickness = max(1, round(2 * scale))
    if mask is not None:
        _blend_mask(out, mask)
    if gaze_ray is not None:
        _draw_line(out, gaze_ray, GAZE_COLOR, thickness)
    if face_box is not None:
        _draw_box(out, face_box, FACE_COLOR, thickness)
    if target_box is not None:
        _draw_box(out, target_box, TARGET_COLOR, thickness)
        if target_label:
            _draw_label(out, target_box, target_label, scale)
    _draw_status(out, status_text, scale)
    top = _draw_banner(out, banner, scale) if banner else 0
    if caption:
        _draw_caption(out, caption, top, scale)
    return out


def _point(x: float, y: float) -> tuple[int, int] | None:
    """An OpenCV integer point, clamped to a safe range; None when not finite."""
    x, y = float(x), float(y)
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    clamp = lambda v: int(round(min(max(v, -_COORD_LIMIT), _COORD_LIMIT)))  # noqa: E731
    return clamp(x), clamp(y)


def _corners(values: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The two points of a (4,) ``x1, y1, x2, y2`` array, or None when any is not finite."""
    v = np.asarray(values, dtype=np.float64).reshape(4)
    first, second = _point(v[0], v[1]), _point(v[2], v[3])
    return None if first is None or second is None else (first, second)


def _blend_mask(out: np.ndarray, mask: np.ndarray) -> None:
    """Blend MASK_COLOR 50 % into ``out`` where ``mask`` is non-zero (resized if its size differs)."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        return
    if mask.shape != out.shape[:2]:
        mask = cv2.resize(mask.astype(np.uint8), out.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    on = mask != 0
    out[on] = ((out[on].astype(np.uint16) + np.array(MASK_COLOR, np.uint16)) // 2).astype(np.uint8)


def _draw_line(out: np.ndarray, ray: np.ndarray, color: tuple[int, int, int], thickness: int) -> None:
    points = _corners(ray)
    if points is not None:
        cv2.line(out, *points, color, thickness, cv2.LINE_AA)


def _draw_box(out: np.ndarray, box: np.ndarray, color: tuple[int, int, int], thickness: int) -> None:
    points = _corners(box)
    if points is not None:
        cv2.rectangle(out, *points, color, thickness)


def _text_block(
    out: np.ndarray,
    text: str,
    origin: tuple[int, int],
    font_scale: float,
    color: tuple[int, int, int],
    background: tuple[int, int, int],
) -> None:
    """``text`` with its top-left at ``origin`` (moved inside the frame) on a filled background."""
    thickness = max(1, round(font_scale * 2))
    (width, height), baseline = cv2.getTextSize(text, FONT, font_scale, thickness)
    pad = max(2, height // 4)
    frame_h, frame_w = out.shape[:2]
    x = min(max(origin[0], 0), max(frame_w - width - 2 * pad, 0))
    y = min(max(origin[1], 0), max(frame_h - height - baseline - 2 * pad, 0))
    cv2.rectangle(out, (x, y), (x + width + 2 * pad, y + height + baseline + 2 * pad), background, cv2.FILLED)
    cv2.putText(out, text, (x + pad, y + pad + height), FONT, font_scale, color, thickness, cv2.LINE_AA)


def _draw_label(out: np.ndarray, box: np.ndarray, label: str, scale: float) -> None:
    points = _corners(box)
    if points is None:
        return
    (x1, y1), _ = points
    font_scale = 0.6 * scale
    (_, height), baseline = cv2.getTextSize(label, FONT, font_scale, max(1, round(font_scale * 2)))
    _text_block(out, label, (x1, y1 - height - baseline - 8), font_scale, (0, 0, 0), TARGET_COLOR)


def _draw_status(out: np.ndarray, text: str, scale: float) -> None:
    if text:
        _text_block(out, text, (0, out.shape[0]), 0.6 * scale, TEXT_COLOR, TEXT_BACKGROUND)


def _draw_caption(out: np.ndarray, lines: list[str], top: int, scale: float) -> None:
    """``lines`` in small white text on a dark band at the bottom right, above the frame's edge."""
    font_scale = 0.3 * scale
    thickness = 1
    margin = max(2, round(2 * scale))
    sizes = [cv2.getTextSize(line, FONT, font_scale, thickness) for line in lines]
    width = max(w for (w, _), _ in sizes) + 2 * margin
    shrink = min(1.0, (out.shape[1] * 0.6) / width)  # at most 60 % of the frame's width
    row = max(h + b for (_, h), b in sizes) * shrink + margin
    y = out.shape[0] - row * len(lines) - margin
    x = out.shape[1] - width * shrink
    band = out[int(max(y, top)):, int(x):]
    band[:] = (band * 0.35).astype(np.uint8)  # darken behind the text, keep the picture visible
    for line, ((_, h), _) in zip(lines, sizes):
        y += row
        cv2.putText(out, line, (int(x + margin), int(y - margin)), FONT, font_scale * shrink, TEXT_COLOR,
                    thickness, cv2.LINE_AA)


def _draw_banner(out: np.ndarray, text: str, scale: float) -> int:
    """A red bar across the top with ``text`` in white, shrunk until it fits the frame's width."""
    frame_w = out.shape[1]
    font_scale, thickness = 0.9 * scale, max(2, round(2 * scale))
    (width, height), baseline = cv2.getTextSize(text, FONT, font_scale, thickness)
    margin = max(4, round(8 * scale))
    if width > frame_w - 2 * margin:
        font_scale *= max(frame_w - 2 * margin, 1) / width
        thickness = max(1, round(thickness * font_scale / (0.9 * scale)))
        (width, height), baseline = cv2.getTextSize(text, FONT, font_scale, thickness)
    bar_height = height + baseline + 2 * margin
    cv2.rectangle(out, (0, 0), (frame_w - 1, bar_height), BANNER_COLOR, cv2.FILLED)
    cv2.putText(out, text, (margin, margin + height), FONT, font_scale, TEXT_COLOR, thickness, cv2.LINE_AA)
    return bar_height + 1
