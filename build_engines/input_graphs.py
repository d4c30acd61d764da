"""ONNX operators that make a network's input from the frame: a family's :class:`~gazesam.frame_input.FrameInput`
(resize, letterbox or pad, colour order, normalisation, layout) and the square window crops of the gaze chain.

Geometry is computed inside the graph from the image's size, in float64 so that every content size and
offset equals :meth:`gazesam.geometry.ResizeRule.of` exactly (Python's floats are float64; a float32
rule would be off by one pixel on about 6 % of frame sizes). Resampling follows the family's cv2
reference: ``linear`` is ONNX ``Resize`` with half-pixel centres (cv2's INTER_LINEAR formula, edge taps
clamped); ``cubic`` is cv2's INTER_CUBIC (a = -0.75, half-pixel, edge taps clamped) as four weighted
gathers per axis; ``area`` is cv2's INTER_AREA computed exactly from a cumulative sum (each output pixel
the mean over its footprint: the integral image differenced at the footprint's edges, which a linear
``Resize`` with aligned corners samples); window crops are ``GridSample`` at the output pixels' centres
(cv2 ``warpAffine``, which rounds positions to 1/32 pixel). Results are rounded to whole 0..255 values,
as cv2's uint8 images are (cv2's own fixed-point weights leave about one pixel in ten one level apart).
"""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto

from gazesam.contracts import TensorSpec
from gazesam.frame_input import FrameInput
from gazesam.geometry import ResizeRule

from .onnx_nodes import OnnxNodes

NHWC, NCHW = "nhwc", "nchw"
_CHANNEL_AXIS = {NHWC: 3, NCHW: 1}
_SPATIAL_AXES = {NHWC: (1, 2), NCHW: (2, 3)}
_TO_NCHW, _TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)
_ONNX_TYPES = {"float32": TensorProto.FLOAT, "uint8": TensorProto.UINT8}
_GRID_LIMIT = 3.0
"""Window-crop grid coordinates are clipped to +-3 (normalised): every tap is then outside the image for
zero padding, or clamped to its edge for border padding, exactly as for any farther point."""


def layout_of(spec: TensorSpec) -> str:
    """``nchw`` for a [N, 3, H, W] image tensor, ``nhwc`` for [N, H, W, 3]."""
    if len(spec.shape) == 4 and spec.shape[1] == 3:
        return NCHW
    if len(spec.shape) == 4 and spec.shape[3] == 3:
        return NHWC
    raise ValueError(f"{spec.name} {list(spec.shape)} is not an image tensor [N, 3, H, W] or [N, H, W, 3]")


# --- geometry ---------------------------------------------------------------------------------------


def rule_geometry(g: OnnxNodes, rule: ResizeRule, image_hw: str) -> tuple[str, str]:
    """``rule.of(image_hw)`` in ONNX: content size int64 [2] (h, w) and canvas pads int64 [4] (top, left,
    bottom, right), from ``image_hw`` (int32 or int64 [2])."""
    hw = g.f64(image_hw)
    canvas = g.const(np.array(rule.input_hw, np.float64))

    def f64(value: float) -> str:
        return g.const(np.float64(value))

    def centred(content: str) -> str:
        return g.op("Floor", g.op("Div", g.op("Sub", canvas, content), f64(2.0)))

    if rule.kind == "stretch":
        content, offset = canvas, g.const(np.zeros(2, np.float64))
    elif rule.kind == "letterbox_top_left":  # r = min(h/H, w/W); content max(1, int(side * r)) at (0, 0)
        ratio = g.op("ReduceMin", g.op("Div", canvas, hw), keepdims=0)
        content, offset = g.op("Max", g.op("Floor", g.op("Mul", hw, ratio)), f64(1.0)), g.const(np.zeros(2, np.float64))
    elif rule.kind == "letterbox_centred":  # content min(canvas, max(1, round(side * s))), centred (floor)
        scale = g.op("ReduceMin", g.op("Div", canvas, hw), keepdims=0)
        content = g.op("Min", canvas, g.op("Max", f64(1.0), g.op("Round", g.op("Mul", hw, scale))))
        offset = centred(content)
    else:  # longest_side: s = side / max(H, W); content int(side * s + 0.5)
        scale = g.op("Div", f64(rule.side), g.op("ReduceMax", hw, keepdims=0))
        content = g.op("Floor", g.op("Add", g.op("Mul", hw, scale), f64(0.5)))
        offset = centred(content) if rule.centred else g.const(np.zeros(2, np.float64))
    after = g.op("Sub", g.op("Sub", canvas, content), offset)
    return g.i64_of(content), g.i64_of(g.op("Concat", offset, after, axis=0))


# --- resampling -------------------------------------------------------------------------------------


def _sizes(g: OnnxNodes, content_hw: str, layout: str) -> str:
    if layout == NHWC:
        return g.op("Concat", g.i64(1), content_hw, g.i64(3), axis=0)
    return g.op("Concat", g.i64(1, 3), content_hw, axis=0)


def resize_linear(g: OnnxNodes, x: str, content_hw: str, layout: str) -> str:
    """cv2 INTER_LINEAR: half-pixel centres, no antialiasing."""
    return g.op("Resize", x, "", "", _sizes(g, content_hw, layout), mode="linear",
                coordinate_transformation_mode="half_pixel")


CUBIC_A = -0.75
"""cv2's (and ONNX Resize's default-cubic) kernel parameter."""


def _cubic_axis(g: OnnxNodes, x: str, axis: int, length: str, target: str) -> str:
    """INTER_CUBIC along NHWC ``axis`` from ``length`` to ``target`` (int64 [1] each), as four gathers.

    cv2's formula: source ``s = (j + 0.5) * length / target - 0.5`` (float32), taps ``floor(s) - 1 .. + 2``
    clamped to the edge, weights ``interpolateCubic`` with a = -0.75. ONNX Runtime's cubic ``Resize`` is the
    same formula but about 20x slower on a whole frame, and NHWC only when enlarging.
    """
    ratio = g.f32(g.op("Div", g.f64(length), g.f64(target)))
    positions = g.f32(g.op("Range", g.const(np.int64(0)), g.op("Squeeze", target, g.i64(0)), g.const(np.int64(1))))
    source = g.op("Sub", g.op("Mul", g.op("Add", positions, g.const(np.float32(0.5))), ratio), g.const(np.float32(0.5)))
    first = g.op("Floor", source)
    t = g.op("Sub", source, first)
    a, one, two = (g.const(np.float32(v)) for v in (CUBIC_A, 1.0, 2.0))
    t1, u = g.op("Add", t, one), g.op("Sub", one, t)
    w0 = g.op("Sub", g.op("Mul", g.op("Add", g.op("Mul", g.op("Sub", g.op("Mul", a, t1), g.op("Mul", g.const(np.float32(5)), a)),
                                                  t1), g.op("Mul", g.const(np.float32(8)), a)), t1),
              g.op("Mul", g.const(np.float32(4)), a))

    def near(d: str) -> str:  # ((a + 2) d - (a + 3)) d^2 + 1, for |d| <= 1
        return g.op("Add", g.op("Mul", g.op("Mul", g.op("Sub", g.op("Mul", g.op("Add", a, two), d), g.op("Add", a, g.const(np.float32(3)))), d), d), one)

    w1, w2 = near(t), near(u)
    w3 = g.op("Sub", g.op("Sub", g.op("Sub", one, w0), w1), w2)
    last = g.op("Sub", g.op("Squeeze", length, g.i64(0)), g.const(np.int64(1)))
    shape = [1, 1, 1, 1]
    shape[axis] = -1
    total = None
    for offset, weight in zip((-1, 0, 1, 2), (w0, w1, w2, w3)):
        index = g.i64_of(g.op("Add", first, g.const(np.float32(offset))))
        index = g.op("Min", g.op("Max", index, g.const(np.int64(0))), last)
        term = g.op("Mul", g.op("Gather", x, index, axis=axis), g.op("Reshape", weight, g.i64(*shape)))
        total = term if total is None else g.op("Add", total, term)
    return total


def resize_cubic(g: OnnxNodes, x_nhwc: str, image_hw: str, content_hw: str) -> str:
    """cv2 INTER_CUBIC of an NHWC image: rows (whole-row gathers, the cheap axis), then columns."""
    hw = g.i64_of(image_hw)
    rows = _cubic_axis(g, x_nhwc, 1, g.take(hw, 0), g.take(content_hw, 0))
    return _cubic_axis(g, rows, 2, g.take(hw, 1), g.take(content_hw, 1))


def _area_axis(g: OnnxNodes, x: str, axis: int, length: str, target: str) -> str:
    """INTER_AREA along NHWC ``axis`` (1 rows, 2 columns) from ``length`` to ``target`` (int64 [1] each)."""
    pads = g.i64(*[1 if a == axis else 0 for a in range(4)], 0, 0, 0, 0)
    integral = g.op("CumSum", g.op("Pad", x, pads), g.const(np.int64(axis)))  # [0, p0, p0 + p1, ...]
    shape = g.op("Shape", integral)
    sizes = g.op("Concat", *[g.op("Add", target, g.i64(1)) if a == axis else g.take(shape, a) for a in range(4)], axis=0)
    edges = g.op("Resize", integral, "", "", sizes, mode="linear", coordinate_transformation_mode="align_corners")
    ends = g.op("Slice", edges, g.i64(1), g.i64(2**62), g.i64(axis))
    starts = g.op("Slice", edges, g.i64(0), g.i64(-1), g.i64(axis))
    footprint = g.op("Div", g.f32(length), g.f32(target))
    return g.op("Div", g.op("Sub", ends, starts), footprint)


def resize_area(g: OnnxNodes, x_nhwc: str, image_hw: str, content_hw: str) -> str:
    """cv2 INTER_AREA of an NHWC image: rows, then columns (exact where both shrink, as cv2's own area path)."""
    hw = g.i64_of(image_hw)
    rows = _area_axis(g, x_nhwc, 1, g.take(hw, 0), g.take(content_hw, 0))
    return _area_axis(g, rows, 2, g.take(hw, 1), g.take(content_hw, 1))


# --- a family's input from an image ------------------------------------------------------------------


def _resized(g: OnnxNodes, image: str, image_hw: str, spec: FrameInput, content_hw: str) -> tuple[str, str]:
    """The image resized to its content (NHWC), rounded to 0..255, and the layout it is in."""
    x = g.op("Unsqueeze", g.f32(image), g.i64(0))  # [1, H, W, 3]
    method = spec.interpolation
    if method == "linear":
        y = resize_linear(g, x, content_hw, NHWC)
    elif method == "area":
        y = resize_area(g, x, image_hw, content_hw)
    elif method == "cubic":
        y = resize_cubic(g, x, image_hw, content_hw)
    else:  # upstream L2CS: INTER_AREA when the image shrinks, else INTER_CUBIC
        canvas = g.const(np.array(spec.rule.input_hw, np.int64))
        shrinks = g.op("ReduceMax", g.cast(g.op("Greater", g.i64_of(image_hw), canvas), TensorProto.INT64), keepdims=0)
        y = g.op("Where", g.cast(shrinks, TensorProto.BOOL), resize_area(g, x, image_hw, content_hw),
                 resize_cubic(g, x, image_hw, content_hw))
    return g.op("Clip", g.op("Round", y), g.const(np.float32(0)), g.const(np.float32(255))), NHWC


def _pad(g: OnnxNodes, x: str, pads: str, value: float, layout: str) -> str:
    return g.op("Pad", x, pads, g.const(np.float32(value)), g.i64(*_SPATIAL_AXES[layout]), mode="constant")


def _per_channel(values: tuple[float, ...], layout: str) -> np.ndarray:
    shape = (1, 1, 1, 3) if layout == NHWC else (1, 3, 1, 1)
    return np.asarray(values, np.float32).reshape(shape)


def image_input(g: OnnxNodes, image: str, image_hw: str, spec: FrameInput, target: TensorSpec) -> str:
    """``target`` (a network's image input, written under its own name) from ``image`` uint8 [H, W, 3] BGR
    of size ``image_hw`` (int32/int64 [2]) as ``spec`` says."""
    content_hw, pads = rule_geometry(g, spec.rule, image_hw)
    x, layout = _resized(g, image, image_hw, spec, content_hw)
    padded = spec.rule.kind != "stretch"
    if padded and not spec.pad_normalised:
        x = _pad(g, x, pads, spec.pad, layout)
    if spec.colour == "rgb":
        x = g.op("Gather", x, g.i64(2, 1, 0), axis=_CHANNEL_AXIS[layout])
    if spec.normalises:
        x = g.op("Div", x, g.const(np.float32(spec.divisor)))
        x = g.op("Div", g.op("Sub", x, g.const(_per_channel(spec.mean, layout))), g.const(_per_channel(spec.std, layout)))
    if padded and spec.pad_normalised:
        x = _pad(g, x, pads, spec.pad, layout)
    wanted = layout_of(target)
    if wanted != layout:
        x = g.op("Transpose", x, perm=_TO_NCHW if wanted == NCHW else _TO_NHWC)
    return g.cast(x, _ONNX_TYPES[target.dtype], out=target.name)


# --- square windows of the frame (gaze chain) ---------------------------------------------------------


def finite_or_zero(g: OnnxNodes, x: str) -> str:
    """``x`` with NaN and infinities replaced by 0 (a graph must never index with them)."""
    bad = g.op("Or", g.op("IsNaN", x), g.op("IsInf", x))
    return g.op("Where", bad, g.const(np.float32(0)), x)


def box_corner_size(g: OnnxNodes, box: str) -> tuple[str, str, str, str]:
    """(4,) ``x1, y1, x2, y2`` (made finite) -> 0-D ``x1, y1, w, h``."""
    b = finite_or_zero(g, box)
    x1, y1, x2, y2 = (g.scalar(b, i) for i in range(4))
    return x1, y1, g.op("Sub", x2, x1), g.op("Sub", y2, y1)


def sample_window(g: OnnxNodes, frame: str, centre_x: str, centre_y: str, side: str, out_side: int, mode: str,
                  padding: str, angle: str | None = None) -> str:
    """float32 [1, 3, out, out] BGR: the frame's square window of ``side`` px about the centre (0-D each),
    rotated by ``angle`` (0-D radians; None: upright), sampled at the output pixels' centres with
    GridSample ``mode`` ("bilinear" | "bicubic") and ``padding`` ("zeros" | "border": cv2's constant 0 or
    replicated border), rounded to 0..255.

    Output pixel ``(j, i)`` reads the frame at ``centre + side / out * R(angle) @ (j + 0.5 - out/2, i + 0.5 - out/2)``
    (continuous coordinates: pixel ``(c, r)`` covers ``[c, c + 1) x [r, r + 1)``). Only the window's bounding
    region of the frame (two pixels more for the cubic taps) is converted to float and sampled.
    """
    offsets = np.arange(out_side, dtype=np.float32) + 0.5 - out_side / 2.0
    u, v = g.const(offsets.reshape(1, -1)), g.const(offsets.reshape(-1, 1))  # columns j, rows i
    step = g.op("Div", side, g.const(np.float32(out_side)))
    cos, sin = ((g.op("Cos", angle), g.op("Sin", angle)) if angle is not None
                else (g.const(np.float32(1)), g.const(np.float32(0))))
    xs = g.op("Add", centre_x, g.op("Mul", step, g.op("Sub", g.op("Mul", cos, u), g.op("Mul", sin, v))))
    ys = g.op("Add", centre_y, g.op("Mul", step, g.op("Add", g.op("Mul", sin, u), g.op("Mul", cos, v))))
    shape = g.f32(g.op("Shape", frame))
    height, width = g.scalar(shape, 0), g.scalar(shape, 1)
    (x0, x1), (y0, y1) = (_region(g, coords, size) for coords, size in ((xs, width), (ys, height)))
    region = g.op("Slice", frame, g.i64_of(g.op("Concat", g.op("Unsqueeze", y0, g.i64(0)), g.op("Unsqueeze", x0, g.i64(0)), axis=0)),
                  g.i64_of(g.op("Concat", g.op("Unsqueeze", y1, g.i64(0)), g.op("Unsqueeze", x1, g.i64(0)), axis=0)),
                  g.i64(0, 1))
    image = g.op("Unsqueeze", g.op("Transpose", g.f32(region), perm=(2, 0, 1)), g.i64(0))
    limit_low, limit_high = g.const(np.float32(-_GRID_LIMIT)), g.const(np.float32(_GRID_LIMIT))
    two, one = g.const(np.float32(2)), g.const(np.float32(1))

    def normalised(coords: str, start: str, end: str) -> str:  # align_corners=0: -1 and 1 are the region's outer edges
        n = g.op("Sub", g.op("Div", g.op("Mul", two, g.op("Sub", coords, start)), g.op("Sub", end, start)), one)
        return g.op("Unsqueeze", g.op("Clip", n, limit_low, limit_high), g.i64(-1))

    grid = g.op("Unsqueeze", g.op("Concat", normalised(xs, x0, x1), normalised(ys, y0, y1), axis=-1), g.i64(0))
    sampled = g.op("GridSample", image, grid, mode=mode, padding_mode=padding, align_corners=0)
    return g.op("Clip", g.op("Round", sampled), g.const(np.float32(0)), g.const(np.float32(255)))


def _region(g: OnnxNodes, coords: str, size: str) -> tuple[str, str]:
    """Start and end (float 0-D, whole pixels) of the frame span that every tap at ``coords`` reads."""
    start = g.op("Sub", g.op("Floor", g.op("ReduceMin", coords, keepdims=0)), g.const(np.float32(2)))
    start = g.op("Min", g.op("Max", start, g.const(np.float32(0))), g.op("Sub", size, g.const(np.float32(1))))
    end = g.op("Add", g.op("Ceil", g.op("ReduceMax", coords, keepdims=0)), g.const(np.float32(3)))
    end = g.op("Min", g.op("Max", end, g.op("Add", start, g.const(np.float32(1)))), size)
    return start, end


def box_crop(g: OnnxNodes, frame: str, box: str) -> str:
    """The frame's pixels of the (4,) inclusive box (``gazesam.gaze.crop_face``), at least one pixel:
    columns ``floor(x1)..floor(x2)`` clamped by the width, rows by the height."""
    b = g.op("Floor", finite_or_zero(g, box))
    shape = g.op("Shape", frame)
    hw = g.f32(g.op("Slice", shape, g.i64(0), g.i64(2)))  # H, W
    low = g.op("Min", g.op("Max", g.op("Gather", b, g.i64(1, 0)), g.const(np.zeros(2, np.float32))),
               g.op("Sub", hw, g.const(np.ones(2, np.float32))))  # top, left
    high = g.op("Min", g.op("Add", g.op("Gather", b, g.i64(3, 2)), g.const(np.ones(2, np.float32))), hw)
    high = g.op("Max", high, g.op("Add", low, g.const(np.ones(2, np.float32))))
    return g.op("Slice", frame, g.i64_of(low), g.i64_of(high), g.i64(0, 1))


def degrees_to_radians(g: OnnxNodes, degrees: str, sign: float = 1.0) -> str:
    return g.op("Mul", degrees, g.const(np.float32(sign * math.pi / 180.0)))
