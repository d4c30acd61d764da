"""Triton Python-backend model running one network with ONNX Runtime on the CPU (the CPU profile).

The embedded Triton has no onnxruntime backend, so each network model of the CPU repository is this
adapter over :class:`gazesam.onnx_network.OnnxNetwork` and its ``1/model.onnx``.
"""

from __future__ import annotations

from pathlib import Path

from gazesam.contracts import NetworkContract
from gazesam.onnx_network import ORT_THREADS_PARAMETER, OnnxNetwork

from .network_model import NetworkModel


class TritonPythonModel(NetworkModel):
    def open(self, path: Path, contract: NetworkContract, args: dict, params: dict[str, str]) -> OnnxNetwork:
        """The session with the intra-op threads the repository chose for this machine (its config)."""
        return OnnxNetwork(path, contract, int(params.get(ORT_THREADS_PARAMETER, "0")))
