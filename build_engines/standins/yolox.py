"""YOLOX-nano detector stand-in (a small pyramid with dense heads; one graph for both sizes)."""

from __future__ import annotations

from gazesam.contracts import NetworkContract

from .blocks import dense_head, small_pyramid
from .graph_builder import GraphBuilder


def build_yolox(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """YOLOX-nano contract: ``images`` [1,3,416,416] → ``output`` [1,3549,85] (raw box, sigmoid obj + 80 classes).

    Scores are biased low (few detections). Same graph for both sizes (no upstream compute target).
    """
    levels = small_pyramid(g, c.inputs[0].name, (16, 32, 48, 64, 96))  # 52² + 26² + 13² = 3549 anchors
    dense_head(g, levels, 85, [0.5, 0.5, 0.3, 0.3] + [1.0] * 81, [0, 0, 0, 0, -4.0] + [-3.0] * 80,
                sigmoid_from=4, out=c.outputs[0].name)
    return "YOLOX-nano-contract detector: 5 stride-2 convs, 1×1 heads at strides 8/16/32, no decode."
