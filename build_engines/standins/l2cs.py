"""L2CS-Net gaze estimator stand-in: ResNet-50 (full) or a thin backbone (tiny), two 90-bin heads."""

from __future__ import annotations

import math

import numpy as np

from gazesam.contracts import NetworkContract

from .blocks import bottleneck
from .graph_builder import GraphBuilder


def build_gaze(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """L2CS-Net: backbone → global pool → two 90-bin FC heads → softmax expectation → radians.

    ``input`` [1,3,448,448] → ``gaze_yaw_pitch`` [1,2] = [yaw, pitch], ``(4·Σ pᵢ·i − 180)·π/180``.
    full: real ResNet-50 (bottlenecks 3-4-6-3, BN folded). tiny: stride-8 7×7 stem, one conv, one bottleneck.
    """
    x = c.inputs[0].name
    if size == "full":
        y = g.conv(x, 3, 64, 7, stride=2, act="relu")  # 224²
        y = g.op("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])  # 112²
        cin = 64
        for mid, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(blocks):
                y = bottleneck(g, y, cin, mid, mid * 4, stride if i == 0 else 1)
                cin = mid * 4  # ends at 2048 × 14²
        arch = "ResNet-50 (3-4-6-3 bottlenecks, BN folded) at 448²"
    else:
        y = g.conv(x, 3, 8, 7, stride=8, act="relu")  # 56²
        y = g.conv(y, 8, 16, 3, stride=2, act="relu")  # 28²
        y = bottleneck(g, y, 16, 8, 32, 2)  # 14²
        cin = 32
        arch = "thin 3-layer backbone (stride-8 stem)"
    feat = g.op("Flatten", [g.op("GlobalAveragePool", [y])], axis=1)  # [1, C]
    bins = g.const(np.arange(90, dtype=np.float32).reshape(90, 1))
    expectations = []
    for _ in ("yaw", "pitch"):
        probs = g.op("Softmax", [g.linear(feat, cin, 90)], axis=-1)  # [1, 90]
        expectations.append(g.op("MatMul", [probs, bins]))  # [1, 1] expected bin index
    both = g.concat(expectations, axis=1)  # [1, 2]
    g.add(g.scale(both, 4.0 * math.pi / 180.0), g.const(-math.pi), out=c.outputs[0].name)
    return f"L2CS-Net: {arch}, two 90-bin heads, softmax expectation → radians."
