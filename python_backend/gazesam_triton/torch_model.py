"""Triton Python-backend model running one network in PyTorch (the ``pytorch`` repository profile).

The network is ``1/model.onnx`` (contract-checked on load) executed with torch operators
(:mod:`gazesam_triton.onnx_torch`), on CUDA when PyTorch sees a GPU, else on the CPU; the server log
says which. With ``max_batch_size > 0`` (dynamic batching, SAM encoder) the requests Triton hands over
together are stacked on their frame axis, run once, and split back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import triton_python_backend_utils as pb_utils

from gazesam.networks import model_set
from gazesam.model_files import ContractError, ModelFileError, load_checked, provenance_of

from .onnx_torch import OnnxTorchGraph
from .error_response import error_response
from .request_inputs import checked_inputs


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.name = config["name"]
        params = {key: value["string_value"] for key, value in config["parameters"].items()}
        path = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
        self.contract = model_set(params["model_set"], params["families"]).network(params["network"]).contract
        try:
            provenance = provenance_of(load_checked(path, self.contract))
        except (ModelFileError, ContractError) as exc:
            raise RuntimeError(f"{config['name']}: {exc} Then regenerate the repository.") from None
        if provenance.label != params["provenance"]:
            raise ValueError(f"{path} is {provenance.label} but config.pbtxt says {params['provenance']}; "
                             "run 'python -m build_engines repository --profile pytorch' again")
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.graph = OnnxTorchGraph(path, device)
        self.batched = int(config.get("max_batch_size", 0)) > 0
        pb_utils.Logger.log_info(f"{config['name']}: PyTorch {torch.__version__} on {device}, {params['precision']}")
        if provenance.standin:
            pb_utils.Logger.log_warn(
                f"{config['name']}: STAND-IN MODEL ({provenance.label}): random weights, outputs are not real results"
            )

    def _run(self, inputs: dict[str, np.ndarray]) -> list:
        outputs = self.graph(**inputs)
        return [pb_utils.Tensor(spec.name, np.ascontiguousarray(outputs[spec.name], dtype=spec.np_dtype))
                for spec in self.contract.outputs]

    def execute(self, requests: list) -> list:
        if self.batched and len(requests) > 1:
            return self._execute_stacked(requests)
        responses = []
        for request in requests:
            try:
                responses.append(pb_utils.InferenceResponse(output_tensors=self._run(
                    checked_inputs(request, self.contract.inputs))))
            except Exception as exc:  # answer this request with the error; keep serving the rest
                responses.append(error_response(self.name, exc))
        return responses

    def _execute_stacked(self, requests: list) -> list:
        """One call for all ``requests`` (frame axis 0 stacked); a bad request is answered alone with its error."""
        checked: list[dict[str, np.ndarray] | Exception] = []
        for request in requests:
            try:
                checked.append(checked_inputs(request, self.contract.inputs))
            except Exception as exc:
                checked.append(exc)
        good = [inputs for inputs in checked if not isinstance(inputs, Exception)]
        if not good:  # every request was refused: each keeps its own error
            return [error_response(self.name, exc) for exc in checked]
        sizes = [len(next(iter(inputs.values()))) for inputs in good]
        try:
            stacked = {spec.name: np.concatenate([g[spec.name] for g in good]) for spec in self.contract.inputs}
            outputs = self.graph(**stacked)
        except Exception as exc:
            return [error_response(self.name, exc) for _ in requests]
        bounds = np.cumsum([0] + sizes)
        parts = iter(range(len(good)))
        responses = []
        for inputs in checked:
            if isinstance(inputs, Exception):
                responses.append(error_response(self.name, inputs))
                continue
            k = next(parts)
            tensors = [pb_utils.Tensor(spec.name, np.ascontiguousarray(
                outputs[spec.name][bounds[k]:bounds[k + 1]], dtype=spec.np_dtype)) for spec in self.contract.outputs]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses
