"""Size limits on the tensors a model accepts, checked from the shape alone, before anything is allocated.

Every composing model of the ensemble can also be called directly by a client, so each Python-backend
model checks its inputs against their :class:`~gazesam.contracts.TensorSpec` and a size limit before it
reads them or allocates outputs sized from them: a request whose tensors would exhaust memory gets an
error instead of the server.

Limits derive from the contracts (:func:`limits_for`): a frame (uint8 ``[H, W, 3]``) is bounded by the
bytes of the largest documented frame (``frame_check`` then validates its sides with its own message);
an encoded frame (``JPEG_FRAME``) by ``MAX_JPEG_BYTES`` (its decoder checks the header's size itself);
a network's tensor has dynamic axes only for an image batch (1) or a box-prompt count, so at most
``MAX_PROMPTS``; any other dynamic axis is a frame side or a detection count, at most ``MAX_FRAME_SIDE``.
No other tensor of any model exceeds the bytes of the largest documented frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .contracts import ENSEMBLE, JPEG_ENSEMBLE, MAX_FRAME_SIDE, MAX_JPEG_BYTES, MAX_PROMPTS, PROMPT_MASKS, TensorSpec
from .networks import all_networks

MAX_FRAME_BYTES = MAX_FRAME_SIDE * MAX_FRAME_SIDE * 3
"""Bytes of the largest documented frame (uint8 H×W×3): the largest tensor any model takes."""


class InputLimitError(ValueError):
    """An input tensor's dtype, shape or size is outside what its model accepts; the message says which."""


@dataclass(frozen=True)
class InputLimits:
    """``max_dynamic_axis``: the largest size of any -1 axis; ``max_bytes``: the largest tensor in bytes."""

    max_dynamic_axis: int
    max_bytes: int


FRAME_LIMITS = InputLimits(max_dynamic_axis=MAX_FRAME_BYTES, max_bytes=MAX_FRAME_BYTES)
ENCODED_FRAME_LIMITS = InputLimits(max_dynamic_axis=MAX_JPEG_BYTES, max_bytes=MAX_JPEG_BYTES)
NETWORK_TENSOR_LIMITS = InputLimits(max_dynamic_axis=MAX_PROMPTS, max_bytes=MAX_FRAME_BYTES)
STEP_TENSOR_LIMITS = InputLimits(max_dynamic_axis=MAX_FRAME_SIDE, max_bytes=MAX_FRAME_BYTES)
PROMPT_MASK_LIMITS = InputLimits(max_dynamic_axis=MAX_FRAME_SIDE, max_bytes=MAX_PROMPTS * MAX_FRAME_SIDE * MAX_FRAME_SIDE)
"""The decoder's frame-sized masks (``PROMPT_MASKS``, bool N x H x W): at most MAX_PROMPTS of the largest frame."""

_FRAME = ENSEMBLE.inputs[0]
_ENCODED_FRAME = JPEG_ENSEMBLE.inputs[0]
_NETWORK_TENSORS = {
    spec
    for network in all_networks()
    for spec in network.contract.inputs + network.contract.outputs
} | {  # the same tensors under their global names, as the steps beside the networks read them (MASK_IOU)
    network.global_spec(tensor)
    for network in all_networks()
    for tensor in network.tensors
}


def limits_for(spec: TensorSpec) -> InputLimits:
    """The limits of an input tensor of ``spec``: a frame's, a network tensor's, or a step tensor's."""
    if (spec.dtype, spec.shape) == (_FRAME.dtype, _FRAME.shape):
        return FRAME_LIMITS
    if spec == _ENCODED_FRAME:
        return ENCODED_FRAME_LIMITS
    if (spec.dtype, spec.shape) == (PROMPT_MASKS.dtype, PROMPT_MASKS.shape):
        return PROMPT_MASK_LIMITS
    if spec in _NETWORK_TENSORS:
        return NETWORK_TENSOR_LIMITS
    return STEP_TENSOR_LIMITS


def check_input_shape(spec: TensorSpec, shape: Sequence[int], limits: InputLimits | None = None) -> None:
    """Raise :class:`InputLimitError` unless ``shape`` fits ``spec`` (rank, static axes) and ``limits``
    (default: :func:`limits_for` ``spec``).

    Uses Python integers throughout, so absurd shapes (say 2**40 per axis) cannot overflow the check.
    """
    limits = limits or limits_for(spec)
    shape = tuple(int(d) for d in shape)
    expected = f"{spec.name!r} must be {spec.dtype}{list(spec.shape)} (-1 = any)"
    if len(shape) != len(spec.shape):
        raise InputLimitError(f"{expected}; got rank {len(shape)} {list(shape)}")
    for axis, (want, got) in enumerate(zip(spec.shape, shape)):
        if got < 0:
            raise InputLimitError(f"{expected}; got negative axis {axis}: {list(shape)}")
        if want != -1 and got != want:
            raise InputLimitError(f"{expected}; got {list(shape)} (axis {axis} must be {want})")
        if want == -1 and got > limits.max_dynamic_axis:
            raise InputLimitError(
                f"{expected}; got {list(shape)}: axis {axis} exceeds the limit {limits.max_dynamic_axis}"
            )
    size = math.prod(shape) * spec.np_dtype.itemsize
    if size > limits.max_bytes:
        raise InputLimitError(f"{expected}; got {list(shape)} = {size} bytes, over the limit {limits.max_bytes}")


def check_input_dtype(spec: TensorSpec, dtype: np.dtype) -> None:
    """Raise :class:`InputLimitError` unless ``dtype`` is ``spec``'s dtype."""
    if np.dtype(dtype) != spec.np_dtype:
        raise InputLimitError(f"{spec.name!r} must be {spec.dtype}; got {np.dtype(dtype)}")
