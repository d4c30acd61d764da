"""Triton Python-backend model running one network with ONNX Runtime on the CPU (the CPU profile).

The embedded Triton has no onnxruntime backend, so each network model of the CPU repository is this
adapter over :class:`gazesam.onnx_network.OnnxNetwork` and its ``1/model.onnx``.
"""

from __future__ import annotations

from pathlib import Path

from gazesam.contracts import NetworkContract
from gazesam.onnx_network import OnnxNetwork

from .network_model import NetworkModel


class TritonPythonModel(NetworkModel):
    def open(self, path: Path, contract: NetworkContract, args: dict, params: dict[str, str]) -> OnnxNetwork:
        return OnnxNetwork(path, contract)
