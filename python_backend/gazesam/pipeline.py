"""The in-process pipeline: the ensemble's graph run serially in one process, with no Triton.

It is the oracle for the end-to-end tests (the served ensemble must give the same outputs on the
same frames) and the "upstream way" baseline of the benchmarks. It loads the very model files the
server serves, from a model repository (``<repo>/<model>/1/model.onnx``).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from .contracts import ENSEMBLE_INPUTS, ENSEMBLE_OUTPUTS, network_contract
from .graph import Node, pipeline_graph
from .model_files import Provenance
from .onnx_network import OnnxNetwork
from .settings import Settings, load_settings
from .steps import python_steps
from .streams import StepInstance


def network_file(repository: Path, model: str) -> Path:
    return repository / model / "1" / "model.onnx"


class InProcessPipeline:
    """Runs one frame through every node of :func:`~gazesam.graph.pipeline_graph` in order.

    Like the server, it keeps per-stream state (viewer track, smoothing, mask hold) for every stream ID.
    """

    def __init__(self, repository: str | Path, settings: Settings | None = None, gated: bool = True):
        """``gated=False`` runs every network on every frame, as a runtime without cheap paths does."""
        self.settings = settings or load_settings()
        family = self.settings.detector.family
        self.nodes: tuple[Node, ...] = pipeline_graph(family)
        if not gated:
            self.nodes = tuple(dataclasses.replace(node, gate=None) for node in self.nodes)
        self._steps = {name: StepInstance(step, self.settings) for name, step in python_steps(family).items()}
        self._networks = {
            node.model: OnnxNetwork(network_file(Path(repository), node.model), network_contract(node.network, family))
            for node in self.nodes
            if node.network is not None
        }

    @property
    def provenance(self) -> dict[str, Provenance]:
        """Network key -> where its weights come from."""
        return {net.contract.key: net.provenance for net in self._networks.values()}

    def __call__(
        self, frame: np.ndarray, frame_time_s: float, stream_id: int = 1, start: bool = False, end: bool = False
    ) -> dict[str, np.ndarray]:
        """Process one H×W×3 uint8 BGR frame of stream ``stream_id`` at ``frame_time_s`` seconds (stream clock).

        ``start`` / ``end`` mark the stream's first and last frame, as the Triton sequence flags do.
        Returns the ensemble's outputs by name.
        """
        frame_input, time_input = ENSEMBLE_INPUTS
        tensors = {frame_input.name: frame, time_input.name: np.array([frame_time_s], time_input.np_dtype)}
        for node in self.nodes:
            inputs = {name: tensors[source] for name, source in node.inputs.items()}
            if node.network is None:
                outputs = self._steps[node.model](inputs, stream_id, start, end, time.monotonic())
            elif node.gate is None:
                outputs = self._networks[node.model](**inputs)
            else:
                outputs = self._networks[node.model].gated(tensors[node.gate], **inputs)
            tensors.update({node.outputs[name]: value for name, value in outputs.items()})
        return {spec.name: tensors[spec.name] for spec in ENSEMBLE_OUTPUTS}
