"""One network run by PyTorch operators (the ``pytorch`` profile), on CUDA when PyTorch sees a GPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .checked_network import CheckedNetwork
from .contracts import NetworkContract
from .onnx_torch import OnnxTorchGraph


class TorchNetwork(CheckedNetwork):
    """The network file's graph as torch operators on ``device`` (default: CUDA if available, else CPU)."""

    def __init__(self, path: str | Path, contract: NetworkContract, device: str | None = None):
        super().__init__(path, contract)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.runtime = f"PyTorch {torch.__version__} on {self.device}"
        self._graph = OnnxTorchGraph(self.path, self.device)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self._graph(**feeds)
        return {spec.name: np.ascontiguousarray(outputs[spec.name], dtype=spec.np_dtype) for spec in self.contract.outputs}
