"""Triton Python-backend model running one network with ONNX Runtime (the CPU profile).

The embedded Triton has no onnxruntime backend, so each network model of the CPU repository is
this adapter over :class:`gazesam.onnx_network.OnnxNetwork` and its ``1/model.onnx``. Inputs are
size-checked (:mod:`gazesam.input_limits`) before they are read.
"""

from __future__ import annotations

import json
from pathlib import Path

import triton_python_backend_utils as pb_utils

from gazesam.contracts import GATE
from gazesam.model_files import ContractError, ModelFileError
from gazesam.networks import model_set
from gazesam.onnx_network import OnnxNetwork

from .error_response import error_response
from .request_inputs import checked_inputs


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.name = config["name"]
        params = {key: value["string_value"] for key, value in config["parameters"].items()}
        path = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
        try:
            contract = model_set(params["model_set"], params["families"]).network(params["network"]).contract
            self.network = OnnxNetwork(path, contract)
        except (ModelFileError, ContractError) as exc:  # one clear line in Triton's log, not a chained trace
            raise RuntimeError(
                f"{config['name']}: {exc} Then regenerate the repository: "
                f"'python -m build_engines repository --models {params['model_set']}' (or run 'make setup')."
            ) from None
        label = self.network.provenance.label
        if label != params["provenance"]:
            raise ValueError(
                f"{path} is {label} but config.pbtxt says {params['provenance']}; "
                f"run 'python -m build_engines repository --models {params['model_set']}' again"
            )
        if self.network.provenance.standin:
            pb_utils.Logger.log_warn(
                f"{config['name']}: STAND-IN MODEL ({label}): random weights, outputs are not real results"
            )
        else:
            pb_utils.Logger.log_info(f"{config['name']}: {params['substitute']}")

    def execute(self, requests: list) -> list:
        responses = []
        for request in requests:
            try:
                inputs = checked_inputs(request, self.network.contract.inputs)
                gate = pb_utils.get_input_tensor_by_name(request, GATE.name)  # absent when not gated
                outputs = self.network(**inputs) if gate is None else self.network.gated(gate.as_numpy(), **inputs)
                tensors = [pb_utils.Tensor(name, value) for name, value in outputs.items()]
                responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            except Exception as exc:  # answer this request with the error; keep serving the rest
                responses.append(error_response(self.name, exc))
        return responses
