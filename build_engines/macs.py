"""Multiply-accumulate (MAC) counts of ONNX graphs, against the upstream figures the ``full`` stand-ins must match.

The upstream figures live in the registry (``Network.macs`` in :mod:`gazesam.networks`); the analytic
Depth-Anything count that backs one of them is :func:`depth_anything_vitb_macs`.

:func:`count_macs` shape-infers a model (dynamic axes → 1) and sums the MACs of Conv, ConvTranspose, MatMul,
Gemm and Einsum nodes; element-wise ops, normalisation, softmax, pooling and resizing are not counted (the usual
convention of published "FLOPs" tables that are really MAC counts).

Run ``python -m build_engines.macs [full|tiny]`` to print the comparison table.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import onnx
from onnx import TensorProto, helper

from gazesam.networks import UpstreamMacs, all_networks

TOLERANCE = 0.25
"""A ``full`` stand-in is "representative" when its MACs are within ±25 % of the upstream figure."""

_KEEP_INITIALIZER_ELEMENTS = 4096  # larger float initializers are weights: only their shape matters


# ------------------------------------------------------------------------------------------------
# Upstream figures
# ------------------------------------------------------------------------------------------------


def depth_anything_vitb_macs(side: int = 518) -> dict[str, int]:
    """MACs of Depth-Anything v1 ViT-B/14 (``depth_anything/dpt.py`` + DINOv2 ViT-B/14) at ``side``², by part.

    Architecture (published config ``vitb``: features 128, out_channels [96,192,384,768], use_clstoken False):

    * patch embed: 14×14/14 conv 3→768 on a G×G grid, G = side/14 = 37; T = G²+1 = 1370 tokens (cls, no
      registers);
    * 12 blocks: qkv 768→2304, proj 768→768, MLP 768→3072→768 on T tokens, plus qkᵀ and attn·v
      (2·T²·768 MACs);
    * DPT head on the last 4 blocks: 1×1 projections 768→oc on G²; resize ×4 (4×4/4 deconv), ×2 (2×2/2
      deconv), ×1, ×½ (3×3/2 conv) → 4G, 2G, G, ⌈G/2⌉; 3×3 oc→128 ("layerN_rn", no bias); RefineNet fusion
      blocks with residual conv units (two 3×3 128→128 each; the coarsest block uses one RCU) and a 1×1 out conv
      after each
      upsampling (to 2G, 4G, 8G… sizes); output_conv1 3×3 128→64 at 8G; bilinear to side²; 3×3 64→32 and 1×1
      32→1 at side².
    """
    patch, dim, depth, mlp, features = 14, 768, 12, 3072, 128
    out_ch = (96, 192, 384, 768)
    grid = side // patch
    tokens = grid * grid + 1
    parts: dict[str, int] = {}
    parts["patch_embed"] = grid * grid * dim * 3 * patch * patch
    parts["blocks_linear"] = depth * tokens * (dim * 3 * dim + dim * dim + 2 * dim * mlp)
    parts["blocks_attention"] = depth * 2 * tokens * tokens * dim
    half = (grid - 1) // 2 + 1
    sides = (4 * grid, 2 * grid, grid, half)
    head = grid * grid * dim * sum(out_ch)  # projections
    head += grid * grid * out_ch[0] * out_ch[0] * 16 + grid * grid * out_ch[1] * out_ch[1] * 4  # deconvs
    head += half * half * out_ch[3] * out_ch[3] * 9  # stride-2 conv
    head += sum(s * s * oc * features * 9 for s, oc in zip(sides, out_ch))  # layerN_rn
    rcu = lambda s: 2 * s * s * features * features * 9  # noqa: E731 - residual conv unit at s×s
    head += rcu(half) + grid * grid * features * features  # refinenet4 (one RCU), out conv at G
    head += 2 * rcu(grid) + (2 * grid) ** 2 * features * features  # refinenet3
    head += 2 * rcu(2 * grid) + (4 * grid) ** 2 * features * features  # refinenet2
    head += 2 * rcu(4 * grid) + (8 * grid) ** 2 * features * features  # refinenet1
    head += (8 * grid) ** 2 * features * (features // 2) * 9  # output_conv1
    head += side * side * ((features // 2) * 32 * 9 + 32)  # output_conv2
    parts["dpt_head"] = head
    return parts


# ------------------------------------------------------------------------------------------------
# Counting
# ------------------------------------------------------------------------------------------------


def _fixed_value_info(value: onnx.ValueInfoProto) -> onnx.ValueInfoProto:
    """A copy of ``value`` with every dynamic axis set to 1."""
    fixed = onnx.ValueInfoProto()
    fixed.CopyFrom(value)
    if fixed.type.HasField("tensor_type") and fixed.type.tensor_type.HasField("shape"):
        for dim in fixed.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                dim.Clear()
                dim.dim_value = 1
    return fixed


def _shape_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """A light copy for shape inference: big weights become shape-only inputs, dynamic axes become 1."""
    graph = model.graph
    inputs = [_fixed_value_info(v) for v in graph.input]
    known = {v.name for v in inputs}
    kept = []
    for init in graph.initializer:
        numel = math.prod(init.dims)
        if init.data_type == TensorProto.FLOAT and numel > _KEEP_INITIALIZER_ELEMENTS:
            if init.name not in known:
                inputs.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
        else:
            kept.append(init)
    light = helper.make_graph(
        list(graph.node), graph.name, inputs, [_fixed_value_info(v) for v in graph.output], initializer=kept
    )
    out = helper.make_model(light, opset_imports=list(model.opset_import))
    out.ir_version = model.ir_version
    return out


def _shape_table(model: onnx.ModelProto) -> dict[str, list[int | None]]:
    inferred = onnx.shape_inference.infer_shapes(_shape_model(model), strict_mode=False, data_prop=True)
    shapes: dict[str, list[int | None]] = {}
    for value in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        tensor = value.type.tensor_type
        if tensor.HasField("shape"):
            shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    for init in inferred.graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def _need(shapes: dict[str, list[int | None]], name: str, node: onnx.NodeProto) -> list[int]:
    shape = shapes.get(name)
    if shape is None or any(d is None for d in shape):
        raise ValueError(f"count_macs: shape of {name!r} (input/output of {node.op_type} {node.name!r}) is unknown")
    return shape  # type: ignore[return-value]


def _node_macs(node: onnx.NodeProto, shapes: dict[str, list[int | None]]) -> int:
    op = node.op_type
    if op == "Conv":
        weight = _need(shapes, node.input[1], node)  # [Cout, Cin/g, k...]
        return math.prod(_need(shapes, node.output[0], node)) * math.prod(weight[1:])
    if op == "ConvTranspose":
        weight = _need(shapes, node.input[1], node)  # [Cin, Cout/g, k...]
        return math.prod(_need(shapes, node.input[0], node)) * math.prod(weight[1:])
    if op == "MatMul":
        a = _need(shapes, node.input[0], node)
        return math.prod(_need(shapes, node.output[0], node)) * a[-1]
    if op == "Gemm":
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        a = _need(shapes, node.input[0], node)
        b = _need(shapes, node.input[1], node)
        m, k = (a[1], a[0]) if attrs.get("transA", 0) else (a[0], a[1])
        n = b[0] if attrs.get("transB", 0) else b[1]
        return m * n * k
    if op == "Einsum":
        equation = helper.get_attribute_value(next(a for a in node.attribute if a.name == "equation")).decode()
        lhs = equation.replace(" ", "").split("->")[0]
        if "..." in lhs:
            raise ValueError(f"count_macs: Einsum with ellipsis not supported ({equation!r})")
        sizes: dict[str, int] = {}
        for term, name in zip(lhs.split(","), node.input):
            for letter, dim in zip(term, _need(shapes, name, node)):
                sizes[letter] = dim
        return math.prod(sizes.values())
    return 0


def count_macs(model: onnx.ModelProto) -> int:
    """Multiply-accumulates of one forward pass of ``model`` (dynamic axes, e.g. batch or box count, taken as 1).

    Conv: output elements × Cin/groups × kernel area. ConvTranspose: input elements × Cout/groups × kernel
    area. MatMul: output elements × K. Gemm: M·N·K. Einsum: product of all index sizes. Works on shape-only
    models (weights as inputs). Raises ``ValueError`` if a counted node's shape cannot be inferred.
    """
    shapes = _shape_table(model)
    return sum(_node_macs(node, shapes) for node in model.graph.node)


# ------------------------------------------------------------------------------------------------
# Table
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MacsRow:
    """One network's stand-in MACs next to its upstream figure (None where upstream has no target)."""

    network: str  # the stand-in builder's name (``Network.standin``)
    standin_gmacs: float
    upstream_gmacs: float | None
    ratio: float | None
    within_tolerance: bool | None


def standins_with_macs() -> dict[str, UpstreamMacs | None]:
    """Stand-in builder name -> the upstream MACs its registry network states (None: no target)."""
    return {n.standin: n.macs for n in all_networks() if n.standin is not None}


def macs_table(size: str = "full") -> list[MacsRow]:
    """Count every stand-in of ``size`` (built shape-only, so this is fast) against its network's upstream MACs.

    ``within_tolerance`` is judged for ``full`` stand-ins only (None otherwise, and where upstream has no figure).
    """
    from .standins import build_standin

    rows = []
    for standin, macs in standins_with_macs().items():
        gmacs = count_macs(build_standin(standin, size, with_weights=False)) / 1e9
        upstream = None if macs is None else macs.gmacs
        ratio = None if upstream is None else gmacs / upstream
        within = None if ratio is None or size != "full" else abs(ratio - 1.0) <= TOLERANCE
        rows.append(MacsRow(standin, gmacs, upstream, ratio, within))
    return rows


def print_macs_table(size: str = "full") -> list[MacsRow]:
    """Print :func:`macs_table` as a readable table (and return its rows)."""
    rows = macs_table(size)
    print(f"stand-in size: {size}   (tolerance ±{TOLERANCE:.0%} against upstream)")
    print(f"{'network':<14}{'stand-in GMACs':>16}{'upstream GMACs':>16}{'ratio':>8}  within ±{TOLERANCE:.0%}")
    for row in rows:
        upstream = "-" if row.upstream_gmacs is None else f"{row.upstream_gmacs:.2f}"
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        if row.within_tolerance is None:
            within = "n/a (no target)" if row.upstream_gmacs is None else f"n/a ({size})"
        else:
            within = "yes" if row.within_tolerance else "NO"
        print(f"{row.network:<14}{row.standin_gmacs:>16.3f}{upstream:>16}{ratio:>8}  {within}")
    print("sources:")
    for standin, macs in standins_with_macs().items():
        if macs is not None:
            print(f"  {standin}: {macs.gmacs:.2f} GMACs - {macs.source}")
    return rows


if __name__ == "__main__":
    print_macs_table(sys.argv[1] if len(sys.argv) > 1 else "full")
