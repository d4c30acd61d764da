"""One network run by PyTorch operators (the ``pytorch`` profile), on the device its Triton instance is given.

The device is chosen once, from what Triton assigns (:func:`torch_device`): a ``KIND_GPU`` instance runs on
``cuda:<model_instance_device_id>`` and refuses to load when PyTorch sees no CUDA (a CUDA-13 build on a
CUDA-12 driver, a CPU-only build), instead of serving on the CPU; a ``KIND_CPU`` instance runs on the CPU.
TF32 for FP32 matmuls and convolutions is set explicitly (:func:`set_tf32`), never left to PyTorch's defaults
(cuDNN convolutions allow TF32 by default, matmuls do not).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .checked_network import CheckedNetwork
from .contracts import NetworkContract
from .onnx_torch import OnnxTorchGraph


class CudaUnavailable(RuntimeError):
    """The instance must run on a GPU but PyTorch here cannot use one; the message says why and what to install."""


def torch_device(kind: str, device_id: int, require_cuda: bool) -> str:
    """``"cuda:<device_id>"`` for a GPU instance (``kind`` "GPU") or when CUDA is required, else ``"cpu"``.

    Raises :class:`CudaUnavailable` when CUDA is needed and PyTorch cannot use it.
    """
    if kind != "GPU" and not require_cuda:
        return "cpu"
    if not torch.cuda.is_available():
        build = torch.version.cuda or "none (a CPU-only build)"
        raise CudaUnavailable(
            f"this instance must run on a GPU but PyTorch {torch.__version__} sees no CUDA device (its CUDA: "
            f"{build}); refusing to serve on the CPU. A CUDA-13 build needs an R580+ driver: install the CUDA-12 "
            "build (docker/Dockerfile TORCH_CUDA=12), or write the repository with --torch-device cpu"
        )
    if device_id >= torch.cuda.device_count():
        raise CudaUnavailable(f"Triton assigned GPU {device_id} but PyTorch sees {torch.cuda.device_count()} GPU(s)")
    return f"cuda:{device_id}"


def set_tf32(enabled: bool) -> None:
    """Allow (or forbid) TF32 for FP32 matmuls and cuDNN convolutions in this process."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


class TorchNetwork(CheckedNetwork):
    """The network file's graph as torch operators on ``device`` (``"cpu"``, ``"cuda:0"``, ...)."""

    def __init__(self, path: str | Path, contract: NetworkContract, device: str = "cpu", tf32: bool = False):
        super().__init__(path, contract)
        self.device = device
        if device.startswith("cuda"):
            torch.cuda.set_device(torch.device(device))
        set_tf32(tf32)
        self.runtime = f"PyTorch {torch.__version__} on {device}, TF32 {'on' if tf32 else 'off'}"
        self._graph = OnnxTorchGraph(self.path, device)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self._graph(**feeds)
        return {spec.name: np.ascontiguousarray(outputs[spec.name], dtype=spec.np_dtype) for spec in self.contract.outputs}
