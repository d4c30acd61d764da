"""ProxylessGaze face detector stand-in (a small pyramid with dense heads; one graph for both sizes)."""

from __future__ import annotations

from gazesam.contracts import NetworkContract

from .blocks import dense_head, small_pyramid
from .graph_builder import GraphBuilder


def build_face(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """ProxylessGaze face detector contract: [1,3,160,128] raw BGR → ``bbox_det`` [1,420,6].

    Columns: raw x, y, log-w, log-h, then sigmoid objectness and sigmoid class score. Biased so that
    obj·cls stays far below the 0.5 face threshold: a stand-in finds few or no faces. Same graph for both sizes
    (no upstream compute target).
    """
    levels = small_pyramid(g, c.inputs[0].name, (8, 16, 24, 32, 48))  # 20×16 + 10×8 + 5×4 = 420 anchors
    dense_head(g, levels, 6, [0.5, 0.5, 0.3, 0.3, 1.0, 1.0], [0, 0, 0, 0, -4.0, -1.0], sigmoid_from=4,
                out=c.outputs[0].name)
    return "ProxylessGaze-contract face detector: 5 stride-2 convs, 1×1 heads at strides 8/16/32."
