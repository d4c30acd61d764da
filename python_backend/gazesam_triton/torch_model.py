"""Triton Python-backend model running one network in PyTorch (the ``pytorch`` repository profile).

The network is ``1/model.onnx`` executed with torch operators (:class:`gazesam.torch_network.TorchNetwork`),
on CUDA when PyTorch sees a GPU, else on the CPU; the server log says which.
"""

from __future__ import annotations

from pathlib import Path

from gazesam.contracts import NetworkContract
from gazesam.torch_network import TorchNetwork

from .network_model import NetworkModel


class TritonPythonModel(NetworkModel):
    def open(self, path: Path, contract: NetworkContract) -> TorchNetwork:
        return TorchNetwork(path, contract)
