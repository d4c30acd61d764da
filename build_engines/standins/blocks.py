"""Blocks several stand-in architectures share: ResNet bottleneck, CSP stage, dense detector head, small pyramid."""

from __future__ import annotations

from collections.abc import Sequence

from .graph_builder import GraphBuilder


def bottleneck(g: GraphBuilder, x: str, cin: int, mid: int, cout: int, stride: int) -> str:
    """ResNet v1.5 bottleneck: 1×1 → 3×3 (stride) → 1×1, projection shortcut when the shape changes, ReLU."""
    y = g.conv(x, cin, mid, 1, act="relu")
    y = g.conv(y, mid, mid, 3, stride=stride, act="relu")
    y = g.conv(y, mid, cout, 1, gain=0.2)  # small last conv: activations stay O(1) without BN
    shortcut = x if stride == 1 and cin == cout else g.conv(x, cin, cout, 1, stride=stride, gain=0.5)
    return g.relu(g.add(y, shortcut))


def csp(g: GraphBuilder, x: str, cin: int, cout: int, n: int, hidden: int) -> str:
    """CSP stage of RepVGG-style (fused) blocks: two 1×1 branches, ``n`` residual 3×3 pairs on one, 1×1 merge."""
    a = g.conv(x, cin, hidden, 1, act="relu")
    b = g.conv(x, cin, hidden, 1, act="relu")
    for _ in range(n):
        t = g.conv(a, hidden, hidden, 3, act="relu")
        t = g.conv(t, hidden, hidden, 3, gain=0.3)
        a = g.relu(g.add(a, t))
    return g.conv(g.concat([a, b], axis=1), 2 * hidden, cout, 1, act="relu")


def dense_head(g: GraphBuilder, levels: Sequence[tuple[str, int]], channels: int, scale: Sequence[float],
                shift: Sequence[float], sigmoid_from: int, out: str) -> str:
    """Per-level 1×1 prediction → [1, Σ HW, channels]; sigmoid on channels ≥ ``sigmoid_from``.

    Each raw output channel is normalised over the level to mean ``shift`` and std ``scale`` (see
    :meth:`GraphBuilder.instance_norm`). Rows are ordered level by level (finest first), row-major inside a level
    (x fastest), as YOLOX exports do.
    """
    flat = []
    for feat, cin in levels:
        pred = g.conv(feat, cin, channels, 1, bias=False)
        flat.append(g.reshape(g.instance_norm(pred, channels, scale, shift), [1, channels, -1]))
    rows = g.transpose(g.concat(flat, axis=2), [0, 2, 1])  # [1, A, channels]
    raw, probs = g.split(rows, [sigmoid_from, channels - sigmoid_from], axis=2)
    return g.concat([raw, g.sigmoid(probs)], axis=2, out=out)


def small_pyramid(g: GraphBuilder, x: str, widths: Sequence[int]) -> list[tuple[str, int]]:
    """Five stride-2 3×3 convs on a 0–255 image scaled to 0–1; returns (feature, channels) at strides 8, 16, 32."""
    y = g.scale(x, 1.0 / 255.0)
    feats = []
    cin = 3
    for i, w in enumerate(widths):
        y = g.conv(y, cin, w, 3, stride=2, act="relu")
        cin = w
        if i >= 2:
            feats.append((y, w))
    return feats
