"""One network as an ONNX Runtime session, checked against its contract on load and on every call."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .contracts import NetworkContract
from .model_files import Provenance, load_checked, provenance_of

THREADS_ENV = "GAZESAM_ORT_THREADS"


def session_options() -> ort.SessionOptions:
    """The same options for the server and the in-process pipeline, so both compute the same bits.

    Spinning is off: several sessions share two cores, and spinning threads starve each other.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get(THREADS_ENV, "0"))
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


class OnnxNetwork:
    """An ONNX Runtime CPU session for one network file.

    Raises :class:`~gazesam.model_files.ModelFileError` or :class:`~gazesam.model_files.ContractError`
    at construction when the file is missing, unreadable or has the wrong interface.
    """

    def __init__(self, path: str | Path, contract: NetworkContract):
        self.path = Path(path)
        self.contract = contract
        self.provenance: Provenance = provenance_of(load_checked(self.path, contract))
        self._session = ort.InferenceSession(
            str(self.path), sess_options=session_options(), providers=["CPUExecutionProvider"]
        )
        self._output_names = [spec.name for spec in contract.outputs]

    def gated(self, gate: np.ndarray, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Like calling the network, but skipped when ``gate`` (:data:`~gazesam.contracts.GATE`) is 0.

        Skipped outputs are zeros of the contract's shapes, with a dynamic axis of one.
        """
        if int(gate.reshape(-1)[0]) != 0:
            return self(**inputs)
        return {
            spec.name: np.zeros([1 if n == -1 else n for n in spec.shape], spec.np_dtype) for spec in self.contract.outputs
        }

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Run on ``inputs`` (contract input name -> array); returns contract output name -> array."""
        for spec in self.contract.inputs:
            array = inputs[spec.name]
            if array.dtype != spec.np_dtype or not spec.accepts_shape(array.shape):
                raise ValueError(
                    f"{self.contract.key}: input {spec.name!r} is {array.dtype}{list(array.shape)}, "
                    f"expected {spec.dtype}{list(spec.shape)}"
                )
        feeds = {spec.name: inputs[spec.name] for spec in self.contract.inputs}
        results = self._session.run(self._output_names, feeds)
        return dict(zip(self._output_names, results))
