"""What a runtime can run of a network file, read from its graph before any server loads it.

A Triton model that fails to load takes the whole server down (``--exit-on-error``), so the repository
writer refuses, with one line, a file whose graph the chosen runtime cannot execute. TensorRT plugin
operators get an ONNX schema here, so files that use them can still be checked and converted.
"""

from __future__ import annotations

from pathlib import Path

import onnx

TENSORRT_PLUGIN_SUFFIX = "_TRT"
"""TensorRT plugin operators (e.g. ``EfficientNMS_TRT``) carry this suffix; only TensorRT runs them."""


def node_op_types(path: str | Path) -> list[tuple[str, str]]:
    """(op type, node name) of every node of the ONNX file at ``path``, in graph order."""
    graph = onnx.load(str(path), load_external_data=False).graph
    return [(node.op_type, node.name) for node in graph.node]


def tensorrt_plugin_ops(path: str | Path) -> list[str]:
    """The TensorRT-plugin operator types the graph uses (sorted, each once)."""
    return sorted({op for op, _ in node_op_types(path) if op.endswith(TENSORRT_PLUGIN_SUFFIX)})


def register_trt_plugin_schemas() -> None:
    """Teach ONNX the ``EfficientNMS_TRT`` TensorRT plugin (domain "", as super-gradients emits it).

    Without a schema ``onnx.checker`` rejects any unknown op in the default domain and the version converter fails
    on it (an upstream export older than the served forms' opset is converted). The schema has no shape
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
