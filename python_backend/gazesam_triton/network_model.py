"""The Triton Python-backend adapter shared by every network runtime (CPU ONNX Runtime, PyTorch).

It loads ``1/model.onnx`` through the runtime's :class:`~gazesam.checked_network.CheckedNetwork`
(contract check), refuses a file whose provenance differs from the config's, logs one line naming the
family (or a STAND-IN warning), and answers each request on its own. Inputs are size-checked
(:mod:`gazesam.input_limits`) before they are read. With ``max_batch_size > 0`` (dynamic batching) the
requests Triton hands over together are stacked on their frame axis, run once, and split back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from gazesam.checked_network import CheckedNetwork
from gazesam.contracts import GATE, NetworkContract
from gazesam.model_files import ContractError, ModelFileError
from gazesam.networks import model_set

from .request_inputs import checked_inputs
from .responses import error_response, output_response


class NetworkModel:
    """Base of ``onnx_model`` and ``torch_model``: a runtime subclass only implements :meth:`open`."""

    def open(self, path: Path, contract: NetworkContract, args: dict, params: dict[str, str]) -> CheckedNetwork:
        """The network at ``path``; ``args`` are Triton's (instance kind, device id), ``params`` the config's."""
        raise NotImplementedError

    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        params = {key: value["string_value"] for key, value in config["parameters"].items()}
        self.params = params
        self.name = config["name"]
        path = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
        regenerate = f"'python -m build_engines repository --models {params['model_set']} --profile {params['profile']}'"
        try:
            contract = model_set(params["model_set"], params["families"]).network(params["network"]).contract
            self.network = self.open(path, contract, args, params)
        except (ModelFileError, ContractError) as exc:  # one clear line in Triton's log, not a chained trace
            raise RuntimeError(f"{self.name}: {exc} Then regenerate the repository: {regenerate} "
                               "(or run 'make setup').") from None
        label = self.network.provenance.label
        if label != params["provenance"]:
            raise ValueError(f"{path} is {label} but config.pbtxt says {params['provenance']}; run {regenerate} again")
        self.batched = int(config.get("max_batch_size", 0)) > 0
        runtime = getattr(self.network, "runtime", params["runtime"])
        if self.network.provenance.standin:
            pb_utils.Logger.log_warn(f"{self.name}: STAND-IN MODEL ({label}): random weights, outputs are not real results")
        pb_utils.Logger.log_info(f"{self.name}: {params['substitute']} ({runtime}, {params['precision']})")

    def execute(self, requests: list) -> list:
        if self.batched and len(requests) > 1:
            return self._execute_stacked(requests)
        return [self._respond(request) for request in requests]

    def _respond(self, request) -> "pb_utils.InferenceResponse":
        contract = self.network.contract
        try:
            inputs = checked_inputs(request, (*contract.inputs, GATE), optional=(GATE.name,))
            gate = inputs.pop(GATE.name, None)  # absent when not gated
            outputs = self.network(**inputs) if gate is None else self.network.gated(gate, **inputs)
            return output_response(contract.outputs, outputs)
        except Exception as exc:  # answer this request with the error; keep serving the rest
            return error_response(self.name, exc)

    def _execute_stacked(self, requests: list) -> list:
        """One call for all ``requests`` (frame axis 0 stacked); a bad request is answered alone with its error."""
        contract = self.network.contract
        checked: list[dict[str, np.ndarray] | Exception] = []
        for request in requests:
            try:
                checked.append(checked_inputs(request, contract.inputs))
            except Exception as exc:
                checked.append(exc)
        good = [inputs for inputs in checked if not isinstance(inputs, Exception)]
        try:
            stacked = {spec.name: np.concatenate([g[spec.name] for g in good]) for spec in contract.inputs}
            outputs = self.network(**stacked) if good else {}
        except Exception as exc:
            return [error_response(self.name, exc) for _ in requests]
        bounds = np.cumsum([0] + [len(next(iter(g.values()))) for g in good])
        parts = iter(zip(bounds[:-1], bounds[1:]))
        responses = []
        for inputs in checked:
            if isinstance(inputs, Exception):
                responses.append(error_response(self.name, inputs))
                continue
            begin, end = next(parts)
            responses.append(output_response(contract.outputs, {k: v[begin:end] for k, v in outputs.items()}))
        return responses
