"""Looking inside a served form: what the network's own graph receives and returns on given served inputs.

``FormProbe(path, network)(**served_inputs)`` runs the served file once with the network's own inputs and
outputs (``Network.core``) exposed beside the served outputs, so the prepended pre-processing can be
compared with its cv2 reference and the appended post-processing with its numpy one (tests,
``perf/compare_inputs.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from gazesam.networks import Network
from gazesam.onnx_network import session_options


class FormProbe:
    """The served file at ``path`` of ``network``, with its core tensors as extra outputs."""

    def __init__(self, path: str | Path, network: Network):
        model = onnx.load(str(path))
        core = network.own_contract
        served_outputs = {v.name for v in model.graph.output}
        for spec in core.inputs + core.outputs:
            if spec.name not in served_outputs:
                model.graph.output.append(onnx.helper.make_empty_tensor_value_info(spec.name))
        self.network = network
        self._session = ort.InferenceSession(model.SerializeToString(), session_options(),
                                             providers=["CPUExecutionProvider"])
        self._names = [o.name for o in self._session.get_outputs()]

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Served outputs and the core's inputs and outputs, by name, for the served ``inputs``."""
        feeds = {spec.name: inputs[spec.name] for spec in self.network.contract.inputs}
        return dict(zip(self._names, self._session.run(self._names, feeds)))
