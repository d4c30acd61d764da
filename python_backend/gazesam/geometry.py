"""The one frame <-> network-input geometry type: how a frame is resized and placed on a network's canvas.

In the spirit of segment-anything's ``ResizeLongestSide``: every network's pre-processing resizes the
frame with a :class:`FrameResize`, and every box, point or mask comes back to the frame through the
same object. The constructors are the families' own rules (top-left letterbox, centred letterbox,
stretch, longest side), reproduced exactly as each family was trained and exported.

Images are H x W x C (OpenCV layout); sizes are ``(height, width)``; points and boxes are ``x, y``
(boxes ``x1, y1, x2, y2``). A frame point ``(x, y)`` sits at ``(x * sx + left, y * sy + top)`` on the canvas.

A :class:`ResizeRule` names one constructor and its arguments: the served networks' graphs implement the
same rule in ONNX operators (``build_engines.input_graphs``), checked against :meth:`ResizeRule.of`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

Size = tuple[int, int]


@dataclass(frozen=True)
class FrameResize:
    """A frame of ``frame_hw`` resized to ``content_hw`` and placed at ``offset_xy`` on an ``input_hw`` canvas.

    ``scale_xy`` maps frame to canvas coordinates; it is the family's own ratio, which may differ from
    ``content / frame`` by the rounding of the content size (e.g. the YOLOX letterbox's ``r``).
    """

    frame_hw: Size
    input_hw: Size
    content_hw: Size
    offset_xy: tuple[int, int]
    scale_xy: tuple[float, float]

    # --- the families' rules --------------------------------------------------------------------

    @classmethod
    def letterbox_top_left(cls, frame_hw: Size, input_hw: Size) -> FrameResize:
        """YOLOX's (and the face detector's) letterbox: scale ``r = min(h/H, w/W)``, content at (0, 0).

        Content size ``max(1, int(side * r))``; a canvas point maps back by dividing by ``r``.
        """
        height, width = frame_hw
        ratio = min(input_hw[0] / height, input_hw[1] / width)
        content = (max(1, int(height * ratio)), max(1, int(width * ratio)))
        return cls(tuple(frame_hw), tuple(input_hw), content, (0, 0), (ratio, ratio))

    @classmethod
    def letterbox_centred(cls, frame_hw: Size, input_hw: Size) -> FrameResize:
        """Upstream's gaze letterbox: scale ``min``, content ``round(side * s)``, padding floor before / ceil after."""
        height, width = frame_hw
        scale = min(input_hw[0] / height, input_hw[1] / width)
        content = (min(input_hw[0], max(1, round(height * scale))), min(input_hw[1], max(1, round(width * scale))))
        offset = (math.floor((input_hw[1] - content[1]) / 2), math.floor((input_hw[0] - content[0]) / 2))
        return cls(tuple(frame_hw), tuple(input_hw), content, offset, (scale, scale))

    @classmethod
    def longest_side(cls, frame_hw: Size, side: int, input_hw: Size | None = None, centred: bool = False) -> FrameResize:
        """Longest side scaled to ``side`` (segment-anything's rule: ``int(x * s + 0.5)``, ``s = side / max(H, W)``).

        On ``input_hw`` (default: the content itself), at the top left or ``centred`` (``(canvas - content) // 2``).
        ``scale_xy`` is ``s`` on both axes when centred (super-gradients' rule), else per axis
        ``content / frame`` (segment-anything's ``apply_coords``).
        """
        height, width = frame_hw
        scale = side / max(height, width)
        content = (int(height * scale + 0.5), int(width * scale + 0.5))
        canvas = tuple(input_hw) if input_hw is not None else content
        if centred:
            offset = ((canvas[1] - content[1]) // 2, (canvas[0] - content[0]) // 2)
            return cls(tuple(frame_hw), canvas, content, offset, (scale, scale))
        return cls(tuple(frame_hw), canvas, content, (0, 0), (content[1] / width, content[0] / height))

    @classmethod
    def stretch(cls, frame_hw: Size, input_hw: Size) -> FrameResize:
        """The whole frame squeezed onto the canvas, aspect not kept (Depth-Anything's export, FastDepth)."""
        return cls(tuple(frame_hw), tuple(input_hw), tuple(input_hw), (0, 0),
                   (input_hw[1] / frame_hw[1], input_hw[0] / frame_hw[0]))

    @property
    def canvas_pads(self) -> tuple[int, int, int, int]:
        """Canvas rows/columns around the content: ``(top, left, bottom, right)``."""
        left, top = self.offset_xy
        return (top, left, self.input_hw[0] - top - self.content_hw[0], self.input_hw[1] - left - self.content_hw[1])

    # --- images ---------------------------------------------------------------------------------

    def resize_content(self, image: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """``image`` (the frame, H x W[ x C]) resized to ``content_hw`` (returned as is when already that size)."""
        height, width = self.content_hw
        if image.shape[:2] == (height, width):
            return image
        return cv2.resize(image, (width, height), interpolation=interpolation).reshape((height, width) + image.shape[2:])

    def place(self, content: np.ndarray, pad_value: float = 0) -> np.ndarray:
        """``content`` (``content_hw``[ x C]) at ``offset_xy`` on an ``input_hw`` canvas filled with ``pad_value``."""
        if self.content_hw == self.input_hw:
            return content
        canvas = np.full(tuple(self.input_hw) + content.shape[2:], pad_value, dtype=content.dtype)
        left, top = self.offset_xy
        height, width = self.content_hw
        canvas[top : top + height, left : left + width] = content
        return canvas

    def apply_image(self, image: np.ndarray, pad_value: float = 0, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """``image`` (the frame, H x W[ x C]) resized to the content and placed on a ``pad_value`` canvas."""
        return self.place(self.resize_content(image, interpolation), pad_value)

    def content_of(self, canvas: np.ndarray) -> np.ndarray:
        """The part of a canvas-sized array (..., h, w) that shows the frame (a view)."""
        left, top = self.offset_xy
        height, width = self.content_hw
        return canvas[..., top : top + height, left : left + width]

    def to_frame_map(self, canvas_map: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """A 2-D canvas-sized map (logits, depth) cropped to the content and resized to the frame (H, W)."""
        height, width = self.frame_hw
        return cv2.resize(np.ascontiguousarray(self.content_of(canvas_map)), (width, height), interpolation=interpolation)

    # --- coordinates ----------------------------------------------------------------------------

    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.scale_xy, np.float32), np.array(self.offset_xy, np.float32)

    def boxes_to_input(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) frame-pixel boxes -> float32 (N, 4) canvas-pixel boxes."""
        scale, offset = self._affine()
        return (np.asarray(boxes, np.float32).reshape(-1, 2, 2) * scale + offset).reshape(-1, 4)

    def boxes_to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) canvas-pixel boxes -> float32 (N, 4) frame-pixel boxes (not clipped)."""
        scale, offset = self._affine()
        return ((np.asarray(boxes, np.float32).reshape(-1, 2, 2) - offset) / scale).reshape(-1, 4)

    def points_to_input(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) frame points -> float32 (N, 2) canvas points (continuous: pixel centres are not shifted)."""
        scale, offset = self._affine()
        return np.asarray(points, np.float32).reshape(-1, 2) * scale + offset


RULES = ("letterbox_top_left", "letterbox_centred", "longest_side", "stretch")


@dataclass(frozen=True)
class ResizeRule:
    """One family's :class:`FrameResize` constructor with its fixed arguments (all but the frame size).

    ``kind`` is a constructor name (:data:`RULES`); ``side`` and ``centred`` only apply to ``longest_side``
    (``input_hw`` is then its canvas).
    """

    kind: str
    input_hw: Size
    side: int | None = None
    centred: bool = False

    def __post_init__(self) -> None:
        if self.kind not in RULES:
            raise ValueError(f"unknown resize rule {self.kind!r}; choose one of {', '.join(RULES)}")
        if (self.kind == "longest_side") != (self.side is not None):
            raise ValueError("a longest_side rule needs its side, and only it takes one")

    def of(self, frame_hw: Size) -> FrameResize:
        """The :class:`FrameResize` of a ``frame_hw`` frame under this rule."""
        if self.kind == "longest_side":
            return FrameResize.longest_side(frame_hw, self.side, self.input_hw, self.centred)
        return getattr(FrameResize, self.kind)(frame_hw, self.input_hw)
