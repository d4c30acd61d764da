"""One network as an ONNX Runtime CPU session (the CPU profile and the in-process pipeline)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .checked_network import CheckedNetwork
from .contracts import NetworkContract

THREADS_ENV = "GAZESAM_ORT_THREADS"
"""When set, every session's intra-op thread count (sweeps, benchmarks); otherwise the repository's choice."""
ORT_THREADS_PARAMETER = "ort_intra_op_threads"
"""The config parameter (and ``model_set.json`` entry) holding a network's intra-op threads in the CPU profile."""


def session_options(threads: int = 0) -> ort.SessionOptions:
    """The same options for the server and the in-process pipeline, so both compute the same bits.

    ``threads`` intra-op threads (0: one per core), unless THREADS_ENV overrides it. Spinning is off:
    several sessions share the cores, and spinning threads starve each other.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get(THREADS_ENV, threads))
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


class OnnxNetwork(CheckedNetwork):
    """An ONNX Runtime CPU session for one network file, with ``threads`` intra-op threads (0: one per core)."""

    runtime = "onnxruntime-cpu"

    def __init__(self, path: str | Path, contract: NetworkContract, threads: int = 0):
        super().__init__(path, contract)
        self._session = ort.InferenceSession(
            str(self.path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
        self._output_names = [spec.name for spec in contract.outputs]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self._output_names, self._session.run(self._output_names, feeds)))
