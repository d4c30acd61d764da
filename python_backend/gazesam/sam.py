"""EfficientViT-SAM: encoder pre-processing, box prompts, and mask post-processing.

Three coordinate frames are involved: the frame (H x W), the encoder input (longest side 512, padded
right/bottom to 512 x 512) and SAM's prompt frame (longest side 1024), in which the decoder expects
box prompts and at whose resolution its low-resolution masks are defined.
"""

from __future__ import annotations

import cv2
import numpy as np

from .boxes import as_boxes
from .contracts import SAM_ENCODER, spatial_size
from .letterbox import longest_side_shape

PROMPT_FRAME_SIDE = 1024
"""Longest side of SAM's prompt frame (``image_size[0]`` of EfficientViT-SAM)."""

SAM_PIXEL_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
"""SAM's RGB statistics on 0..255 pixels."""
SAM_PIXEL_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)


def preprocess_sam(frame: np.ndarray) -> np.ndarray:
    """BGR uint8 frame -> float32 [1, 3, 512, 512] RGB, SAM-normalised, zero-padded right and bottom.

    The longest side is resized to 512 (INTER_LINEAR) and the padding is added after normalising,
    as the reference. Upstream fed BGR to an RGB model (bug §6.2.10).
    """
    input_h, input_w = spatial_size(SAM_ENCODER.input("input_image"))
    height, width = frame.shape[:2]
    new_h, new_w = longest_side_shape(height, width, max(input_h, input_w))
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    if (new_h, new_w) != (height, width):
        rgb = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    tensor = np.zeros((1, 3, input_h, input_w), dtype=np.float32)
    tensor[0, :, :new_h, :new_w] = ((rgb.astype(np.float32) - SAM_PIXEL_MEAN) / SAM_PIXEL_STD).transpose(2, 0, 1)
    return tensor


def boxes_to_prompts(boxes: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    """(N, 4) frame-pixel boxes -> float32 (N, 1, 4) box prompts in the 1024-longest-side prompt frame.

    Scaled per axis: ``x * newW / W`` and ``y * newH / H``.
    """
    height, width = frame_hw
    new_h, new_w = longest_side_shape(height, width, PROMPT_FRAME_SIDE)
    scale = np.array([new_w / width, new_h / height] * 2, dtype=np.float32)
    return (as_boxes(boxes) * scale).reshape(-1, 1, 4).astype(np.float32)


def upscale_masks(low_res: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    """Decoder logits float32 (N, 1, 256, 256) -> bool (N, H, W) masks (logit > 0).

    Bilinear to the 1024 x 1024 prompt frame, cropped to the frame's content there, bilinear to H x W.
    """
    height, width = frame_hw
    new_h, new_w = longest_side_shape(height, width, PROMPT_FRAME_SIDE)
    logits = np.asarray(low_res, dtype=np.float32).reshape((-1,) + low_res.shape[-2:])
    masks = np.zeros((logits.shape[0], height, width), dtype=bool)
    for i, logit in enumerate(logits):
        square = cv2.resize(logit, (PROMPT_FRAME_SIDE, PROMPT_FRAME_SIDE), interpolation=cv2.INTER_LINEAR)
        masks[i] = cv2.resize(square[:new_h, :new_w], (width, height), interpolation=cv2.INTER_LINEAR) > 0.0
    return masks
