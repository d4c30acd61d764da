"""ONNX operators after a network's own graph: the tensor-shaped post-processing of its family.

What stays in Python is what is not tensor math: score thresholds with NMS and the mapping back to the
frame (the face and object detectors' decoders), tracking, fusion and selection. Each function mirrors a
numpy function it replaces, named in its docstring.
"""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto

from gazesam.contracts import TensorSpec
from gazesam.depth import DEPTH_SCALE, FASTDEPTH_MIN_DEPTH_M
from gazesam.detector import grid_anchors
from gazesam.geometry import ResizeRule

from .input_graphs import rule_geometry
from .onnx_nodes import OnnxNodes


def grid_decode(g: OnnxNodes, raw: str, input_hw: tuple[int, int], outputs: tuple[TensorSpec, ...]) -> None:
    """YOLOX-style head [1, A, 5 + C] -> ``outputs`` boxes [1, A, 4] (x1, y1, x2, y2 input pixels), scores
    [1, A] (objectness x best class score) and, when a third spec is given, classes int32 [1, A] (best class).

    ``gazesam.detector.decode_grid_boxes`` and the score/class part of ``decode_yolox`` / ``face.decode_faces``.
    """
    anchors = grid_anchors(input_hw)[None]  # [1, A, 3]: gx, gy, stride
    grid, stride = g.const(anchors[..., :2]), g.const(anchors[..., 2:])
    axis = g.i64(2)
    xy = g.op("Slice", raw, g.i64(0), g.i64(2), axis)
    wh = g.op("Slice", raw, g.i64(2), g.i64(4), axis)
    centre = g.op("Mul", g.op("Add", xy, grid), stride)
    half = g.op("Div", g.op("Mul", g.op("Exp", wh), stride), g.const(np.float32(2)))
    g.op("Concat", g.op("Sub", centre, half), g.op("Add", centre, half), axis=2, out=outputs[0].name)
    objectness = g.op("Squeeze", g.op("Slice", raw, g.i64(4), g.i64(5), axis), axis)
    classes = g.op("Slice", raw, g.i64(5), g.i64(2**62), axis)
    g.op("Mul", objectness, g.op("ReduceMax", classes, axis, keepdims=0), out=outputs[1].name)
    if len(outputs) > 2:
        g.cast(g.op("ArgMax", classes, axis=2, keepdims=0), TensorProto.INT32, out=outputs[2].name)


def counted_rows(g: OnnxNodes, count: str, boxes: str, scores: str, classes: str, outputs: tuple[TensorSpec, ...]) -> None:
    """NMS-in-graph detectors (YOLO-NAS): rows at or beyond ``count`` get score -1, classes become int32.

    What ``gazesam.detector.parse_yolo_nas`` read with ``num``: only the first ``count`` rows are detections.
    """
    rows = g.op("Range", g.const(np.int64(0)), g.op("Gather", g.op("Shape", scores), g.const(np.int64(1))),
                g.const(np.int64(1)))
    valid = g.op("Less", g.op("Unsqueeze", rows, g.i64(0)), g.i64_of(g.op("Reshape", count, g.i64(1, 1))))
    g.op("Identity", boxes, out=outputs[0].name)
    g.op("Where", valid, scores, g.const(np.float32(-1)), out=outputs[1].name)
    g.cast(classes, TensorProto.INT32, out=outputs[2].name)


def nearness_map(g: OnnxNodes, raw: str, map_hw: tuple[int, int], metric: bool, output: TensorSpec) -> None:
    """Depth output [1, 1, h, w] -> ``output`` float32 (h, w): nearness scaled per frame onto 0..DEPTH_SCALE.

    ``metric`` (FastDepth, metres): nearness ``1 / max(d, 0.1 m)`` first (``depth.fastdepth_nearness``;
    NaN counts as infinitely far). Then ``depth.normalize_depth``: min-max scaled, zeros if constant or not finite.
    """
    depth = g.op("Reshape", raw, g.i64(*map_hw))
    if metric:
        far = g.op("Where", g.op("IsNaN", depth), g.const(np.float32(np.inf)), depth)
        depth = g.op("Div", g.const(np.float32(1)), g.op("Max", far, g.const(np.float32(FASTDEPTH_MIN_DEPTH_M))))
    low, high = g.op("ReduceMin", depth, keepdims=0), g.op("ReduceMax", depth, keepdims=0)
    finite = g.op("Not", g.op("Or", g.op("Or", g.op("IsNaN", low), g.op("IsInf", low)),
                              g.op("Or", g.op("IsNaN", high), g.op("IsInf", high))))
    ok = g.op("And", finite, g.op("Greater", high, low))
    # the factor in float64, as numpy's DEPTH_SCALE / (high - low) on Python floats, then float32
    factor = g.f32(g.op("Div", g.const(np.float64(DEPTH_SCALE)), g.op("Sub", g.f64(high), g.f64(low))))
    scaled = g.op("Mul", g.op("Sub", depth, low), factor)
    g.op("Where", ok, scaled, g.const(np.zeros(map_hw, np.float32)), out=output.name)


def masks_to_frame(g: OnnxNodes, logits: str, frame_hw: str, prompt_rule: ResizeRule, output: TensorSpec) -> None:
    """Decoder logits [N, 1, s, s] -> ``output`` bool [N, H, W] (logit > 0) (``gazesam.sam.upscale_masks``).

    Bilinear to the prompt frame's canvas, cropped to the frame's content there (``prompt_rule``), bilinear to H x W.
    """
    content_hw, _ = rule_geometry(g, prompt_rule, frame_hw)
    leading = g.op("Slice", g.op("Shape", logits), g.i64(0), g.i64(2))
    square = g.op("Resize", logits, "", "", g.op("Concat", leading, g.i64(*prompt_rule.input_hw), axis=0),
                  mode="linear", coordinate_transformation_mode="half_pixel")
    content = g.op("Slice", square, g.i64(0, 0), content_hw, g.i64(2, 3))
    full = g.op("Resize", content, "", "", g.op("Concat", leading, g.i64_of(frame_hw), axis=0),
                mode="linear", coordinate_transformation_mode="half_pixel")
    g.op("Squeeze", g.op("Greater", full, g.const(np.float32(0))), g.i64(1), out=output.name)


def all_finite(g: OnnxNodes, x: str) -> str:
    """bool 0-D: no element of ``x`` is NaN or infinite."""
    bad = g.cast(g.op("Or", g.op("IsNaN", x), g.op("IsInf", x)), TensorProto.INT32)
    return g.op("Not", g.op("Greater", g.op("ReduceMax", bad, keepdims=0), g.const(np.int32(0))))


def _atan2(g: OnnxNodes, y: str, x: str) -> str:
    """atan2(y, x) of 0-D tensors (C's quadrant rules; atan2(0, 0) = 0)."""
    pi, zero = g.const(np.float32(math.pi)), g.const(np.float32(0))
    base = g.op("Atan", g.op("Div", y, x))  # inf/NaN where x = 0: never selected there
    left = g.op("Where", g.op("GreaterOrEqual", y, zero), g.op("Add", base, pi), g.op("Sub", base, pi))
    axis = g.op("Where", g.op("Greater", y, zero), g.const(np.float32(math.pi / 2)),
                g.op("Where", g.op("Less", y, zero), g.const(np.float32(-math.pi / 2)), zero))
    return g.op("Where", g.op("Greater", x, zero), base, g.op("Where", g.op("Less", x, zero), left, axis))


def gaze_vector_angles(g: OnnxNodes, vector: str, roll: str, valid: str, output: TensorSpec) -> None:
    """OMZ ``gaze_vector`` [1, 3] from roll-aligned eyes -> ``output`` [1, 2] yaw, pitch radians (L2CS
    convention); zeros when the vector is not finite or zero, or ``valid`` (bool 0-D) is false.

    ``gazesam.omz_gaze.gaze_vector_to_yaw_pitch`` with ``roll`` (0-D radians of the alignment).
    """
    v = g.op("Reshape", vector, g.i64(3))
    x, y, z = (g.scalar(v, i) for i in range(3))
    cos, sin = g.op("Cos", roll), g.op("Sin", roll)
    x, y = (g.op("Add", g.op("Mul", x, cos), g.op("Mul", y, sin)),
            g.op("Add", g.op("Neg", g.op("Mul", x, sin)), g.op("Mul", y, cos)))
    norm = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", v, v), keepdims=0))
    x, y, z = (g.op("Div", c, norm) for c in (x, y, z))
    yaw = _atan2(g, g.op("Neg", x), g.op("Neg", z))
    pitch = g.op("Asin", g.op("Clip", y, g.const(np.float32(-1)), g.const(np.float32(1))))
    ok = g.op("And", g.op("And", valid, all_finite(g, v)), g.op("Greater", norm, g.const(np.float32(0))))
    angles = g.op("Reshape", g.op("Concat", g.op("Unsqueeze", yaw, g.i64(0)), g.op("Unsqueeze", pitch, g.i64(0)), axis=0),
                  g.i64(1, 2))
    g.op("Where", ok, angles, g.const(np.zeros((1, 2), np.float32)), out=output.name)
