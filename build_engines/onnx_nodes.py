"""A small writer of ONNX nodes: operators and constants under one name prefix, in the order they are added.

The served graphs' pre- and post-processing (:mod:`build_engines.input_graphs`) is written with it and then
spliced around a network's own graph (:mod:`build_engines.served_forms`); the prefix keeps every added name
apart from the network's.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

OPSET = 19
"""Default-domain opset of every served graph: GridSample (16) and Resize's cubic/align-corners modes are
needed, and 19 is the newest opset of the published files (the OMZ conversions); older files are converted."""


class OnnxNodes:
    """Operators and initializers named ``<prefix>/<hint>_<n>``; :meth:`op` returns the output name(s)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{self.prefix}/{hint}_{self._count}"

    def const(self, value, dtype: str | np.dtype | None = None, hint: str = "const") -> str:
        """An initializer holding ``value`` (a scalar or array; ``dtype`` default: numpy's choice)."""
        array = np.asarray(value, dtype=dtype)
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def i64(self, *values: int) -> str:
        """A 1-D int64 constant: axes, shapes, indices."""
        return self.const(np.array(values, np.int64), hint="i64")

    def op(self, op_type: str, *inputs: str, outputs: int = 1, out: str | None = None, **attrs) -> str | list[str]:
        """Add one ``op_type`` node on ``inputs`` ("" = an omitted optional input); its output name(s).

        ``out`` names the (single) output explicitly, e.g. a tensor the network's own graph reads.
        """
        names = [out] if out is not None else [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=self.name(op_type), **attrs))
        return names[0] if outputs == 1 else names

    def cast(self, x: str, dtype: int, out: str | None = None) -> str:
        return self.op("Cast", x, to=dtype, out=out)

    def f64(self, x: str) -> str:
        return self.cast(x, onnx.TensorProto.DOUBLE)

    def f32(self, x: str) -> str:
        return self.cast(x, onnx.TensorProto.FLOAT)

    def i64_of(self, x: str) -> str:
        return self.cast(x, onnx.TensorProto.INT64)

    def take(self, x: str, index: int, axis: int = 0) -> str:
        """Element ``index`` of ``x`` along ``axis``, keeping the axis (a 1-element slice)."""
        return self.op("Slice", x, self.i64(index), self.i64(index + 1), self.i64(axis))

    def scalar(self, x: str, index: int) -> str:
        """Element ``index`` of a 1-D ``x`` as a 0-D tensor."""
        return self.op("Gather", x, self.const(np.int64(index)), axis=0)
