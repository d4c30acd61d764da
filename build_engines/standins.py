"""Stand-in ONNX networks: the upstream interfaces with random weights.

Offline we lack trained weights for several networks, so we generate stand-ins: ONNX models whose inputs and
outputs match :mod:`gazesam.contracts` exactly (names, dtypes, shapes, dynamic axes), filled with random weights
drawn from a fixed seed. They exercise the whole serving path (pre-processing, Triton, TensorRT, post-processing)
but their outputs mean nothing.

Two sizes:

* ``tiny``: a few million MACs per network, so tests and the demo run in milliseconds on a CPU.
* ``full``: compute (MACs, see :mod:`build_engines.macs`) within ±25 % of the upstream network at the upstream
  input size, mostly by building the upstream architecture itself, so latency and memory measurements on a GPU
  are representative.

Graphs are built with ``onnx.helper`` and numpy only (opset 17, IR 8). A model is deterministic given
``(network, size, seed)``: rebuilding gives a byte-identical file. Every stand-in carries
``gazesam.standin=true``, ``gazesam.standin_size``, ``gazesam.network`` and ``gazesam.seed`` in its metadata, and
its model and graph doc strings start with :data:`STANDIN_DOC`.

``with_weights=False`` builds the same nodes but turns every random weight into a graph *input* that has only a
shape (no data). Such a "shape-only" model is not runnable and does not pass the contract check (the weights show
up as extra inputs); it exists so :func:`build_engines.macs.count_macs` can count a 190-GMAC network in well under
a second. It carries ``gazesam.shape_only=true``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from gazesam.contracts import NetworkContract, TensorSpec
from gazesam.networks import all_networks
from gazesam.model_files import NETWORK_KEY, STANDIN_KEY, STANDIN_SIZE_KEY

STANDIN_DOC = "STAND-IN: random weights, not a trained network."
SEED_KEY = "gazesam.seed"
SHAPE_ONLY_KEY = "gazesam.shape_only"
OPSET = 17
IR_VERSION = 8  # opset 17 needs IR >= 8; the oldest that fits keeps older runtimes (TensorRT, Triton's ORT) happy

NETWORKS = ("face", "gaze", "yolox", "yolo_nas_ort", "yolo_nas_trt", "depth", "sam_encoder", "sam_decoder")
"""Stand-in keys, as the registry's networks name them (``gazesam.networks.Network.standin``)."""
SIZES = ("tiny", "full")

# Detector post-processing constants of the super-gradients YOLO-NAS export (upstream-gazesam.md §2.3).
NMS_SCORE_THRESHOLD = 0.25
NMS_IOU_THRESHOLD = 0.7
NMS_MAX_OUTPUT = 1000
NMS_PRE_TOP_K = 1000
PAD_BOX = -1.0
"""``yolo_nas_ort`` padding: rows at or beyond ``num_predictions`` hold box (-1,-1,-1,-1), score 0, class -1."""
PAD_SCORE = 0.0
PAD_CLASS = -1
YOLO_NAS_CLASS_LOGIT_MEAN = -5.5
"""Class logits are normalised per class over each pyramid level to N(-5.5, 1): few scores pass 0.25."""

SAM_DECODER_BOX_FRAME = 1024  # decoder box prompts are in a 1024-longest-side frame
SAM_DECODER_IOU_CENTRE = 0.85  # iou_predictions = sigmoid(logit(0.85) + 0.8·tanh(s))

_FLOAT = TensorProto.FLOAT


def contract_of(network: str) -> NetworkContract:
    """The :class:`NetworkContract` a stand-in for ``network`` (a registry ``standin`` key) implements."""
    for candidate in all_networks():
        if candidate.standin == network:
            return candidate.own_contract
    raise ValueError(f"unknown network {network!r}; choose one of {NETWORKS}")


# ------------------------------------------------------------------------------------------------
# Graph builder
# ------------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------------
# Shared blocks
# ------------------------------------------------------------------------------------------------


def _bottleneck(g: GraphBuilder, x: str, cin: int, mid: int, cout: int, stride: int) -> str:
    """ResNet v1.5 bottleneck: 1×1 → 3×3 (stride) → 1×1, projection shortcut when the shape changes, ReLU."""
    y = g.conv(x, cin, mid, 1, act="relu")
    y = g.conv(y, mid, mid, 3, stride=stride, act="relu")
    y = g.conv(y, mid, cout, 1, gain=0.2)  # small last conv: activations stay O(1) without BN
    shortcut = x if stride == 1 and cin == cout else g.conv(x, cin, cout, 1, stride=stride, gain=0.5)
    return g.relu(g.add(y, shortcut))


def _csp(g: GraphBuilder, x: str, cin: int, cout: int, n: int, hidden: int) -> str:
    """CSP stage of RepVGG-style (fused) blocks: two 1×1 branches, ``n`` residual 3×3 pairs on one, 1×1 merge."""
    a = g.conv(x, cin, hidden, 1, act="relu")
    b = g.conv(x, cin, hidden, 1, act="relu")
    for _ in range(n):
        t = g.conv(a, hidden, hidden, 3, act="relu")
        t = g.conv(t, hidden, hidden, 3, gain=0.3)
        a = g.relu(g.add(a, t))
    return g.conv(g.concat([a, b], axis=1), 2 * hidden, cout, 1, act="relu")


def _dense_head(g: GraphBuilder, levels: Sequence[tuple[str, int]], channels: int, scale: Sequence[float],
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


def _small_pyramid(g: GraphBuilder, x: str, widths: Sequence[int]) -> list[tuple[str, int]]:
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


# ------------------------------------------------------------------------------------------------
# Architectures
# ------------------------------------------------------------------------------------------------


def _face(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """ProxylessGaze face detector contract: [1,3,160,128] raw BGR → ``bbox_det`` [1,420,6].

    Columns: raw x, y, log-w, log-h, then sigmoid objectness and sigmoid class score. Biased so that
    obj·cls stays far below the 0.5 face threshold: a stand-in finds few or no faces. Same graph for both sizes
    (no upstream compute target).
    """
    levels = _small_pyramid(g, c.inputs[0].name, (8, 16, 24, 32, 48))  # 20×16 + 10×8 + 5×4 = 420 anchors
    _dense_head(g, levels, 6, [0.5, 0.5, 0.3, 0.3, 1.0, 1.0], [0, 0, 0, 0, -4.0, -1.0], sigmoid_from=4,
                out=c.outputs[0].name)
    return "ProxylessGaze-contract face detector: 5 stride-2 convs, 1×1 heads at strides 8/16/32."


def _yolox(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """YOLOX-nano contract: ``images`` [1,3,416,416] → ``output`` [1,3549,85] (raw box, sigmoid obj + 80 classes).

    Scores are biased low (few detections). Same graph for both sizes (no upstream compute target).
    """
    levels = _small_pyramid(g, c.inputs[0].name, (16, 32, 48, 64, 96))  # 52² + 26² + 13² = 3549 anchors
    _dense_head(g, levels, 85, [0.5, 0.5, 0.3, 0.3] + [1.0] * 81, [0, 0, 0, 0, -4.0] + [-3.0] * 80,
                sigmoid_from=4, out=c.outputs[0].name)
    return "YOLOX-nano-contract detector: 5 stride-2 convs, 1×1 heads at strides 8/16/32, no decode."


def _gaze(g: GraphBuilder, size: str, c: NetworkContract) -> str:
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
                y = _bottleneck(g, y, cin, mid, mid * 4, stride if i == 0 else 1)
                cin = mid * 4  # ends at 2048 × 14²
        arch = "ResNet-50 (3-4-6-3 bottlenecks, BN folded) at 448²"
    else:
        y = g.conv(x, 3, 8, 7, stride=8, act="relu")  # 56²
        y = g.conv(y, 8, 16, 3, stride=2, act="relu")  # 28²
        y = _bottleneck(g, y, 16, 8, 32, 2)  # 14²
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


def _depth(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """Depth-Anything v1: DINOv2 ViT → DPT head → ``output`` [1,1,518,518] (ReLU, relative inverse depth).

    full: ViT-B/14 (37×37 patches + cls, 12 blocks, dim 768, 12 heads, MLP 3072, pre-LN, GELU), the last four
    blocks reassembled at out_channels [96,192,384,768] (×4 deconv, ×2 deconv, ×1, ×½ conv), 3×3 to 128
    features, four RefineNet fusion blocks, 3×3 128→64, bilinear to 518², 3×3 64→32, ReLU, 1×1 32→1, ReLU.
    tiny: same structure with patch 37 (14×14 tokens), dim 32, 2 blocks and 8 features.
    """
    if size == "full":
        patch, dim, depth, heads, mlp = 14, 768, 12, 12, 3072
        hooks, out_ch, features, head_hidden = (8, 9, 10, 11), (96, 192, 384, 768), 128, 32
    else:
        patch, dim, depth, heads, mlp = 37, 32, 2, 2, 64
        hooks, out_ch, features, head_hidden = (0, 1, 1, 1), (8, 8, 16, 16), 8, 8
    height, width = c.inputs[0].shape[2:]
    grid = height // patch
    tokens = grid * grid + 1

    # --- ViT encoder -----------------------------------------------------------------------------
    x = g.conv(c.inputs[0].name, 3, dim, patch, stride=patch, pad=0)  # [1,dim,G,G]
    x = g.transpose(g.reshape(x, [1, dim, grid * grid]), [0, 2, 1])  # [1,G²,dim]
    x = g.concat([g.weight((1, 1, dim), std=0.02, base="cls"), x], axis=1)  # [1,T,dim]
    x = g.add(x, g.weight((1, tokens, dim), std=0.02, base="pos"))
    final_norm = g.ln_params(dim)
    hooked = []
    for i in range(depth):
        x = g.add(x, g.attention(g.layernorm(x, dim), dim, heads))
        h = g.linear(g.gelu(g.linear(g.layernorm(x, dim), dim, mlp)), mlp, dim)
        x = g.add(x, h)
        hooked += [x] * hooks.count(i)
    maps = []
    for t in hooked:  # final norm, drop the cls token, back to a [1,dim,G,G] map
        t = g.op("Slice", [g.layernorm(t, dim, final_norm), g.ints([1]), g.ints([tokens]), g.ints([1])])
        maps.append(g.reshape(g.transpose(t, [0, 2, 1]), [1, dim, grid, grid]))

    # --- DPT head --------------------------------------------------------------------------------
    layers = [g.conv(m, dim, oc, 1) for m, oc in zip(maps, out_ch)]
    layers[0] = g.conv_transpose(layers[0], out_ch[0], out_ch[0], 4, 4)  # 4G
    layers[1] = g.conv_transpose(layers[1], out_ch[1], out_ch[1], 2, 2)  # 2G
    layers[3] = g.conv(layers[3], out_ch[3], out_ch[3], 3, stride=2)  # ⌈G/2⌉
    sides = [4 * grid, 2 * grid, grid, (grid - 1) // 2 + 1]
    rn = [g.conv(l, oc, features, 3, bias=False) for l, oc in zip(layers, out_ch)]

    def rcu(t: str) -> str:  # residual conv unit
        u = g.conv(g.relu(t), features, features, 3)
        u = g.conv(g.relu(u), features, features, 3, gain=0.5)
        return g.add(u, t)

    def fusion(t: str, skip: str | None, side: int) -> str:
        if skip is not None:
            t = g.add(t, rcu(skip))
        t = g.resize(rcu(t), sizes=[1, features, side, side], align_corners=True)
        return g.conv(t, features, features, 1)

    path = fusion(rn[3], None, sides[2])
    path = fusion(path, rn[2], sides[1])
    path = fusion(path, rn[1], sides[0])
    path = fusion(path, rn[0], 2 * sides[0])
    y = g.conv(path, features, features // 2, 3)
    y = g.resize(y, sizes=[1, features // 2, height, width], align_corners=True)
    y = g.conv(y, features // 2, head_hidden, 3, act="relu")
    g.conv(y, head_hidden, 1, 1, act="relu", out=c.outputs[0].name)
    return (f"Depth-Anything v1: ViT (patch {patch}, dim {dim}, {depth} blocks, {heads} heads, MLP {mlp}) + DPT head "
            f"(out_channels {list(out_ch)}, features {features}).")


def _lite_mla(g: GraphBuilder, x: str, channels: int, side: int, head_dim: int) -> str:
    """EfficientViT multi-scale ReLU linear attention (one 5×5 aggregation scale), residual. [B,C,s,s] → same."""
    heads = channels // head_dim
    total = heads * head_dim
    qkv = g.conv(x, channels, 3 * total, 1, bias=False)
    agg = g.conv(g.conv(qkv, 3 * total, 3 * total, 5, groups=3 * total, bias=False),
                 3 * total, 3 * total, 1, groups=3 * heads, bias=False)
    multi = g.concat([qkv, agg], axis=1)  # [B, 6·total, s, s]
    multi = g.transpose(g.reshape(multi, [0, 2 * heads, 3 * head_dim, side * side]), [0, 1, 3, 2])  # [B,2h,HW,3d]
    q, k, v = g.split(multi, [head_dim] * 3, axis=3)
    q, k = g.relu(q), g.relu(k)
    kv = g.op("MatMul", [g.transpose(k, [0, 1, 3, 2]), v])  # [B,2h,d,d]
    num = g.op("MatMul", [q, kv])  # [B,2h,HW,d]
    k_sum = g.op("ReduceSum", [k, g.ints([2])], keepdims=1)  # [B,2h,1,d]
    den = g.op("ReduceSum", [g.mul(q, k_sum), g.ints([3])], keepdims=1)  # [B,2h,HW,1]
    ctx = g.op("Div", [num, g.add(den, g.const(1e-6))])
    ctx = g.reshape(g.transpose(ctx, [0, 1, 3, 2]), [0, 2 * total, side, side])
    return g.add(x, g.conv(ctx, 2 * total, channels, 1, gain=0.5))


def _mbconv(g: GraphBuilder, x: str, cin: int, cout: int, expand: int, stride: int, residual: bool) -> str:
    """Inverted residual: 1×1 expand, GELU, 3×3 depthwise (stride), GELU, 1×1 project."""
    mid = cin * expand
    y = g.conv(x, cin, mid, 1, act="gelu")
    y = g.conv(y, mid, mid, 3, stride=stride, groups=mid, act="gelu")
    y = g.conv(y, mid, cout, 1, gain=0.3 if residual else 1.0)
    return g.add(x, y) if residual else y


def _fused_mbconv(g: GraphBuilder, x: str, cin: int, cout: int, expand: int, stride: int, residual: bool) -> str:
    """Fused MBConv: 3×3 expand (stride), GELU, 1×1 project."""
    y = g.conv(x, cin, cin * expand, 3, stride=stride, act="gelu")
    y = g.conv(y, cin * expand, cout, 1, gain=0.3 if residual else 1.0)
    return g.add(x, y) if residual else y


def _sam_encoder(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """EfficientViT-SAM-L0 image encoder: ``input_image`` [B,3,512,512] → ``image_embeddings`` [B,256,64,64].

    full follows EfficientViT-L0 (widths 32-64-128-256-512, depths 1-1-1-4-4, GELU, BN folded):
    conv stem + ResBlock; stages 1–2 fused-MBConv (×16 expand when downsampling, ×4 after); stage 3 MBConv;
    stage 4 MBConv (×24) then 4 EfficientViT blocks (multi-scale ReLU linear attention with one 5×5 aggregation
    scale + MBConv ×6). SAM neck: 1×1 convs of stages 4/3/2 to 256, bilinear to 64×64 (upstream: bicubic), sum,
    4 fused-MBConv (×1), 1×1 to 256, LayerNorm over channels. tiny: the same with widths 8-…-128, depths
    0-0-0-1-1, smaller expansions and a 32-wide neck.
    """
    if size == "full":
        widths, depths = (32, 64, 128, 256, 512), (1, 1, 1, 4, 4)
        exp_down, exp, exp_down4, exp_att, head_width, head_depth = 16, 4, 24, 6, 256, 4
    else:
        widths, depths = (8, 16, 32, 64, 128), (0, 0, 0, 1, 1)
        exp_down, exp, exp_down4, exp_att, head_width, head_depth = 4, 2, 4, 2, 32, 1
    side = c.inputs[0].shape[2] // 2
    x = g.conv(c.inputs[0].name, 3, widths[0], 3, stride=2, act="gelu")
    for _ in range(depths[0]):  # ResBlock
        x = g.add(x, g.conv(g.conv(x, widths[0], widths[0], 3, act="gelu"), widths[0], widths[0], 3, gain=0.3))
    cin = widths[0]
    stages = {}
    for stage in (1, 2, 3):
        block = _fused_mbconv if stage <= 2 else _mbconv
        x = block(g, x, cin, widths[stage], exp_down, 2, residual=False)
        side //= 2
        cin = widths[stage]
        for _ in range(depths[stage]):
            x = block(g, x, cin, cin, exp, 1, residual=True)
        stages[stage] = (x, cin, side)
    x = _mbconv(g, x, cin, widths[4], exp_down4, 2, residual=False)
    side //= 2
    cin = widths[4]
    for _ in range(depths[4]):
        x = _lite_mla(g, x, cin, side, head_dim=32)
        x = _mbconv(g, x, cin, cin, exp_att, 1, residual=True)
    stages[4] = (x, cin, side)

    out_side = c.outputs[0].shape[2]
    merged = None
    for stage in (4, 3, 2):
        feat, ch, s = stages[stage]
        y = g.conv(feat, ch, head_width, 1)
        if s != out_side:
            y = g.resize(y, scales=[1, 1, out_side / s, out_side / s])
        merged = y if merged is None else g.add(merged, y)
    for _ in range(head_depth):
        merged = _fused_mbconv(g, merged, head_width, head_width, 1, 1, residual=True)
    out_ch = c.outputs[0].shape[1]
    y = g.conv(merged, head_width, out_ch, 1)
    g.layernorm2d(y, out_ch, out=c.outputs[0].name)
    return (f"EfficientViT-SAM-L0-like encoder: widths {list(widths)}, depths {list(depths)}, LiteMLA in stage 4, "
            f"SAM neck {head_depth}×fused-MBConv at width {head_width}.")


def _sam_decoder(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """Box-prompt mask decoder: ``image_embeddings`` [1,256,64,64], ``boxes`` [N,1,4] (1024 frame) →
    ``low_res_masks`` [N,1,256,256], ``iou_predictions`` [N,1].

    Prompt-driven so the pipeline has something to segment:

    * each box → random-Fourier positional encoding of its two corners (+ a corner embedding each), one
      cross-attention from the two corner tokens to the image embedding, MLP, LayerNorm → ``hidden`` [N,H];
    * mask logits = ``box prior`` + 0.5·``mix``. The box prior is ``clip(1.5·d, −3, 3)`` with ``d`` the signed
      distance (in 256-grid pixels) from each pixel centre to the box mapped onto the grid (x/4, y/4): positive
      inside, negative outside, so a mask roughly fills its box. ``mix`` is the SAM-style product of a
      per-box hypernetwork vector with the upscaled embedding, normalised to unit variance per mask;
    * iou = ``sigmoid(logit(0.85) + 0.8·tanh(s))``, ``s`` a random projection of ``hidden`` (≈ N(0,1) over
      boxes): centred on 0.85, roughly three quarters above a 0.78 gate.

    full upscales the embedding with two stride-2 transposed convs (256→64→32 channels) like SAM; tiny uses a
    1×1 conv to 8 channels and a bilinear ×4 resize.
    """
    emb, boxes = (s.name for s in c.inputs)
    masks_out, iou_out = (s.name for s in c.outputs)
    emb_ch, emb_side = c.inputs[0].shape[1], c.inputs[0].shape[2]
    mask_side = c.outputs[0].shape[2]
    dim, hidden = (256, 256) if size == "full" else (32, 32)
    n_freq = dim // 2

    # --- prompt tokens ---------------------------------------------------------------------------
    corners = g.reshape(g.scale(g.add(boxes, g.const(0.5)), 1.0 / SAM_DECODER_BOX_FRAME), [-1, 2, 2])  # [N,2,2]
    centred = g.add(g.scale(corners, 2.0), g.const(-1.0))
    proj = g.scale(g.op("MatMul", [centred, g.weight((2, n_freq), std=1.0, base="pe_gauss")]), 2.0 * math.pi)
    tokens = g.concat([g.op("Sin", [proj]), g.op("Cos", [proj])], axis=2)  # [N,2,dim]
    tokens = g.add(tokens, g.weight((1, 2, dim), std=0.5, base="corner_embed"))

    # --- one cross-attention from the corner tokens to the image ----------------------------------
    image = g.transpose(g.reshape(emb, [1, emb_ch, emb_side * emb_side]), [0, 2, 1])  # [1,HW,C]
    keys = g.transpose(g.linear(image, emb_ch, dim, bias=False), [0, 2, 1])  # [1,dim,HW]
    values = g.linear(image, emb_ch, dim, bias=False)  # [1,HW,dim]
    query = g.linear(tokens, dim, dim, bias=False)  # [N,2,dim]
    attn = g.op("Softmax", [g.scale(g.op("MatMul", [query, keys]), 1.0 / math.sqrt(dim))], axis=-1)
    tokens = g.layernorm(g.add(tokens, g.op("MatMul", [attn, values])), dim)  # [N,2,dim]
    h = g.linear(g.reshape(tokens, [-1, 2 * dim]), 2 * dim, hidden)
    pooled = g.reshape(g.op("ReduceMean", [emb], axes=[2, 3], keepdims=0), [1, emb_ch])
    h = g.add(h, g.linear(pooled, emb_ch, hidden, bias=False))
    h = g.layernorm(g.relu(h), hidden)  # [N,H]

    # --- mask logits ------------------------------------------------------------------------------
    if size == "full":
        up = g.gelu(g.conv_transpose(emb, emb_ch, 64, 2, 2))
        up = g.gelu(g.conv_transpose(up, 64, 32, 2, 2))
        up_ch = 32
    else:
        up_ch = 8
        up = g.resize(g.conv(emb, emb_ch, up_ch, 1, act="gelu"), sizes=[1, up_ch, mask_side, mask_side])
    up = g.reshape(up, [up_ch, mask_side * mask_side])
    mix = g.op("MatMul", [g.linear(h, hidden, up_ch), up])  # [N, 256²]
    mix = g.op("LayerNormalization", [mix, g.const(np.full(mask_side * mask_side, 0.5)),
                                      g.const(np.zeros(mask_side * mask_side))], axis=-1, epsilon=1e-5)
    mix = g.reshape(mix, [-1, 1, mask_side, mask_side])

    grid_scale = mask_side / SAM_DECODER_BOX_FRAME  # 1024 frame → 256 grid
    centres = np.arange(mask_side, dtype=np.float32) + 0.5
    coords = g.reshape(g.scale(boxes, grid_scale), [-1, 4, 1, 1])  # [N,4,1,1]
    x1, y1, x2, y2 = g.split(coords, [1, 1, 1, 1], axis=1)  # each [N,1,1,1]
    xs = g.const(centres.reshape(1, 1, 1, mask_side))
    ys = g.const(centres.reshape(1, 1, mask_side, 1))
    dx = g.op("Min", [g.op("Sub", [xs, x1]), g.op("Sub", [x2, xs])])  # [N,1,1,256]
    dy = g.op("Min", [g.op("Sub", [ys, y1]), g.op("Sub", [y2, ys])])  # [N,1,256,1]
    prior = g.op("Clip", [g.scale(g.op("Min", [dx, dy]), 1.5), g.const(-3.0), g.const(3.0)])  # [N,1,256,256]
    g.add(prior, mix, out=masks_out)

    # --- IoU --------------------------------------------------------------------------------------
    s = g.linear(h, hidden, 1, std=1.0 / math.sqrt(hidden), bias=False)  # [N,1]
    centre = math.log(SAM_DECODER_IOU_CENTRE / (1.0 - SAM_DECODER_IOU_CENTRE))
    g.sigmoid(g.add(g.scale(g.op("Tanh", [s]), 0.8), g.const(centre)), out=iou_out)
    return (f"box-prompt decoder stand-in: Fourier box tokens, 1 cross-attention (dim {dim}), box-prior mask "
            f"logits + 0.5·embedding mix, iou centred on {SAM_DECODER_IOU_CENTRE}.")


def _yolo_nas_core(g: GraphBuilder, size: str, image: str, side: int) -> tuple[str, str]:
    """YOLO-NAS-like detector up to decoded predictions: uint8 [1,3,640,640] → (boxes [1,A,4], scores [1,A,80]).

    uint8 → float /255 in-graph; CSP backbone of RepVGG-style (fused) 3×3 blocks at strides 8/16/32
    (full: widths 96-192-384-768, depths 2-3-5-2 after a stride-2 stem; tiny: stride-4 stem, widths 8-16-32-64),
    PAN neck (deconv up, conv down, CSP merges), decoupled heads with DFL box regression (17 bins → ltrb
    distances × stride around anchor centres), sigmoid class scores. A = 80²+40²+20² = 8400. Boxes are xyxy in
    input pixels.
    """
    reg_bins, classes = 17, 80
    x = g.scale(g.op("Cast", [image], to=_FLOAT), 1.0 / 255.0)
    if size == "full":
        x = g.conv(x, 3, 48, 3, stride=2, act="relu")
        cin, head_widths, neck_depth = 48, (96, 192, 384), 2
        stages = ((96, 2, 2 / 3), (192, 3, 2 / 3), (384, 5, 2 / 3), (768, 2, 1 / 2))  # (width, blocks, hidden ratio)
    else:
        x = g.conv(x, 3, 8, 4, stride=4, pad=0, act="relu")
        cin, head_widths, neck_depth = 8, (8, 16, 32), 1
        stages = ((16, 1, 1 / 2), (32, 1, 1 / 2), (64, 1, 1 / 2))
    feats = []
    for width, depth, ratio in stages:
        x = g.conv(x, cin, width, 3, stride=2, act="relu")
        x = _csp(g, x, width, width, depth, int(width * ratio))
        cin = width
        feats.append((x, width))
    (p3, c3), (p4, c4), (p5, c5) = feats[-3:]

    # PAN neck
    lat5 = g.conv(p5, c5, c4, 1, act="relu")
    f4 = _csp(g, g.concat([g.conv_transpose(lat5, c4, c4, 2, 2), p4], axis=1), 2 * c4, c4, neck_depth, c4 * 2 // 3)
    lat4 = g.conv(f4, c4, c3, 1, act="relu")
    out3 = _csp(g, g.concat([g.conv_transpose(lat4, c3, c3, 2, 2), p3], axis=1), 2 * c3, c3, neck_depth, c3 * 2 // 3)
    down3 = g.conv(out3, c3, c3, 3, stride=2, act="relu")
    out4 = _csp(g, g.concat([down3, lat4], axis=1), 2 * c3, c4, neck_depth, c4 // 2)
    down4 = g.conv(out4, c4, c4, 3, stride=2, act="relu")
    out5 = _csp(g, g.concat([down4, lat5], axis=1), 2 * c4, c5, neck_depth, c5 // 2)

    bins = g.const(np.arange(reg_bins, dtype=np.float32).reshape(reg_bins, 1))
    cls_all, dist_all, centres, strides = [], [], [], []
    for (feat, ch), hw, stride in zip(((out3, c3), (out4, c4), (out5, c5)), head_widths, (8, 16, 32)):
        n = side // stride
        stem = g.conv(feat, ch, hw, 1, act="relu")
        cls = g.conv(g.conv(stem, hw, hw, 3, act="relu"), hw, classes, 1, bias=False)
        cls = g.instance_norm(cls, classes, 1.0, YOLO_NAS_CLASS_LOGIT_MEAN)  # scores mostly ≪ 0.25
        cls_all.append(g.reshape(cls, [1, classes, n * n]))
        reg = g.conv(g.conv(stem, hw, hw, 3, act="relu"), hw, 4 * reg_bins, 1, bias=False)
        reg = g.instance_norm(reg, 4 * reg_bins, 1.0, 0.0)
        probs = g.op("Softmax", [g.reshape(reg, [1, 4, reg_bins, n * n])], axis=2)
        dist = g.op("MatMul", [g.transpose(probs, [0, 1, 3, 2]), bins])  # [1,4,HW,1] expected bin
        dist_all.append(g.reshape(dist, [1, 4, n * n]))
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        cxy = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride
        centres.append(np.concatenate([cxy, cxy], axis=1))
        strides.append(np.full(n * n, stride))
    anchors = sum(len(s) for s in strides)
    scores = g.transpose(g.sigmoid(g.concat(cls_all, axis=2)), [0, 2, 1])  # [1,A,80]
    ltrb = g.transpose(g.concat(dist_all, axis=2), [0, 2, 1])  # [1,A,4] in bins
    ltrb = g.mul(ltrb, g.const(np.concatenate(strides).reshape(1, anchors, 1)))
    signed = g.mul(ltrb, g.const(np.array([-1, -1, 1, 1]).reshape(1, 1, 4)))
    boxes = g.add(signed, g.const(np.concatenate(centres).reshape(1, anchors, 4)))  # [1,A,4] xyxy
    return boxes, scores


def _pre_nms_top_k(g: GraphBuilder, boxes: str, scores: str, classes: int = 80) -> tuple[str, str]:
    """Keep the NMS_PRE_TOP_K anchors with the highest class score: → boxes [K,4], scores [K,80]."""
    best = g.op("ReduceMax", [scores], axes=[2], keepdims=0)  # [1,A]
    _, idx = g.op("TopK", [best, g.ints([NMS_PRE_TOP_K])], n_out=2, axis=1)
    idx = g.reshape(idx, [NMS_PRE_TOP_K])
    top_boxes = g.op("Gather", [g.reshape(boxes, [-1, 4]), idx], axis=0)
    top_scores = g.op("Gather", [g.reshape(scores, [-1, classes]), idx], axis=0)
    return top_boxes, top_scores


def _yolo_nas_ort(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """super-gradients ONNX-Runtime flavour: NMS in the graph, "batch" output format.

    Pre-NMS top-1000 by best class score, class-wise ``NonMaxSuppression`` (score > 0.25, IoU 0.7, ≤1000 per
    class), then the 1000 best survivors by score. Outputs ``num_predictions`` int64 [1,1], ``pred_boxes``
    [1,1000,4] (xyxy, input pixels), ``pred_scores`` [1,1000], ``pred_classes`` int64 [1,1000]; rows at or beyond
    ``num_predictions`` are padding: box (−1,−1,−1,−1), score 0, class −1.
    """
    num_out, boxes_out, scores_out, classes_out = (s.name for s in c.outputs)
    boxes, scores = _yolo_nas_core(g, size, c.inputs[0].name, c.inputs[0].shape[2])
    top_boxes, top_scores = _pre_nms_top_k(g, boxes, scores)
    classes = 80
    selected = g.op(
        "NonMaxSuppression",
        [g.op("Unsqueeze", [top_boxes, g.ints([0])]),
         g.transpose(g.op("Unsqueeze", [top_scores, g.ints([0])]), [0, 2, 1]),
         g.ints([NMS_MAX_OUTPUT]), g.const([NMS_IOU_THRESHOLD]), g.const([NMS_SCORE_THRESHOLD])],
        center_point_box=0,
    )  # [K,3] = (batch, class, box)
    cls = g.op("Gather", [selected, g.const(1, dtype="int64")], axis=1)  # [K]
    box_idx = g.op("Gather", [selected, g.const(2, dtype="int64")], axis=1)  # [K]
    flat_idx = g.add(g.mul(box_idx, g.const(classes, dtype="int64")), cls)
    sel_scores = g.op("Gather", [g.reshape(top_scores, [-1]), flat_idx], axis=0)  # [K]
    sel_boxes = g.op("Gather", [top_boxes, box_idx], axis=0)  # [K,4]
    # Append NMS_MAX_OUTPUT padding rows (score −1 sorts last), take the best NMS_MAX_OUTPUT rows.
    pad_scores = g.concat([sel_scores, g.const(np.full(NMS_MAX_OUTPUT, -1.0))], axis=0)
    pad_boxes = g.concat([sel_boxes, g.const(np.full((NMS_MAX_OUTPUT, 4), PAD_BOX))], axis=0)
    pad_classes = g.concat([cls, g.const(np.full(NMS_MAX_OUTPUT, PAD_CLASS), dtype="int64")], axis=0)
    best, order = g.op("TopK", [pad_scores, g.ints([NMS_MAX_OUTPUT])], n_out=2, axis=0, largest=1, sorted=1)
    g.op("Unsqueeze", [g.relu(best), g.ints([0])], out=scores_out)  # padding −1 → 0
    g.op("Unsqueeze", [g.op("Gather", [pad_boxes, order], axis=0), g.ints([0])], out=boxes_out)
    g.op("Unsqueeze", [g.op("Gather", [pad_classes, order], axis=0), g.ints([0])], out=classes_out)
    count = g.op("Min", [g.op("Shape", [sel_scores]), g.ints([NMS_MAX_OUTPUT])])
    g.reshape(count, [1, 1], out=num_out)
    return "YOLO-NAS-M-like detector, ONNX-Runtime NMS flavour (NonMaxSuppression + top-1000, padded rows)."


def _yolo_nas_trt(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """super-gradients TensorRT flavour: pre-NMS top-1000, then an ``EfficientNMS_TRT`` plugin node.

    The plugin only exists inside TensorRT: this graph does not run in ONNX Runtime. Outputs ``num_dets`` int32
    [1,1], ``det_boxes`` [1,1000,4], ``det_scores`` [1,1000], ``det_classes`` int32 [1,1000].
    """
    register_trt_plugin_schemas()
    boxes, scores = _yolo_nas_core(g, size, c.inputs[0].name, c.inputs[0].shape[2])
    top_boxes, top_scores = _pre_nms_top_k(g, boxes, scores)
    g.op(
        "EfficientNMS_TRT",
        [g.op("Unsqueeze", [top_boxes, g.ints([0])]), g.op("Unsqueeze", [top_scores, g.ints([0])])],
        out=[s.name for s in c.outputs],
        background_class=-1,
        box_coding=0,
        iou_threshold=NMS_IOU_THRESHOLD,
        max_output_boxes=NMS_MAX_OUTPUT,
        plugin_version="1",
        score_activation=0,
        score_threshold=NMS_SCORE_THRESHOLD,
    )
    return "YOLO-NAS-M-like detector, TensorRT flavour (EfficientNMS_TRT plugin; not runnable in ONNX Runtime)."


_BUILDERS = {
    "face": _face,
    "gaze": _gaze,
    "yolox": _yolox,
    "yolo_nas_ort": _yolo_nas_ort,
    "yolo_nas_trt": _yolo_nas_trt,
    "depth": _depth,
    "sam_encoder": _sam_encoder,
    "sam_decoder": _sam_decoder,
}


def register_trt_plugin_schemas() -> None:
    """Teach the ONNX checker the ``EfficientNMS_TRT`` TensorRT plugin (domain "", as super-gradients emits it).

    Without a schema ``onnx.checker`` rejects any unknown op in the default domain. The schema has no shape
    inference: the graph declares the plugin's output types and shapes itself. Idempotent.
    """
    if onnx.defs.has("EfficientNMS_TRT", ""):
        return
    param = onnx.defs.OpSchema.FormalParameter
    attr = onnx.defs.OpSchema.Attribute
    kind = onnx.defs.OpSchema.AttrType
    schema = onnx.defs.OpSchema(
        "EfficientNMS_TRT",
        "",
        1,
        doc="TensorRT EfficientNMS plugin (registered for checking only; runs in TensorRT, not ONNX Runtime).",
        inputs=[param("boxes", "T"), param("scores", "T")],
        outputs=[param("num_dets", "tensor(int32)"), param("det_boxes", "T"), param("det_scores", "T"),
                 param("det_classes", "tensor(int32)")],
        type_constraints=[("T", ["tensor(float)", "tensor(float16)"], "box and score type")],
        attributes=[
            attr("background_class", kind.INT, "class index to ignore, -1 for none"),
            attr("box_coding", kind.INT, "0 = corners (x1,y1,x2,y2), 1 = centre-size"),
            attr("iou_threshold", kind.FLOAT, "NMS IoU threshold"),
            attr("max_output_boxes", kind.INT, "detections kept per image"),
            attr("plugin_version", kind.STRING, "plugin version"),
            attr("score_activation", kind.INT, "1 = apply sigmoid to scores"),
            attr("score_threshold", kind.FLOAT, "minimum score"),
        ],
    )
    onnx.defs.register_schema(schema)


# ------------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------------


def build_standin(network: str, size: str = "tiny", seed: int = 0, with_weights: bool = True) -> onnx.ModelProto:
    """Build the stand-in ONNX model for ``network`` (one of :data:`NETWORKS`) at ``size`` ("tiny" | "full").

    Deterministic in ``(network, size, seed)``. With ``with_weights=False`` the weights become shape-only graph
    inputs (for MAC counting; see the module docstring). Models with weights are checked with
    ``onnx.checker`` before they are returned.
    """
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {SIZES}")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    contract = contract_of(network)
    rng = np.random.default_rng([seed, zlib.crc32(network.encode()), zlib.crc32(size.encode())])
    g = GraphBuilder(f"{network}_standin_{size}", rng, with_weights)
    description = _BUILDERS[network](g, size, contract)
    doc = f"{STANDIN_DOC} gazesam-triton stand-in for '{network}' ({size}, seed {seed}): {description}"
    if not with_weights:
        doc += " SHAPE-ONLY: weights are graph inputs without data; for MAC counting, not for running."
    metadata = {
        STANDIN_KEY: "true",
        STANDIN_SIZE_KEY: size,
        NETWORK_KEY: network,
        SEED_KEY: str(seed),
    }
    if not with_weights:
        metadata[SHAPE_ONLY_KEY] = "true"
    model = g.build(contract, doc, metadata, dynamic_dim="num_boxes" if network == "sam_decoder" else "batch")
    if with_weights:
        onnx.checker.check_model(model)
    return model


def write_standin(network: str, size: str, path: str | Path, seed: int = 0) -> Path:
    """Build the stand-in and save it to ``path`` with its weights inline (all stand-ins are < 2 GB)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(build_standin(network, size, seed), str(path))
    return path
