"""An error answer for one request, with the Triton error code its kind calls for (:mod:`gazesam.refusals`)."""

from __future__ import annotations

import triton_python_backend_utils as pb_utils

from gazesam.refusals import Refusal, refusal_of

_CODE_NAMES = {Refusal.INVALID: "INVALID_ARG", Refusal.UNAVAILABLE: "UNAVAILABLE", Refusal.INTERNAL: "INTERNAL"}


def error_response(model: str, exc: BaseException) -> "pb_utils.InferenceResponse":
    """``model: message`` as the answer to the request that raised ``exc``.

    The stub defines ``pb_utils.TritonError`` only once a model runs (not while it auto-completes a
    config), so its codes are looked up here, not at import.
    """
    code = getattr(pb_utils.TritonError, _CODE_NAMES[refusal_of(exc)])
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(f"{model}: {exc}", code))
