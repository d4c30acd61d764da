"""Reading a Triton request's input tensors, size-checked before any of them is read.

Used by every Python-backend adapter (``step_model``, ``network_model``). The checks themselves are the
pure functions of :mod:`gazesam.input_limits`.
"""

from __future__ import annotations

import numpy as np

from gazesam.contracts import TensorSpec
from gazesam.input_limits import InputLimitError, check_input_dtype, check_input_shape


def checked_inputs(
    request, specs: tuple[TensorSpec, ...], optional: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    """Input name -> array for every spec the request has; :class:`InputLimitError` for a missing (unless
    named in ``optional``), misshapen or oversized one.

    Every shape is checked against its spec and :func:`gazesam.input_limits.limits_for` it
    (``Tensor.shape()`` reads only the header) before any array is taken.
    ``as_numpy()`` of a CPU input is then a view of Triton's shared memory, not a copy.
    """
    sent = {tensor.name(): tensor for tensor in request.inputs()}  # one pass (pb_utils' lookup lists them per name)
    tensors = {}
    for spec in specs:
        tensor = sent.get(spec.name)
        if tensor is None and spec.name in optional:
            continue
        if tensor is None:
            raise InputLimitError(f"input {spec.name!r} is missing")
        check_input_shape(spec, tensor.shape())
        tensors[spec.name] = tensor
    arrays = {name: tensor.as_numpy() for name, tensor in tensors.items()}
    for spec in specs:
        if spec.name in arrays:
            check_input_dtype(spec, arrays[spec.name].dtype)
    return arrays
