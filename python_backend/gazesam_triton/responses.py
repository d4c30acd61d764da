"""The one per-request answer idiom of every Python-backend adapter: outputs, or this request's error."""

from __future__ import annotations

import numpy as np
import triton_python_backend_utils as pb_utils

from gazesam.contracts import TensorSpec


def output_response(specs: tuple[TensorSpec, ...], outputs: dict[str, np.ndarray]) -> "pb_utils.InferenceResponse":
    """A response with one tensor per spec, each C-contiguous in the spec's dtype."""
    tensors = [pb_utils.Tensor(s.name, np.ascontiguousarray(outputs[s.name], dtype=s.np_dtype)) for s in specs]
    return pb_utils.InferenceResponse(output_tensors=tensors)


def error_response(where: str, exc: Exception) -> "pb_utils.InferenceResponse":
    """Answer one request with ``where: exc``; the other requests of the batch are served as usual."""
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(f"{where}: {exc}"))
