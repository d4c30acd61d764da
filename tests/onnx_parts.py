"""Pieces of the served graphs run on their own: nodes written by ``build_engines`` in a one-off model."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from build_engines.onnx_nodes import OPSET, OnnxNodes

_TYPES = {np.dtype(np.float32): onnx.TensorProto.FLOAT, np.dtype(np.uint8): onnx.TensorProto.UINT8,
          np.dtype(np.int32): onnx.TensorProto.INT32, np.dtype(np.int64): onnx.TensorProto.INT64,
          np.dtype(np.float64): onnx.TensorProto.DOUBLE, np.dtype(bool): onnx.TensorProto.BOOL}


def run_nodes(build: Callable[[OnnxNodes], object], inputs: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
    """``build(g)`` adds nodes reading ``inputs`` by name and writing ``outputs``; their values under ONNX Runtime."""
    g = OnnxNodes("part")
    build(g)
    graph = helper.make_graph(
        g.nodes, "part",
        [helper.make_tensor_value_info(n, _TYPES[v.dtype], list(v.shape)) for n, v in inputs.items()],
        [helper.make_empty_tensor_value_info(n) for n in outputs], initializer=g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip(outputs, session.run(outputs, inputs)))
