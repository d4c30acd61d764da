"""Triton Python-backend model running one network in PyTorch (the ``pytorch`` repository profile).

The network is ``1/model.onnx`` executed with torch operators (:class:`gazesam.torch_network.TorchNetwork`)
on the device Triton gives this instance: ``KIND_GPU`` -> ``cuda:<model_instance_device_id>``, ``KIND_CPU``
-> the CPU. With the config parameter ``require_cuda: "1"`` an instance without CUDA fails to load (one line
in the server log) instead of serving on the CPU; ``tf32`` says whether FP32 layers may use TF32.
"""

from __future__ import annotations

from pathlib import Path

from gazesam.contracts import NetworkContract
from gazesam.torch_network import TorchNetwork, torch_device

from .network_model import NetworkModel


class TritonPythonModel(NetworkModel):
    def open(self, path: Path, contract: NetworkContract, args: dict, params: dict[str, str]) -> TorchNetwork:
        device = torch_device(args.get("model_instance_kind", "CPU"), int(args.get("model_instance_device_id", 0)),
                              params.get("require_cuda", "0") == "1")
        return TorchNetwork(path, contract, device, tf32=params.get("tf32", "off") == "on")
