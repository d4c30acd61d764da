"""Aspect-preserving resizes onto fixed-size canvases.

Images are H x W x C uint8 (OpenCV layout). Sizes are ``(height, width)``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def _canvas(size_hw: tuple[int, int], like: np.ndarray, pad_value: int) -> np.ndarray:
    """A ``size_hw`` canvas with ``like``'s channels and dtype, filled with ``pad_value``."""
    return np.full(tuple(size_hw) + like.shape[2:], pad_value, dtype=like.dtype)


def letterbox_top_left(
    image: np.ndarray, size_hw: tuple[int, int], pad_value: int
) -> tuple[np.ndarray, float]:
    """Scale ``image`` by ``r = min(h/H, w/W)`` (INTER_LINEAR) and paste it at the canvas's top-left.

    This is the face detector's and YOLOX's letterbox: since the content starts at (0, 0), a point
    maps back to the frame by dividing by ``r``.

    Returns the (h, w[, C]) uint8 canvas, padded with ``pad_value``, and the ratio ``r``.
    """
    height, width = image.shape[:2]
    ratio = min(size_hw[0] / height, size_hw[1] / width)
    new_w = max(1, int(width * ratio))
    new_h = max(1, int(height * ratio))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = _canvas(size_hw, image, pad_value)
    canvas[:new_h, :new_w] = resized.reshape((new_h, new_w) + image.shape[2:])
    return canvas, ratio


def resize_and_pad_center(
    image: np.ndarray, size_hw: tuple[int, int], pad_value: int = 0
) -> np.ndarray:
    """Fit ``image`` into ``size_hw`` keeping its aspect ratio, centred, padded with ``pad_value``.

    Upstream's gaze letterbox: INTER_AREA when either side shrinks past the target, INTER_CUBIC
    otherwise; the padding is split ``floor`` before / ``ceil`` after. Returns the (h, w[, C]) canvas.
    """
    height, width = image.shape[:2]
    target_h, target_w = size_hw
    scale = min(target_h / height, target_w / width)
    new_h = min(target_h, max(1, round(height * scale)))
    new_w = min(target_w, max(1, round(width * scale)))
    shrinking = height > target_h or width > target_w
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    top = math.floor((target_h - new_h) / 2)
    left = math.floor((target_w - new_w) / 2)
    canvas = _canvas(size_hw, image, pad_value)
    canvas[top : top + new_h, left : left + new_w] = resized.reshape((new_h, new_w) + image.shape[2:])
    return canvas


def longest_side_shape(h: int, w: int, target: int) -> tuple[int, int]:
    """``(newh, neww)`` with the longest side scaled to ``target``: ``int(x * s + 0.5)``, ``s = target / max(h, w)``."""
    scale = target / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def letterbox_nchw(image: np.ndarray, size_hw: tuple[int, int], pad_value: int) -> tuple[np.ndarray, float]:
    """:func:`letterbox_top_left`, as a float32 [1, 3, h, w] tensor with pixel values kept (0..255)."""
    canvas, ratio = letterbox_top_left(image, size_hw, pad_value)
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32), ratio
