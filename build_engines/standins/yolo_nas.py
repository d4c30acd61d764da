"""YOLO-NAS-M-like detector stand-ins, in the two super-gradients export flavours (ONNX Runtime NMS, TensorRT NMS).

Both share the detector core and the pre-NMS top-k; the TensorRT flavour ends in an ``EfficientNMS_TRT`` plugin
node, whose schema ``graph_ops.register_trt_plugin_schemas`` teaches the ONNX checker.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from gazesam.contracts import NetworkContract

from ..graph_ops import register_trt_plugin_schemas
from .blocks import csp
from .graph_builder import GraphBuilder

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


def _yolo_nas_core(g: GraphBuilder, size: str, image: str, side: int) -> tuple[str, str]:
    """YOLO-NAS-like detector up to decoded predictions: uint8 [1,3,640,640] → (boxes [1,A,4], scores [1,A,80]).

    uint8 → float /255 in-graph; CSP backbone of RepVGG-style (fused) 3×3 blocks at strides 8/16/32
    (full: widths 96-192-384-768, depths 2-3-5-2 after a stride-2 stem; tiny: stride-4 stem, widths 8-16-32-64),
    PAN neck (deconv up, conv down, CSP merges), decoupled heads with DFL box regression (17 bins → ltrb
    distances × stride around anchor centres), sigmoid class scores. A = 80²+40²+20² = 8400. Boxes are xyxy in
    input pixels.
    """
    reg_bins, classes = 17, 80
    x = g.scale(g.op("Cast", [image], to=TensorProto.FLOAT), 1.0 / 255.0)
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
        x = csp(g, x, width, width, depth, int(width * ratio))
        cin = width
        feats.append((x, width))
    (p3, c3), (p4, c4), (p5, c5) = feats[-3:]

    # PAN neck
    lat5 = g.conv(p5, c5, c4, 1, act="relu")
    f4 = csp(g, g.concat([g.conv_transpose(lat5, c4, c4, 2, 2), p4], axis=1), 2 * c4, c4, neck_depth, c4 * 2 // 3)
    lat4 = g.conv(f4, c4, c3, 1, act="relu")
    out3 = csp(g, g.concat([g.conv_transpose(lat4, c3, c3, 2, 2), p3], axis=1), 2 * c3, c3, neck_depth, c3 * 2 // 3)
    down3 = g.conv(out3, c3, c3, 3, stride=2, act="relu")
    out4 = csp(g, g.concat([down3, lat4], axis=1), 2 * c3, c4, neck_depth, c4 // 2)
    down4 = g.conv(out4, c4, c4, 3, stride=2, act="relu")
    out5 = csp(g, g.concat([down4, lat5], axis=1), 2 * c4, c5, neck_depth, c5 // 2)

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


def build_yolo_nas_ort(g: GraphBuilder, size: str, c: NetworkContract) -> str:
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


def build_yolo_nas_trt(g: GraphBuilder, size: str, c: NetworkContract) -> str:
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
