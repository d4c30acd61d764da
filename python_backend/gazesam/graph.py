"""The ``gazesam`` pipeline as a graph of Triton models: the one description of how steps connect.

The repository generator writes the ensemble config from :func:`pipeline_graph`, and the
in-process pipeline runs the same nodes in the same order, so both compute the same outputs.

Tensor naming inside the graph: an UPPER_CASE tensor is global (``FRAME``, ``FACE_BOX``...);
a network tensor (upstream lower-case name) is qualified by its producer, ``model.tensor``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .contracts import (
    ENSEMBLE_INPUTS,
    ENSEMBLE_NAME,
    ENSEMBLE_OUTPUTS,
    JPEG_ENSEMBLE_INPUTS,
    JPEG_ENSEMBLE_NAME,
    NetworkContract,
    TensorSpec,
    network_contract,
)
from .steps import python_steps

# Triton model name of each network (key as in contracts.NETWORK_KEYS).
NETWORK_MODELS: dict[str, str] = {
    "face": "face_detector",
    "gaze": "gaze_estimator",
    "detector": "object_detector",
    "depth": "depth_estimator",
    "sam_encoder": "sam_encoder",
    "sam_decoder": "sam_decoder",
}


@dataclass(frozen=True)
class Node:
    """One composing model: where each of its inputs comes from, and what it produces."""

    model: str
    inputs: dict[str, str]  # model input name -> graph tensor name
    outputs: dict[str, str]  # model output name -> graph tensor name
    network: str | None = None  # network key when the model is a network, else None (a Python step)
    gate: str | None = None  # graph tensor that, when 0, lets a gated runtime skip this network (contracts.GATE)


def graph_tensor(model: str, tensor: str) -> str:
    """The graph-wide name of ``model``'s output ``tensor``."""
    return tensor if tensor.isupper() else f"{model}.{tensor}"


# For each model: input name -> producing model (None = a global name, "*" = any input not listed).
# Every step reads its FRAME from frame_check's VALID_FRAME: a bad frame fails once, before the fan-out
# (several steps answering one request with errors at once can wedge a Triton 2.51 ensemble).
_FRAME = {"FRAME": "VALID_FRAME"}
_WIRING: tuple[tuple[str, dict[str, str | None]], ...] = (
    ("frame_check", {"FRAME": None}),
    ("face_preprocess", _FRAME),
    ("face_detector", {"full_image": "face_preprocess"}),
    ("face_track", {**_FRAME, "bbox_det": "face_detector", "FACE_RATIO": None, "FRAME_TIME": None}),
    ("gaze_estimator", {"input": "face_track"}),
    ("detector_preprocess", _FRAME),
    ("object_detector", {"*": "detector_preprocess"}),
    ("detector_postprocess", {"*": "object_detector", "DETECTOR_TRANSFORM": None, "FRAME_HW": None}),
    ("depth_preprocess", _FRAME),
    ("depth_estimator", {"input": "depth_preprocess"}),
    ("sam_preprocess", _FRAME),
    ("sam_encoder", {"input_image": "sam_preprocess"}),
    ("gaze_fusion", {"*": None, "gaze_yaw_pitch": "gaze_estimator", "output": "depth_estimator"}),
    ("sam_decoder", {"image_embeddings": "sam_encoder", "boxes": "gaze_fusion"}),
    (
        "mask_select",
        {"*": None, "low_res_masks": "sam_decoder", "iou_predictions": "sam_decoder", "output": "depth_estimator"},
    ),
)


# Cheap paths (contracts.GATE): without a viewer no network after the face detector can matter, and
# without a box prompt the decoder cannot. Gating the detector, depth and SAM encoder on the face makes
# them wait for the (small) face detector; their pre-processing still starts at once.
_GATES = {
    "gaze_estimator": "FACE_TRACK_ID",
    "object_detector": "FACE_TRACK_ID",
    "depth_estimator": "FACE_TRACK_ID",
    "sam_encoder": "FACE_TRACK_ID",
    "sam_decoder": "PROMPT_COUNT",
}


def _model_io(model: str, detector_family: str) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    network = {m: k for k, m in NETWORK_MODELS.items()}.get(model)
    if network is not None:
        contract: NetworkContract = network_contract(network, detector_family)
        return tuple(s.name for s in contract.inputs), tuple(s.name for s in contract.outputs), network
    step = python_steps(detector_family)[model]
    return tuple(s.name for s in step.inputs), tuple(s.name for s in step.outputs), None


def pipeline_graph(detector_family: str = "yolox", jpeg: bool = False) -> tuple[Node, ...]:
    """The composing models in a valid execution order, with every input resolved to a graph tensor.

    ``jpeg``: the graph of the ``gazesam_jpeg`` ensemble, whose first step decodes a JPEG frame instead
    of checking a raw one; every later node is the same model with the same wiring.
    """
    wiring = ((("frame_decode", {}),) + _WIRING[1:]) if jpeg else _WIRING
    nodes = []
    for model, sources in wiring:
        input_names, output_names, network = _model_io(model, detector_family)
        inputs = {}
        for name in input_names:
            producer = sources.get(name, sources.get("*"))
            if producer is None or producer.isupper():  # a global tensor, by this name or the one given
                inputs[name] = producer or name
            else:
                inputs[name] = graph_tensor(producer, name)
        outputs = {name: graph_tensor(model, name) for name in output_names}
        nodes.append(Node(model, inputs, outputs, network, _GATES.get(model)))
    _check_wiring(nodes, JPEG_ENSEMBLE_INPUTS if jpeg else ENSEMBLE_INPUTS)
    return tuple(nodes)


def ensembles(detector_family: str = "yolox") -> dict[str, tuple[tuple[TensorSpec, ...], tuple[Node, ...]]]:
    """Every ensemble the repository serves: name -> (its inputs, its graph). Outputs are ENSEMBLE_OUTPUTS."""
    return {
        ENSEMBLE_NAME: (ENSEMBLE_INPUTS, pipeline_graph(detector_family)),
        JPEG_ENSEMBLE_NAME: (JPEG_ENSEMBLE_INPUTS, pipeline_graph(detector_family, jpeg=True)),
    }


def _check_wiring(nodes: list[Node], inputs: tuple[TensorSpec, ...]) -> None:
    available = {spec.name for spec in inputs}
    for node in nodes:
        missing = [t for t in [*node.inputs.values(), node.gate] if t is not None and t not in available]
        if missing:
            raise ValueError(f"{node.model} reads {missing} before anything produces them")
        available.update(node.outputs.values())
    unproduced = [spec.name for spec in ENSEMBLE_OUTPUTS if spec.name not in available]
    if unproduced:
        raise ValueError(f"ensemble outputs {unproduced} are produced by no model")
