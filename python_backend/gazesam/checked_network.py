"""A network file loaded for serving: contract-checked on load and on every call, provenance known.

The one loader every runtime shares (ONNX Runtime: :mod:`gazesam.onnx_network`, PyTorch:
:mod:`gazesam.torch_network`); a runtime only says how to run the checked feeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .contracts import FRAME_SIZE, NetworkContract
from .frame_check import frame_hw_of
from .model_files import Provenance, load_checked, provenance_of


class CheckedNetwork:
    """Base of the runtimes: ``network(**inputs)`` checks dtypes and shapes, then runs :meth:`run`.

    Raises :class:`~gazesam.model_files.ModelFileError` or :class:`~gazesam.model_files.ContractError`
    at construction when the file is missing, unreadable or has the wrong interface.
    """

    def __init__(self, path: str | Path, contract: NetworkContract):
        self.path = Path(path)
        self.contract = contract
        self.provenance: Provenance = provenance_of(load_checked(self.path, contract))

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Contract output name -> array for checked ``feeds`` (contract input name -> array)."""
        raise NotImplementedError

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Run on ``inputs`` (contract input name -> array); returns contract output name -> array."""
        for spec in self.contract.inputs:
            array = inputs[spec.name]
            if array.dtype != spec.np_dtype or not spec.accepts_shape(array.shape):
                raise ValueError(
                    f"{self.contract.key}: input {spec.name!r} is {array.dtype}{list(array.shape)}, "
                    f"expected {spec.dtype}{list(spec.shape)}"
                )
            if spec == FRAME_SIZE:  # the graph sizes tensors from its values: they must be a frame's
                frame_hw_of(array)
        return self.run({spec.name: inputs[spec.name] for spec in self.contract.inputs})

    def gated(self, gate: np.ndarray, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Like calling the network, but skipped when ``gate`` (:data:`~gazesam.contracts.GATE`) is 0.

        Skipped outputs are zeros of the contract's shapes, with a dynamic axis of one.
        """
        if int(gate.reshape(-1)[0]) != 0:
            return self(**inputs)
        return {
            spec.name: np.zeros([1 if n == -1 else n for n in spec.shape], spec.np_dtype) for spec in self.contract.outputs
        }
