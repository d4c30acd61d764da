"""Triton Python-backend adapter for a :class:`gazesam.steps.Step`: Triton tensors in, numpy out.

Each request is answered on its own: a bad request gets an error response naming the problem,
and the other requests of the batch are unaffected. Stateful steps run under Triton's sequence
batcher: the request's correlation ID names its stream, its flags mark the stream's start and end.
Every request also updates the pipeline's metrics (:mod:`gazesam.pipeline_metrics`).
"""

from __future__ import annotations

import json
import time

import triton_python_backend_utils as pb_utils

from gazesam.admission import AdmissionPolicy
from gazesam.networks import model_set
from gazesam.pipeline_metrics import initial_updates, step_updates
from gazesam.settings import load_settings
from gazesam.steps import python_steps
from gazesam.streams import StepInstance

from .request_inputs import checked_inputs
from .responses import error_response, output_response
from .step_metrics import StepMetrics

_START = pb_utils.TRITONSERVER_REQUEST_FLAG_SEQUENCE_START
_END = pb_utils.TRITONSERVER_REQUEST_FLAG_SEQUENCE_END


def _respond(instance: StepInstance, metrics: StepMetrics, request) -> "pb_utils.InferenceResponse":
    step = instance.step
    outputs, error = None, None
    try:
        inputs = checked_inputs(request, step.inputs, step.optional_input_names)  # sizes checked before any read
        flags = request.flags()
        outputs = instance(inputs, request.correlation_id(), bool(flags & _START), bool(flags & _END), time.monotonic())
        response = output_response(step.outputs, outputs, step.passed_on)
    except Exception as exc:  # answer this request with the error; keep serving the rest
        outputs, error = None, exc
        response = error_response(step.name, exc)
    metrics.apply(step_updates(step, instance.tracked, outputs, error))
    return response


def _policy(config: dict, params: dict[str, str]) -> AdmissionPolicy:
    """The admission the repository was written with: the admitting step's parameters; a stateful step keeps
    a silent stream as long as its sequence batcher does."""
    if "max_streams" in params:
        return AdmissionPolicy.from_parameters(params)
    idle_us = int(config.get("sequence_batching", {}).get("max_sequence_idle_microseconds", 0))
    return AdmissionPolicy(slot_hold_s=idle_us / 1e6) if idle_us else AdmissionPolicy()


class TritonPythonModel:
    """Serves the step named like the model (Triton passes ``model_name``), of the config's model set."""

    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        params = {key: value["string_value"] for key, value in config["parameters"].items()}
        served = model_set(params["model_set"], params["families"])
        self.settings = load_settings(model_set=served)
        self.instance = StepInstance(python_steps(served)[args["model_name"]], self.settings, _policy(config, params))
        self.metrics = StepMetrics(initial_updates(self.instance.step))

    def execute(self, requests: list) -> list:
        return [_respond(self.instance, self.metrics, request) for request in requests]
