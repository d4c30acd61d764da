"""The in-process pipeline: the ensemble's graph run serially in one process, with no Triton.

It is the oracle for the end-to-end tests (the served ensemble must give the same outputs on the
same frames) and the "upstream way" baseline of the benchmarks. It loads the very model files the
server serves, from a model repository (``<repo>/<model>/1/model.onnx``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .contracts import ENSEMBLE_INPUTS, ENSEMBLE_OUTPUTS, network_contract
from .graph import Node, pipeline_graph
from .model_files import Provenance
from .onnx_network import OnnxNetwork
from .settings import Settings, load_settings
from .steps import python_steps


def network_file(repository: Path, model: str) -> Path:
    return repository / model / "1" / "model.onnx"


class InProcessPipeline:
    """Runs one frame through every node of :func:`~gazesam.graph.pipeline_graph` in order."""

    def __init__(self, repository: str | Path, settings: Settings | None = None):
        self.settings = settings or load_settings()
        family = self.settings.detector.family
        self.nodes: tuple[Node, ...] = pipeline_graph(family)
        self._steps = python_steps(family)
        self._networks = {
            node.model: OnnxNetwork(network_file(Path(repository), node.model), network_contract(node.network, family))
            for node in self.nodes
            if node.network is not None
        }

    @property
    def provenance(self) -> dict[str, Provenance]:
        """Network key -> where its weights come from."""
        return {net.contract.key: net.provenance for net in self._networks.values()}

    def __call__(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        """Process one H×W×3 uint8 BGR frame; returns the ensemble's outputs by name."""
        tensors: dict[str, np.ndarray] = {ENSEMBLE_INPUTS[0].name: frame}
        for node in self.nodes:
            inputs = {name: tensors[source] for name, source in node.inputs.items()}
            if node.network is not None:
                outputs = self._networks[node.model](**inputs)
            else:
                outputs = self._steps[node.model].run(self.settings, **inputs)
            tensors.update({node.outputs[name]: value for name, value in outputs.items()})
        return {spec.name: tensors[spec.name] for spec in ENSEMBLE_OUTPUTS}
