"""An ONNX graph executed with PyTorch operators (the ``pytorch`` profile's runtime).

The networks exist here only as ONNX files (upstream ships no PyTorch weights we can load), so the
``pytorch`` profile runs each file's graph node by node with ``torch`` operators: weights become tensors
on the chosen device (CUDA when present), and every node maps to its torch equivalent. Covered: the
operators of the served networks (the real offline families, every stand-in, YOLO-NAS's
``NonMaxSuppression`` included) and of the served forms' pre- and post-processing
(``build_engines.served_forms``); any other operator is refused when the repository is written
(:func:`unsupported_nodes`) and fails at load with its name, never mid-stream. Constants are placed by
their use (:mod:`gazesam.onnx_torch_placement`): shape arithmetic stays on the CPU, everything computed
with goes to the device; an operator mixing devices runs on the network's. A maintained converter
(onnx2torch) was the first choice, but it imports torchvision, which has no CPU build for this PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper

from .onnx_torch_placement import DEVICE, HOST, SOURCE_OPS, GraphNode, host_values, placement_problems

Attrs = dict[str, object]
OpFn = Callable[[list, Attrs], list]


def _ints(t: torch.Tensor) -> list[int]:
    return [int(v) for v in t.reshape(-1).tolist()]


def _pads2d(attrs: Attrs, spatial: int) -> tuple[int, ...]:
    pads = list(attrs.get("pads", [0] * 2 * spatial))
    begin, end = pads[:spatial], pads[spatial:]
    if begin != end:
        raise NotImplementedError(f"asymmetric pads {pads}")
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError(f"auto_pad {attrs['auto_pad']!r}")
    return tuple(begin)


def _conv(i: list, a: Attrs) -> list:
    x, w = i[0], i[1]
    bias = i[2] if len(i) > 2 else None
    spatial = w.dim() - 2
    conv = {1: F.conv1d, 2: F.conv2d}[spatial]
    return [conv(x, w, bias, stride=tuple(a.get("strides", [1] * spatial)), padding=_pads2d(a, spatial),
                 dilation=tuple(a.get("dilations", [1] * spatial)), groups=int(a.get("group", 1)))]


def _conv_transpose(i: list, a: Attrs) -> list:
    x, w = i[0], i[1]
    bias = i[2] if len(i) > 2 else None
    return [F.conv_transpose2d(x, w, bias, stride=tuple(a.get("strides", [1, 1])), padding=_pads2d(a, 2),
                               output_padding=tuple(a.get("output_padding", [0, 0])),
                               groups=int(a.get("group", 1)), dilation=tuple(a.get("dilations", [1, 1])))]


def _clip(i: list, a: Attrs) -> list:
    low = i[1] if len(i) > 1 and i[1] is not None else a.get("min")
    high = i[2] if len(i) > 2 and i[2] is not None else a.get("max")
    return [torch.clamp(i[0], min=low, max=high)]


def _div(i: list, a: Attrs) -> list:
    x, y = i
    if not x.is_floating_point() and not y.is_floating_point():
        return [torch.div(x, y, rounding_mode="trunc")]
    return [x / y]


def _reshape(i: list, a: Attrs) -> list:
    x, shape = i[0], _ints(i[1])
    if not a.get("allowzero", 0):
        shape = [x.shape[k] if s == 0 else s for k, s in enumerate(shape)]
    return [x.reshape(shape)]


def _slice(i: list, a: Attrs) -> list:
    x = i[0]
    starts, ends = _ints(i[1]), _ints(i[2])
    axes = _ints(i[3]) if len(i) > 3 and i[3] is not None else list(range(len(starts)))
    steps = _ints(i[4]) if len(i) > 4 and i[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.dim()
    for start, end, axis, step in zip(starts, ends, axes, steps):
        size = x.shape[axis]
        if step < 0:  # ONNX: start clamps to [0, size-1], end to [-1, size-1] after negatives wrap once
            start = max(0, min(start + size if start < 0 else start, size - 1))
            end = max(-1, min(end + size if end < 0 else end, size - 1))
            x = torch.index_select(x, axis, torch.arange(start, end, step, device=x.device))
            continue
        index[axis] = slice(max(-size, min(start, size)), max(-size, min(end, size)), step)
    return [x[tuple(index)]]


def _resize(i: list, a: Attrs) -> list:
    x = i[0]
    scales = i[2] if len(i) > 2 and i[2] is not None and i[2].numel() else None
    sizes = i[3] if len(i) > 3 and i[3] is not None and i[3].numel() else None
    mode = a.get("mode", b"nearest").decode()
    transform = a.get("coordinate_transformation_mode", b"half_pixel").decode()
    spatial = x.dim() - 2
    if mode == "nearest":
        if transform != "asymmetric" or a.get("nearest_mode", b"round_prefer_floor") != b"floor":
            raise NotImplementedError(f"Resize nearest with {transform}/{a.get('nearest_mode')}")
        kwargs: dict = {"mode": "nearest"}
    elif mode == "linear" and transform in ("align_corners", "half_pixel", "pytorch_half_pixel"):
        kwargs = {"mode": {1: "linear", 2: "bilinear", 3: "trilinear"}[spatial],
                  "align_corners": transform == "align_corners"}
    else:
        raise NotImplementedError(f"Resize mode {mode} with {transform}")
    if sizes is not None:
        target = _ints(sizes)
        if x.dim() == 4 and target[1] != x.shape[1]:  # NHWC (channels last): resize axes 1 and 2
            out = F.interpolate(x.permute(0, 3, 1, 2), size=target[1:3], **kwargs)
            return [out.permute(0, 2, 3, 1).contiguous()]
        return [F.interpolate(x, size=target[2:], **kwargs)]
    factors = [float(s) for s in scales.reshape(-1).tolist()][2:]
    # ONNX maps coordinates with the given scale, as torch does when it is not recomputed
    return [F.interpolate(x, scale_factor=factors, recompute_scale_factor=False, **kwargs)]


def _grid_sample(i: list, a: Attrs) -> list:
    mode = {"linear": "bilinear", "cubic": "bicubic"}.get(a.get("mode", b"bilinear").decode(), a.get("mode", b"bilinear").decode())
    return [F.grid_sample(i[0], i[1].to(i[0].dtype), mode=mode, padding_mode=a.get("padding_mode", b"zeros").decode(),
                          align_corners=bool(a.get("align_corners", 0)))]


def _cumsum(i: list, a: Attrs) -> list:
    if a.get("exclusive", 0) or a.get("reverse", 0):
        raise NotImplementedError("CumSum exclusive/reverse")
    return [torch.cumsum(i[0], dim=_ints(i[1])[0])]


def _softmax(i: list, a: Attrs, opset: int) -> list:
    x, axis = i[0], int(a.get("axis", -1 if opset >= 13 else 1))
    if opset >= 13:
        return [torch.softmax(x, dim=axis)]
    axis %= x.dim()
    flat = x.reshape(math.prod(x.shape[:axis]), -1)
    return [torch.softmax(flat, dim=1).reshape(x.shape)]


def _layer_norm(i: list, a: Attrs) -> list:
    x, axis = i[0], int(a.get("axis", -1)) % i[0].dim()
    bias = i[2] if len(i) > 2 else None
    return [F.layer_norm(x, x.shape[axis:], i[1], bias, float(a.get("epsilon", 1e-5)))]


def _split(i: list, a: Attrs, outputs: int) -> list:
    x, axis = i[0], int(a.get("axis", 0))
    sizes = _ints(i[1]) if len(i) > 1 and i[1] is not None else list(a.get("split", []))
    if not sizes:
        sizes = [math.ceil(x.shape[axis] / outputs)] * outputs
    return list(torch.split(x, sizes, dim=axis))


def _reduce(fn: Callable, i: list, a: Attrs) -> list:
    x = i[0]
    axes = _ints(i[1]) if len(i) > 1 and i[1] is not None else list(a.get("axes", []))
    keep = bool(a.get("keepdims", 1))
    if not axes:
        if a.get("noop_with_empty_axes", 0):
            return [x]
        axes = list(range(x.dim()))
    return [fn(x, axes, keep)]


def _max_pool(i: list, a: Attrs) -> list:
    k = tuple(a["kernel_shape"])
    return [F.max_pool2d(i[0], k, stride=tuple(a.get("strides", [1, 1])), padding=_pads2d(a, 2),
                         dilation=tuple(a.get("dilations", [1, 1])), ceil_mode=bool(a.get("ceil_mode", 0)))]


def _unsqueeze(i: list, a: Attrs) -> list:
    x = i[0]
    axes = sorted(_ints(i[1]) if len(i) > 1 else list(a["axes"]))
    for axis in axes:
        x = x.unsqueeze(axis % (x.dim() + 1))
    return [x]


def _squeeze(i: list, a: Attrs) -> list:
    axes = _ints(i[1]) if len(i) > 1 and i[1] is not None else list(a.get("axes", []))
    return [i[0].squeeze(tuple(axes)) if axes else i[0].squeeze()]


def _gather(i: list, a: Attrs) -> list:
    x, indices = i[0], i[1].to(i[0].device)
    axis = int(a.get("axis", 0)) % x.dim()
    picked = torch.index_select(x, axis, indices.reshape(-1) % x.shape[axis])
    return [picked.reshape(x.shape[:axis] + indices.shape + x.shape[axis + 1:])]


def _topk(i: list, a: Attrs) -> list:
    values, indices = torch.topk(i[0], _ints(i[1])[0], dim=int(a.get("axis", -1)),
                                 largest=bool(a.get("largest", 1)), sorted=bool(a.get("sorted", 1)))
    return [values, indices]


def _gemm(i: list, a: Attrs) -> list:
    x = i[0].transpose(0, 1) if a.get("transA", 0) else i[0]
    w = i[1].transpose(0, 1) if a.get("transB", 0) else i[1]
    y = float(a.get("alpha", 1.0)) * (x @ w)
    if len(i) > 2 and i[2] is not None:
        y = y + float(a.get("beta", 1.0)) * i[2]
    return [y]


def _pad(i: list, a: Attrs) -> list:
    x = i[0]
    pads = _ints(i[1]) if len(i) > 1 else list(a["pads"])
    rank = x.dim()
    axes = [k % rank for k in _ints(i[3])] if len(i) > 3 and i[3] is not None else list(range(rank))
    begin, end = pads[: len(axes)], pads[len(axes):]
    torch_pads: list[int] = []
    for axis in reversed(range(rank)):  # torch lists the last axis first
        k = axes.index(axis) if axis in axes else None
        torch_pads += [begin[k], end[k]] if k is not None else [0, 0]
    mode = a.get("mode", b"constant").decode()
    value = float(i[2].reshape(-1)[0]) if len(i) > 2 and i[2] is not None and i[2].numel() else 0.0
    if mode == "constant":
        return [F.pad(x, torch_pads, value=value)]
    return [F.pad(x, torch_pads, mode={"reflect": "reflect", "edge": "replicate"}[mode])]


def _constant_of_shape(i: list, a: Attrs) -> list:
    value = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
    return [torch.full(_ints(i[0]), value.reshape(-1)[0].item(), dtype=torch.from_numpy(value.copy()).dtype)]


def _one_hot(i: list, a: Attrs) -> list:
    indices, depth, values = i[0].long(), _ints(i[1])[0], i[2]
    indices = torch.where(indices < 0, indices + depth, indices)
    hot = F.one_hot(indices.clamp(0, depth - 1), depth).bool() & ((indices >= 0) & (indices < depth)).unsqueeze(-1)
    out = torch.where(hot, values[1], values[0])
    return [out.movedim(-1, int(a.get("axis", -1)) % out.dim())]


def _arg_max(i: list, a: Attrs) -> list:
    if a.get("select_last_index", 0):
        raise NotImplementedError("ArgMax with select_last_index")
    return [torch.argmax(i[0], dim=int(a.get("axis", 0)), keepdim=bool(a.get("keepdims", 1)))]


def _range(i: list, a: Attrs) -> list:
    start, limit, delta = (t.reshape(-1)[0].item() for t in i)
    return [torch.arange(start, limit, delta, dtype=i[0].dtype)]


def _expand(i: list, a: Attrs) -> list:
    return [i[0].expand(torch.broadcast_shapes(i[0].shape, tuple(_ints(i[1]))))]


def _corner_boxes(boxes: torch.Tensor, center_point_box: int) -> torch.Tensor:
    """[N, 4] boxes as (x1, y1, x2, y2) with x1 <= x2, y1 <= y2 (ONNX allows either diagonal, or centre-size)."""
    if center_point_box:
        cx, cy, w, h = boxes.unbind(-1)
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
    y1, x1, y2, x2 = boxes.unbind(-1)  # ONNX's default coding is [y1, x1, y2, x2]
    return torch.stack([torch.minimum(x1, x2), torch.minimum(y1, y2), torch.maximum(x1, x2), torch.maximum(y1, y2)], -1)


def _greedy_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, limit: int) -> list[int]:
    """Indices kept by greedy NMS over ``boxes`` [N, 4] (corners) in descending ``scores`` order, at most ``limit``."""
    order = torch.argsort(scores, descending=True, stable=True)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.numel() and len(keep) < limit:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        low = torch.maximum(boxes[best, :2], boxes[rest, :2])
        high = torch.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = (high - low).clamp(min=0).prod(dim=1)
        iou = inter / (area[best] + area[rest] - inter)
        order = rest[~(iou > iou_threshold)]  # ONNX suppresses boxes whose IoU exceeds the threshold
    return keep


def _non_max_suppression(i: list, a: Attrs) -> list:
    """ONNX NonMaxSuppression on the CPU: [num_selected, 3] int64 rows of (batch, class, box index)."""
    boxes, scores = i[0].detach().cpu().float(), i[1].detach().cpu().float()  # [B, N, 4], [B, C, N]
    present = [t is not None and t.numel() > 0 for t in (i + [None] * 5)[2:5]]
    limit = _ints(i[2])[0] if present[0] else 0
    iou_threshold = float(i[3].reshape(-1)[0]) if present[1] else 0.0
    score_threshold = float(i[4].reshape(-1)[0]) if present[2] else None
    selected = []
    for b in range(boxes.shape[0]):
        corners = _corner_boxes(boxes[b], int(a.get("center_point_box", 0)))
        for c in range(scores.shape[1]):
            candidates = torch.arange(scores.shape[2])
            if score_threshold is not None:
                candidates = candidates[scores[b, c] > score_threshold]
            kept = _greedy_nms(corners[candidates], scores[b, c, candidates], iou_threshold, limit)
            selected += [(b, c, int(candidates[k])) for k in kept]
    return [torch.tensor(selected, dtype=torch.int64).reshape(-1, 3)]


_TORCH_DTYPES = {
    onnx.TensorProto.FLOAT: torch.float32, onnx.TensorProto.FLOAT16: torch.float16, onnx.TensorProto.DOUBLE: torch.float64,
    onnx.TensorProto.INT64: torch.int64, onnx.TensorProto.INT32: torch.int32,
    onnx.TensorProto.UINT8: torch.uint8, onnx.TensorProto.BOOL: torch.bool,
}

_SIMPLE: dict[str, Callable[..., torch.Tensor]] = {
    "Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "MatMul": torch.matmul, "Pow": torch.pow,
    "Relu": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Erf": torch.erf, "Sin": torch.sin,
    "Cos": torch.cos, "Exp": torch.exp, "Sqrt": torch.sqrt, "Neg": torch.neg, "Identity": lambda x: x,
    "Min": lambda *xs: _fold(torch.minimum, xs), "Max": lambda *xs: _fold(torch.maximum, xs),
    "Equal": torch.eq, "Where": torch.where, "Floor": torch.floor, "Ceil": torch.ceil, "Round": torch.round,
    "Atan": torch.atan, "Asin": torch.asin, "IsNaN": torch.isnan, "IsInf": torch.isinf, "Not": torch.logical_not,
    "And": torch.logical_and, "Or": torch.logical_or, "Greater": torch.gt, "Less": torch.lt,
    "GreaterOrEqual": torch.ge, "LessOrEqual": torch.le,
}


def _one_device(tensors: list) -> list:
    """The operands on one device: CPU shape arithmetic meets the network's tensors on theirs."""
    devices = {t.device for t in tensors if isinstance(t, torch.Tensor)}
    if len(devices) < 2:
        return tensors
    device = next(d for d in devices if d.type != "cpu")
    return [t.to(device) if isinstance(t, torch.Tensor) else t for t in tensors]


def _fold(fn: Callable, xs: tuple) -> torch.Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


def _op(node: onnx.NodeProto, opset: int) -> OpFn:
    """The function computing ``node``'s outputs from its inputs; NotImplementedError for an unknown op."""
    t = node.op_type
    if t in _SIMPLE:
        return lambda i, a: [_SIMPLE[t](*_one_device(i))]
    table: dict[str, OpFn] = {
        "Conv": _conv, "ConvTranspose": _conv_transpose, "Clip": _clip, "Div": _div, "Reshape": _reshape,
        "Slice": _slice, "Resize": _resize, "LayerNormalization": _layer_norm, "MaxPool": _max_pool,
        "Unsqueeze": _unsqueeze, "Squeeze": _squeeze, "TopK": _topk,
        "Softmax": lambda i, a: _softmax(i, a, opset),
        "Split": lambda i, a: _split(i, a, len(node.output)),
        "Concat": lambda i, a: [torch.cat(i, dim=int(a["axis"]))],
        "Transpose": lambda i, a: [i[0].permute(*a["perm"]) if "perm" in a else i[0].permute(*reversed(range(i[0].dim())))],
        "Shape": lambda i, a: [torch.tensor(i[0].shape, dtype=torch.int64)],
        "Flatten": lambda i, a: [i[0].reshape(math.prod(i[0].shape[: int(a.get("axis", 1))]), -1)],
        "GlobalAveragePool": lambda i, a: [i[0].mean(dim=tuple(range(2, i[0].dim())), keepdim=True)],
        "Gather": _gather,
        "Cast": lambda i, a: [i[0].to(_TORCH_DTYPES[int(a["to"])])],
        "InstanceNormalization": lambda i, a: [F.instance_norm(i[0], weight=i[1], bias=i[2], eps=float(a.get("epsilon", 1e-5)))],
        "ReduceMean": lambda i, a: _reduce(lambda x, ax, k: x.mean(dim=ax, keepdim=k), i, a),
        "ReduceSum": lambda i, a: _reduce(lambda x, ax, k: x.sum(dim=ax, keepdim=k), i, a),
        "ReduceMax": lambda i, a: _reduce(lambda x, ax, k: x.amax(dim=ax, keepdim=k), i, a),
        "ReduceMin": lambda i, a: _reduce(lambda x, ax, k: x.amin(dim=ax, keepdim=k), i, a),
        "NonMaxSuppression": _non_max_suppression,
        "Gemm": _gemm, "Pad": _pad, "ConstantOfShape": _constant_of_shape, "OneHot": _one_hot, "ArgMax": _arg_max,
        "Range": _range, "Expand": _expand, "CumSum": _cumsum,
        "GridSample": lambda i, a: _grid_sample(_one_device(i), a),
        "Tile": lambda i, a: [i[0].repeat(*_ints(i[1]))],
        "Not": lambda i, a: [torch.logical_not(i[0])],
    }
    if t not in table:
        raise NotImplementedError(f"ONNX operator {t!r} (node {node.name!r}) is not supported by the pytorch profile")
    return table[t]


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)


def unsupported_nodes(path: str | Path) -> list[str]:
    """One line per operator type of the ONNX file at ``path`` that this runtime cannot execute (first node named)."""
    model = onnx.load(str(path), load_external_data=False)
    missing: dict[str, str] = {}
    for node in model.graph.node:
        if node.op_type == "Constant" or node.op_type in missing:
            continue
        try:
            _op(node, _opset(model))
        except NotImplementedError:
            missing[node.op_type] = f"ONNX operator {node.op_type!r} (node {node.name!r}) has no PyTorch implementation here"
    return list(missing.values())


class OnnxTorchGraph:
    """The ONNX model at ``path`` as a callable over torch tensors on ``device``.

    ``graph(**inputs)`` takes and returns numpy arrays by tensor name; no autograd is recorded.
    Raises NotImplementedError naming the first unsupported operator at construction.
    """

    def __init__(self, path: str | Path, device: str | torch.device = "cpu"):
        model = onnx.load(str(path))
        self.path = Path(path)
        self.device = torch.device(device)
        opset = _opset(model)
        graph = model.graph
        arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
        self._nodes = []
        self._graph_nodes: list[GraphNode] = []
        for node in graph.node:
            if node.op_type == "Constant":
                arrays[node.output[0]] = numpy_helper.to_array(helper.get_attribute_value(node.attribute[0]))
                continue
            attrs = {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}
            self._nodes.append((_op(node, opset), list(node.input), list(node.output), attrs))
            self._graph_nodes.append(GraphNode(node.op_type, node.name, tuple(node.input), tuple(node.output)))
        self.input_names = [v.name for v in graph.input if v.name not in arrays]
        self.output_names = [v.name for v in graph.output]
        self.host_values = host_values(self._graph_nodes, arrays, self.input_names, self.output_names)
        self._constants = {
            name: torch.from_numpy(np.array(array, copy=True)).to("cpu" if name in self.host_values else self.device)
            for name, array in arrays.items()
        }
        # outputs of source operators (made on the CPU) that the device computes with
        self._to_device = {name for node in self._graph_nodes if node.op in SOURCE_OPS
                           for name in node.outputs if name not in self.host_values}

    def _run(self, inputs: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor | None]:
        values: dict[str, torch.Tensor | None] = dict(self._constants)
        values[""] = None  # an omitted optional input
        for name in self.input_names:
            values[name] = torch.from_numpy(np.ascontiguousarray(inputs[name])).to(device)
        for fn, names_in, names_out, attrs in self._nodes:
            results = fn([values[n] for n in names_in], attrs)
            values.update((name, r.to(device) if name in self._to_device else r) for name, r in zip(names_out, results))
        return values

    @torch.inference_mode()
    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        values = self._run(inputs, self.device)
        return {name: values[name].detach().cpu().numpy() for name in self.output_names}

    @torch.inference_mode()
    def checked_run(self, **inputs: np.ndarray) -> tuple[dict[str, np.ndarray], list[str]]:
        """Run on the CPU; the outputs, and every operator that would mix devices were this graph on a GPU (see
        :mod:`gazesam.onnx_torch_placement`; empty when a GPU run places every tensor consistently)."""
        values = self._run(inputs, torch.device("cpu"))
        tags = {name: DEVICE for name in self.input_names}
        tags |= {name: HOST if name in self.host_values else DEVICE for name in self._constants}
        arrays = {name: value.detach().numpy() for name, value in values.items() if value is not None}
        return ({name: arrays[name] for name in self.output_names},
                placement_problems(self._graph_nodes, tags, arrays, self.host_values))
