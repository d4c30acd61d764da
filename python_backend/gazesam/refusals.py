"""What kind of answer an error is: the request's fault, no capacity now, or the server's own failure.

Bad input (a frame, a timestamp, a tensor's shape, a stream the server does not run) is the client's to
fix: invalid-argument (gRPC INVALID_ARGUMENT, HTTP 400). A full server is worth waiting for: unavailable
(gRPC UNAVAILABLE, HTTP 503; Triton 2.51's Python backend has no resource-exhausted code). Anything else
is the server's own failure: internal (gRPC INTERNAL, HTTP 500).
"""

from __future__ import annotations

import enum

from .admission import MissingStreamIdError, StreamLimitError, UnknownStreamError
from .frame_check import FrameError
from .input_limits import InputLimitError


class Refusal(enum.Enum):
    INVALID = "invalid argument"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


_INVALID = (FrameError, InputLimitError, UnknownStreamError, MissingStreamIdError)


def refusal_of(exc: BaseException) -> Refusal:
    """The kind of answer ``exc`` (raised while serving a request) calls for."""
    if isinstance(exc, StreamLimitError):
        return Refusal.UNAVAILABLE
    return Refusal.INVALID if isinstance(exc, _INVALID) else Refusal.INTERNAL
