"""The in-process pipeline: the ensemble's graph run serially in one process, with no Triton.

It is the oracle for the end-to-end tests (the served ensemble must give the same outputs on the
same frames) and the "upstream way" baseline of the benchmarks. It loads the very model files the
server serves, from a model repository (``<repo>/<model>/1/model.onnx``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from .admission import AdmissionPolicy
from .contracts import ENSEMBLE, NetworkContract
from .graph import Node, pipeline_graph
from .model_files import ModelFileError, Provenance
from .networks import ModelSet, model_set
from .onnx_network import ORT_THREADS_PARAMETER, OnnxNetwork
from .settings import Settings, load_settings
from .steps import python_steps
from .streams import StepInstance

MODEL_SET_FILE = "model_set.json"
"""Written by the repository generator beside the models: which model set and families it serves."""


def network_file(repository: Path, model: str) -> Path:
    return repository / model / "1" / "model.onnx"


def _repository_record(repository: str | Path) -> dict:
    path = Path(repository) / MODEL_SET_FILE
    if not path.is_file():
        raise ModelFileError(f"{path} is missing: generate the repository with 'python -m build_engines repository'")
    return json.loads(path.read_text())


def repository_model_set(repository: str | Path) -> ModelSet:
    """The model set a generated repository serves (from its ``model_set.json``)."""
    record = _repository_record(repository)
    return model_set(record["model_set"], record["families"])


class PipelineNetwork(Protocol):
    """What the pipeline needs of a network: its contract, provenance, a call and a gated call."""

    contract: NetworkContract
    provenance: Provenance

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]: ...

    def gated(self, gate: np.ndarray, **inputs: np.ndarray) -> dict[str, np.ndarray]: ...


class InProcessPipeline:
    """Runs one frame through every node of :func:`~gazesam.graph.pipeline_graph` in order.

    Like the server, it keeps per-stream state (viewer track, smoothing, mask hold) for every stream ID.
    """

    def __init__(self, repository: str | Path, settings: Settings | None = None, gated: bool | None = None):
        """``gated``: whether networks skip frames whose result cannot matter; default: as the repository's
        profile does (``gates`` in its ``model_set.json``). ``False`` runs every network on every frame.

        ``settings`` default: the settings file fitted to the repository's model set.
        """
        record = _repository_record(repository)
        self.model_set = model_set(record["model_set"], record["families"])
        gated = record.get("gates", True) if gated is None else gated
        self.settings = settings or load_settings(model_set=self.model_set)
        if self.settings.model_set is None:
            self.settings = dataclasses.replace(self.settings, model_set=self.model_set)
        self.nodes: tuple[Node, ...] = pipeline_graph(self.model_set)
        if not gated:
            self.nodes = tuple(dataclasses.replace(node, gate=None) for node in self.nodes)
        steps = python_steps(self.model_set)
        policy = AdmissionPolicy.from_parameters(record["admission"]) if "admission" in record else None
        self._steps = {node.model: StepInstance(steps[node.model], self.settings, policy) for node in self.nodes
                       if node.network is None}
        threads = {model: int(entry.get(ORT_THREADS_PARAMETER, 0)) for model, entry in record.get("networks", {}).items()}
        self._networks: dict[str, PipelineNetwork] = {  # the server's sessions, threads as its configs say
            node.model: OnnxNetwork(network_file(Path(repository), node.model), self.model_set.network(node.network).contract,
                                    threads.get(node.model, 0))
            for node in self.nodes
            if node.network is not None
        }

    @property
    def networks(self) -> Mapping[str, PipelineNetwork]:
        """Triton model name -> the network the pipeline runs for it (read only)."""
        return dict(self._networks)

    def wrap_networks(self, wrap: Callable[[PipelineNetwork], PipelineNetwork]) -> dict[str, PipelineNetwork]:
        """Replace each network by ``wrap(network)`` (same protocol); returns network key -> its wrapper."""
        self._networks = {model: wrap(network) for model, network in self._networks.items()}
        return {network.contract.key: network for network in self._networks.values()}

    @property
    def stream_admission(self) -> AdmissionPolicy:
        """The admission its repository was written with (the serving config's ``[streams]``)."""
        (admitting,) = [step.admission for step in self._steps.values() if step.admission is not None]
        return admitting.policy

    @property
    def provenance(self) -> dict[str, Provenance]:
        """Triton model name of each network -> where its weights come from."""
        return {model: net.provenance for model, net in self._networks.items()}

    def __call__(
        self, frame: np.ndarray, frame_time_s: float, stream_id: int = 1, start: bool = False, end: bool = False
    ) -> dict[str, np.ndarray]:
        """Process one H×W×3 uint8 BGR frame of stream ``stream_id`` at ``frame_time_s`` seconds (stream clock).

        ``start`` / ``end`` mark the stream's first and last frame, as the Triton sequence flags do.
        Returns the ensemble's outputs by name.
        """
        tensors = self.trace(frame, frame_time_s, stream_id, start, end)
        return {spec.name: tensors[spec.name] for spec in ENSEMBLE.outputs}

    def trace(
        self, frame: np.ndarray, frame_time_s: float, stream_id: int = 1, start: bool = False, end: bool = False
    ) -> dict[str, np.ndarray]:
        """Like calling the pipeline, but returns every global tensor of the graph (detections, prompts, ...)."""
        frame_input, time_input = ENSEMBLE.inputs
        tensors = {frame_input.name: frame, time_input.name: np.array([frame_time_s], time_input.np_dtype)}
        for node in self.nodes:
            inputs = {name: tensors[source] for name, source in node.inputs.items()}
            if node.network is None:
                outputs = self._steps[node.model](inputs, stream_id, start, end, time.monotonic())
            elif node.gate is None:
                outputs = self._networks[node.model](**inputs)
            else:
                outputs = self._networks[node.model].gated(tensors[node.gate], **inputs)
            tensors.update({node.outputs[name]: value for name, value in outputs.items() if name in node.outputs})
        return tensors

    def run_network(self, model: str, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run network ``model`` alone on global ``tensors`` (e.g. from :meth:`trace`); its outputs by global name."""
        node = next(n for n in self.nodes if n.model == model and n.network is not None)
        outputs = self._networks[model](**{name: tensors[source] for name, source in node.inputs.items()})
        return {node.outputs[name]: value for name, value in outputs.items() if name in node.outputs}
