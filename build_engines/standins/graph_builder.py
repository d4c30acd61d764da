"""The ONNX graph builder every stand-in is written with (``onnx.helper`` and numpy only, opset 17, IR 8)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from gazesam.contracts import NetworkContract, TensorSpec

OPSET = 17
IR_VERSION = 8  # opset 17 needs IR >= 8; the oldest that fits keeps older runtimes (TensorRT, Triton's ORT) happy

_FLOAT = TensorProto.FLOAT


class GraphBuilder:
    """A thin wrapper around ``onnx.helper`` that names tensors, draws weights and records nodes.

    Methods return the name of the tensor they produce. Convolution helpers take NCHW tensors and explicit
    channel counts; batch-norm is assumed folded into the convolution bias, as in an exported inference graph.
    """

    def __init__(self, name: str, rng: np.random.Generator, with_weights: bool = True) -> None:
        self.name = name
        self.rng = rng
        self.with_weights = with_weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.weight_inputs: list[onnx.ValueInfoProto] = []
        self._counts: dict[str, int] = {}
        self._consts: dict[tuple[str, bytes, tuple[int, ...]], str] = {}

    # --- names, weights, constants ---------------------------------------------------------------

    def fresh(self, base: str) -> str:
        """A new unique tensor / node name starting with ``base``."""
        count = self._counts.get(base, 0)
        self._counts[base] = count + 1
        return f"{base}_{count}"

    def weight(self, shape: Sequence[int], std: float, mean: float = 0.0, base: str = "w") -> str:
        """A float32 parameter ~ N(mean, std²) of ``shape`` (a shape-only graph input without weights)."""
        name = self.fresh(base)
        shape = tuple(int(d) for d in shape)
        if self.with_weights:
            data = self.rng.standard_normal(size=shape, dtype=np.float32)
            data *= np.float32(std)
            if mean:
                data += np.float32(mean)
            self.initializers.append(numpy_helper.from_array(data, name))
        else:
            self.weight_inputs.append(helper.make_tensor_value_info(name, _FLOAT, list(shape)))
        return name

    def const(self, value: np.ndarray | float | int | Sequence, dtype: str = "float32", base: str = "c") -> str:
        """A fixed (not random) initializer; identical constants are shared."""
        array = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.tobytes(), array.shape)
        if key not in self._consts:
            name = self.fresh(base)
            self.initializers.append(numpy_helper.from_array(array, name))
            self._consts[key] = name
        return self._consts[key]

    def ints(self, values: Sequence[int]) -> str:
        """A 1-D int64 constant (shapes, axes, split sizes)."""
        return self.const(list(values), dtype="int64", base="shape")

    # --- generic node ----------------------------------------------------------------------------

    def op(self, op_type: str, inputs: Sequence[str], n_out: int = 1, out: str | Sequence[str] | None = None,
           domain: str = "", **attrs) -> str | list[str]:
        """Append one node; returns its output name (a list when ``n_out`` > 1)."""
        if out is None:
            outs = [self.fresh(op_type.lower()) for _ in range(n_out)]
        else:
            outs = [out] if isinstance(out, str) else list(out)
        self.nodes.append(
            helper.make_node(op_type, list(inputs), outs, name=self.fresh("n_" + op_type), domain=domain, **attrs)
        )
        return outs[0] if len(outs) == 1 else outs

    # --- element-wise ----------------------------------------------------------------------------

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def sigmoid(self, x: str, out: str | None = None) -> str:
        return self.op("Sigmoid", [x], out=out)

    def gelu(self, x: str) -> str:
        """Exact GELU as exported by PyTorch < 2 / opset 17: ``0.5·x·(1 + erf(x/√2))``."""
        erf = self.op("Erf", [self.op("Mul", [x, self.const(1.0 / math.sqrt(2.0))])])
        return self.op("Mul", [self.op("Mul", [x, self.op("Add", [erf, self.const(1.0)])]), self.const(0.5)])

    def act(self, x: str, kind: str | None) -> str:
        if kind is None:
            return x
        return {"relu": self.relu, "gelu": self.gelu, "sigmoid": self.sigmoid}[kind](x)

    def add(self, a: str, b: str, out: str | None = None) -> str:
        return self.op("Add", [a, b], out=out)

    def mul(self, a: str, b: str, out: str | None = None) -> str:
        return self.op("Mul", [a, b], out=out)

    def scale(self, x: str, factor: float, out: str | None = None) -> str:
        return self.op("Mul", [x, self.const(factor)], out=out)

    # --- shape ops -------------------------------------------------------------------------------

    def reshape(self, x: str, shape: Sequence[int], out: str | None = None) -> str:
        """Reshape; 0 copies the input dim, -1 is inferred."""
        return self.op("Reshape", [x, self.ints(shape)], out=out)

    def transpose(self, x: str, perm: Sequence[int], out: str | None = None) -> str:
        return self.op("Transpose", [x], perm=list(perm), out=out)

    def concat(self, xs: Sequence[str], axis: int, out: str | None = None) -> str:
        return self.op("Concat", list(xs), axis=axis, out=out)

    def split(self, x: str, sizes: Sequence[int], axis: int) -> list[str]:
        return self.op("Split", [x, self.ints(sizes)], n_out=len(sizes), axis=axis)

    def resize(self, x: str, *, scales: Sequence[float] | None = None, sizes: Sequence[int] | None = None,
               align_corners: bool = False) -> str:
        """Bilinear resize of an NCHW tensor, by ``scales`` (dynamic batch) or to ``sizes`` (static)."""
        mode = "align_corners" if align_corners else "half_pixel"
        if scales is not None:
            return self.op("Resize", [x, "", self.const(list(scales))], mode="linear",
                           coordinate_transformation_mode=mode)
        return self.op("Resize", [x, "", "", self.ints(sizes)], mode="linear", coordinate_transformation_mode=mode)

    # --- layers ----------------------------------------------------------------------------------

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, pad: int | None = None,
             bias: bool = True, gain: float = 1.0, act: str | None = None, out: str | None = None) -> str:
        """``k``×``k`` convolution (He-initialised, std ``gain·√(2/fan_in)``), optional activation.

        [N,cin,H,W] → [N,cout,⌊(H+2p−k)/s⌋+1, …] with ``p = k//2`` unless given.
        """
        pad = k // 2 if pad is None else pad
        fan_in = cin // groups * k * k
        w = self.weight((cout, cin // groups, k, k), std=gain * math.sqrt(2.0 / fan_in), base="conv_w")
        inputs = [x, w] + ([self.weight((cout,), std=0.01, base="conv_b")] if bias else [])
        y = self.op("Conv", inputs, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=groups,
                    out=out if act is None else None)
        if act is None:
            return y
        if act == "gelu":
            if out is not None:
                raise ValueError("conv(act='gelu') cannot name its output")
            return self.gelu(y)
        return self.op({"relu": "Relu", "sigmoid": "Sigmoid"}[act], [y], out=out)

    def conv_transpose(self, x: str, cin: int, cout: int, k: int, stride: int, gain: float = 1.0) -> str:
        """Transposed convolution, no padding: [N,cin,H,W] → [N,cout,(H−1)·s+k, …]."""
        fan_in = cin * (k / stride) ** 2
        w = self.weight((cin, cout, k, k), std=gain * math.sqrt(2.0 / fan_in), base="convt_w")
        b = self.weight((cout,), std=0.01, base="convt_b")
        return self.op("ConvTranspose", [x, w, b], kernel_shape=[k, k], strides=[stride, stride])

    def linear(self, x: str, din: int, dout: int, std: float | None = None, bias: bool = True,
               out: str | None = None) -> str:
        """[..., din] → [..., dout] (MatMul + Add); weights ~ N(0, std²), default std 1/√din."""
        w = self.weight((din, dout), std=1.0 / math.sqrt(din) if std is None else std, base="fc_w")
        if not bias:
            return self.op("MatMul", [x, w], out=out)
        return self.op("Add", [self.op("MatMul", [x, w]), self.weight((dout,), std=0.01, base="fc_b")], out=out)

    def ln_params(self, dim: int) -> tuple[str, str]:
        """LayerNorm scale (≈1) and bias (≈0) of width ``dim``, to share between calls."""
        return self.weight((dim,), std=0.05, mean=1.0, base="ln_g"), self.weight((dim,), std=0.02, base="ln_b")

    def layernorm(self, x: str, dim: int, params: tuple[str, str] | None = None, eps: float = 1e-6) -> str:
        """LayerNormalization over the last axis (width ``dim``)."""
        gamma, beta = params or self.ln_params(dim)
        return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)

    def layernorm2d(self, x: str, channels: int, eps: float = 1e-6, out: str | None = None) -> str:
        """LayerNorm over the channels of an NCHW tensor (SAM's LayerNorm2d)."""
        nhwc = self.transpose(x, [0, 2, 3, 1])
        return self.transpose(self.layernorm(nhwc, channels, eps=eps), [0, 3, 1, 2], out=out)

    def instance_norm(self, x: str, channels: int, scale: Sequence[float] | float = 1.0,
                      shift: Sequence[float] | float = 0.0) -> str:
        """Per-channel normalisation over H×W, then fixed ``scale``/``shift`` per channel.

        Random-weight logits have no meaningful scale; normalising them pins each channel's distribution over the
        image to mean ``shift`` and standard deviation ``scale`` (used to bias detector scores low).
        """
        return self.op("InstanceNormalization",
                       [x, self.const(np.broadcast_to(scale, (channels,))),
                        self.const(np.broadcast_to(shift, (channels,)))], epsilon=1e-5)

    def attention(self, x: str, dim: int, heads: int) -> str:
        """Multi-head self-attention on [B,T,dim] (fused qkv projection, softmax(qkᵀ/√d)·v, output projection)."""
        head_dim = dim // heads
        q, k, v = self.split(self.linear(x, dim, 3 * dim), [dim, dim, dim], axis=-1)
        q = self.transpose(self.reshape(q, [0, 0, heads, head_dim]), [0, 2, 1, 3])  # [B,h,T,d]
        k = self.transpose(self.reshape(k, [0, 0, heads, head_dim]), [0, 2, 3, 1])  # [B,h,d,T]
        v = self.transpose(self.reshape(v, [0, 0, heads, head_dim]), [0, 2, 1, 3])  # [B,h,T,d]
        scores = self.scale(self.op("MatMul", [q, k]), 1.0 / math.sqrt(head_dim))
        ctx = self.op("MatMul", [self.op("Softmax", [scores], axis=-1), v])  # [B,h,T,d]
        ctx = self.reshape(self.transpose(ctx, [0, 2, 1, 3]), [0, 0, dim])
        return self.linear(ctx, dim, dim)

    # --- model -----------------------------------------------------------------------------------

    def build(self, contract: NetworkContract, doc: str, metadata: dict[str, str],
              dynamic_dim: str = "batch") -> onnx.ModelProto:
        """Wrap the recorded nodes in a model whose I/O are ``contract``'s (dynamic axes named ``dynamic_dim``)."""
        graph = helper.make_graph(
            self.nodes,
            self.name,
            [_value_info(s, dynamic_dim) for s in contract.inputs] + self.weight_inputs,
            [_value_info(s, dynamic_dim) for s in contract.outputs],
            initializer=self.initializers,
            doc_string=doc,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="gazesam-triton build_engines.standins",
            producer_version="1",
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        for key, value in metadata.items():
            model.metadata_props.add(key=key, value=value)
        return model


def _value_info(spec: TensorSpec, dynamic_dim: str) -> onnx.ValueInfoProto:
    shape = [dynamic_dim if d == -1 else d for d in spec.shape]
    return helper.make_tensor_value_info(spec.name, helper.np_dtype_to_tensor_dtype(spec.np_dtype), shape)
