"""An ONNX graph executed with PyTorch operators (the ``pytorch`` profile's runtime).

The networks exist here only as ONNX files (upstream ships no PyTorch weights we can load), so the
``pytorch`` profile runs each file's graph node by node with ``torch`` operators: weights become tensors
on the chosen device (CUDA when present), and every node maps to its torch equivalent. Covered: the
operators of the served networks (real face detector and YOLOX, every stand-in) and of the served forms'
pre- and post-processing (``build_engines.served_forms``); any other operator fails at load with its name,
never mid-stream. Shape arithmetic stays on the CPU; an operator mixing devices runs on the network's. A maintained converter (onnx2torch) was the first
choice, but it imports torchvision, which has no CPU build for this PyTorch.
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
        if step < 1:
            raise NotImplementedError("Slice with a negative step")
        size = x.shape[axis]
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


def _pad(i: list, a: Attrs) -> list:
    x, pads = i[0], _ints(i[1])
    if a.get("mode", b"constant") != b"constant":
        raise NotImplementedError(f"Pad mode {a['mode']!r}")
    value = float(i[2].reshape(-1)[0]) if len(i) > 2 and i[2] is not None and i[2].numel() else 0.0
    axes = [axis % x.dim() for axis in _ints(i[3])] if len(i) > 3 and i[3] is not None else list(range(x.dim()))
    begin, end = dict(zip(axes, pads[: len(axes)])), dict(zip(axes, pads[len(axes):]))
    spec = []
    for axis in reversed(range(x.dim())):  # F.pad lists the last axis first
        spec += [begin.get(axis, 0), end.get(axis, 0)]
    return [F.pad(x, spec, value=value)]


def _grid_sample(i: list, a: Attrs) -> list:
    mode = {"linear": "bilinear", "cubic": "bicubic"}.get(a.get("mode", b"bilinear").decode(), a.get("mode", b"bilinear").decode())
    return [F.grid_sample(i[0], i[1].to(i[0].dtype), mode=mode, padding_mode=a.get("padding_mode", b"zeros").decode(),
                          align_corners=bool(a.get("align_corners", 0)))]


def _range(i: list, a: Attrs) -> list:
    start, limit, delta = (v.reshape(()).item() for v in i)
    return [torch.arange(start, limit, delta, dtype=i[0].dtype)]


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
        "ArgMax": lambda i, a: [torch.argmax(i[0], dim=int(a.get("axis", 0)), keepdim=bool(a.get("keepdims", 1)))],
        "Pad": _pad, "GridSample": lambda i, a: _grid_sample(_one_device(i), a), "Range": _range, "CumSum": _cumsum,
    }
    if t not in table:
        raise NotImplementedError(f"ONNX operator {t!r} (node {node.name!r}) is not supported by the pytorch profile")
    return table[t]


def _to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """Weights go to ``device``; integer constants (shapes, indices, axes) stay on the CPU, as shapes are read there."""
    tensor = torch.from_numpy(np.array(array, copy=True))
    return tensor.to(device) if tensor.is_floating_point() else tensor


class OnnxTorchGraph:
    """The ONNX model at ``path`` as a callable over torch tensors on ``device``.

    ``graph(**inputs)`` takes and returns numpy arrays by tensor name; no autograd is recorded.
    Raises NotImplementedError naming the first unsupported operator at construction.
    """

    def __init__(self, path: str | Path, device: str | torch.device = "cpu"):
        model = onnx.load(str(path))
        self.device = torch.device(device)
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
        graph = model.graph
        self._constants = {init.name: _to_device(numpy_helper.to_array(init), self.device) for init in graph.initializer}
        self._nodes = []
        for node in graph.node:
            if node.op_type == "Constant":
                value = numpy_helper.to_array(helper.get_attribute_value(node.attribute[0]))
                self._constants[node.output[0]] = _to_device(value, self.device)
                continue
            attrs = {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}
            self._nodes.append((_op(node, opset), list(node.input), list(node.output), attrs))
        self.input_names = [v.name for v in graph.input if v.name not in self._constants]
        self.output_names = [v.name for v in graph.output]

    @torch.inference_mode()
    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        values: dict[str, torch.Tensor | None] = dict(self._constants)
        values[""] = None  # an omitted optional input
        for name in self.input_names:
            values[name] = torch.from_numpy(np.ascontiguousarray(inputs[name])).to(self.device)
        for fn, names_in, names_out, attrs in self._nodes:
            results = fn([values[n] for n in names_in], attrs)
            values.update(zip(names_out, results))
        return {name: values[name].detach().cpu().numpy() for name in self.output_names}
