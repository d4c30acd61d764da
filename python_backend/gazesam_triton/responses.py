"""The one per-request answer idiom of every Python-backend adapter: outputs, or this request's error."""

from __future__ import annotations

import numpy as np
import triton_python_backend_utils as pb_utils

from gazesam.contracts import TensorSpec
from gazesam.refusals import Refusal, refusal_of


def output_response(
    specs: tuple[TensorSpec, ...], outputs: dict[str, np.ndarray], passed_on: tuple[str, ...] = ()
) -> "pb_utils.InferenceResponse":
    """A response with one tensor per spec, each C-contiguous in the spec's dtype (a ``passed_on`` one only
    when ``outputs`` has it: gazesam.step.Step.passed_on)."""
    tensors = [pb_utils.Tensor(s.name, np.ascontiguousarray(outputs[s.name], dtype=s.np_dtype))
               for s in specs if s.name in outputs or s.name not in passed_on]
    return pb_utils.InferenceResponse(output_tensors=tensors)


_CODE_NAMES = {Refusal.INVALID: "INVALID_ARG", Refusal.UNAVAILABLE: "UNAVAILABLE", Refusal.INTERNAL: "INTERNAL"}


def error_response(where: str, exc: BaseException) -> "pb_utils.InferenceResponse":
    """Answer one request with ``where: exc`` and the Triton error code its kind calls for
    (:mod:`gazesam.refusals`); the other requests of the batch are served as usual.

    The stub defines ``pb_utils.TritonError`` only once a model runs (not while it auto-completes a
    config), so its codes are looked up here, not at import.
    """
    code = getattr(pb_utils.TritonError, _CODE_NAMES[refusal_of(exc)])
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(f"{where}: {exc}", code))
