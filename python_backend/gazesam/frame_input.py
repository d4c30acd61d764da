"""What one network sees of the frame: the pre-processing its served graph begins with, as data.

Each family states its :class:`FrameInput` beside its constants (``face``, ``detector``, ``depth``,
``sam``, ``gaze``); ``build_engines.input_graphs`` turns it into ONNX operators prepended to the
network's own graph, so ONNX Runtime or TensorRT does this work, and the family's cv2 reference
(``preprocess_*``, kept for the checks in tests and ``perf/compare_inputs.py``) does the same in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

from .geometry import ResizeRule

INTERPOLATIONS = ("linear", "cubic", "area", "area_or_cubic")
"""cv2's INTER_LINEAR, INTER_CUBIC (a = -0.75), INTER_AREA, and upstream L2CS's rule: INTER_AREA when the
image shrinks, INTER_CUBIC otherwise."""


@dataclass(frozen=True)
class FrameInput:
    """One network input made from an H x W x 3 uint8 BGR image (the frame, or a face crop of it).

    In order: resized onto its content by ``rule`` with ``interpolation``, rounded to whole 0..255 values
    (cv2's uint8 output), placed on the canvas (``pad`` around it, on raw pixels unless ``pad_normalised``),
    put in ``colour`` order, normalised ``(x / divisor - mean) / std`` per channel, then laid out and typed
    as the network's own input tensor (NCHW or NHWC, float32 or uint8) from its contract.
    """

    rule: ResizeRule
    interpolation: str
    colour: str  # "bgr" (the frame's order) or "rgb"
    pad: float = 0.0
    pad_normalised: bool = False  # True: the canvas is padded after normalising (segment-anything)
    divisor: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"unknown interpolation {self.interpolation!r}; choose one of {', '.join(INTERPOLATIONS)}")
        if self.colour not in ("bgr", "rgb"):
            raise ValueError(f"colour must be 'bgr' or 'rgb', got {self.colour!r}")

    @property
    def normalises(self) -> bool:
        return self.divisor != 1.0 or any(self.mean) or any(s != 1.0 for s in self.std)
