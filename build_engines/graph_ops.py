"""What a runtime can run of a network file, read from its graph before any server loads it.

A Triton model that fails to load takes the whole server down (``--exit-on-error``), so the repository
writer refuses, with one line, a file whose graph the chosen runtime cannot execute.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from gazesam.model_files import ContractError

TENSORRT_PLUGIN_SUFFIX = "_TRT"
"""TensorRT plugin operators (e.g. ``EfficientNMS_TRT``) carry this suffix; only TensorRT runs them."""


def node_op_types(path: str | Path) -> list[tuple[str, str]]:
    """(op type, node name) of every node of the ONNX file at ``path``, in graph order."""
    graph = onnx.load(str(path), load_external_data=False).graph
    return [(node.op_type, node.name) for node in graph.node]


def tensorrt_plugin_ops(path: str | Path) -> list[str]:
    """The TensorRT-plugin operator types the graph uses (sorted, each once)."""
    return sorted({op for op, _ in node_op_types(path) if op.endswith(TENSORRT_PLUGIN_SUFFIX)})


def refuse_tensorrt_plugins(path: str | Path, network: str, runtime: str) -> None:
    """ContractError naming the operators when ``runtime`` (an ONNX Runtime one) meets TensorRT plugins."""
    plugins = tensorrt_plugin_ops(path)
    if plugins:
        raise ContractError(
            f"{network} ({Path(path).name}) uses the TensorRT plugin(s) {', '.join(plugins)}, which {runtime} "
            "cannot run; choose the family's ONNX Runtime flavour (--family detector=yolo_nas_ort), whose "
            "standard NonMaxSuppression every profile runs, TensorRT included"
        )
