"""The ``gazesam`` pipeline as a graph of Triton models, derived from who produces each tensor.

Every tensor between models has one global name (UPPER_CASE): a Python step reads the tensors its
function's parameters name and writes the ones it declares; a network's own tensor names are mapped
onto global names once, in the registry (:mod:`gazesam.networks`). The wiring follows: each input comes
from the one model that produces that name. The repository generator writes the ensemble config from
:func:`pipeline_graph`, and the in-process pipeline runs the same nodes in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

from .contracts import ENSEMBLE, JPEG_ENSEMBLE, TensorSpec
from .networks import ModelSet, Network
from .steps import python_steps

FIRST_STEP = "frame_check"
"""Both ensembles' first step: it checks (or decodes) the frame once, before the branches fan out
(several steps answering one request with errors at once can wedge a Triton 2.51 ensemble), and
admits streams with one table for both (:mod:`gazesam.admission`)."""


@dataclass(frozen=True)
class Node:
    """One composing model: the global tensor behind each of its inputs and outputs."""

    model: str
    inputs: dict[str, str]  # model input name -> global tensor name
    outputs: dict[str, str]  # model output name -> global tensor name
    network: str | None = None  # network key when the model is a network, else None (a Python step)
    gate: str | None = None  # global tensor that, when 0, lets a gated runtime skip this network (contracts.GATE)


def _network_node(network: Network) -> Node:
    unmapped = [s.name for s in network.contract.inputs if s.name not in network.tensors]
    if unmapped:
        raise ValueError(f"{network.model}: inputs {unmapped} have no global name in the registry")
    outputs = {s.name: network.tensors[s.name] for s in network.contract.outputs if s.name in network.tensors}
    inputs = {s.name: network.tensors[s.name] for s in network.contract.inputs}
    return Node(network.model, inputs, outputs, network.key, network.gate)


def _candidate_nodes(model_set: ModelSet, ensemble_inputs: set[str]) -> list[Node]:
    """Every model's node; a step's optional inputs are mapped only where the ensemble has them, the outputs
    it passes on only where the ensemble does not."""
    nodes = [
        Node(name, {n: n for n in step.input_names if n not in step.optional_input_names or n in ensemble_inputs},
             {n: n for n in step.output_names if n not in step.passed_on or n not in ensemble_inputs})
        for name, step in python_steps(model_set).items()
    ]
    return nodes + [_network_node(network) for network in model_set.networks]


def _in_dependency_order(nodes: list[Node], available: set[str]) -> list[Node]:
    """``nodes`` so that each comes after the producers of its inputs (ties keep the given order)."""
    producers: dict[str, str] = {}
    for node in nodes:
        for tensor in node.outputs.values():
            if tensor in producers or tensor in available:
                raise ValueError(f"tensor {tensor} is produced by both {producers.get(tensor, 'the request')} "
                                 f"and {node.model}")
            producers[tensor] = node.model
    for node in nodes:
        missing = [t for t in [*node.inputs.values(), node.gate] if t and t not in producers and t not in available]
        if missing:
            raise ValueError(f"{node.model} reads {missing}, which no model produces")
    ordered, pending, available = [], list(nodes), set(available)
    while pending:
        ready = next((n for n in pending if all(t in available for t in [*n.inputs.values(), n.gate] if t)), None)
        if ready is None:
            raise ValueError(f"the models {[n.model for n in pending]} depend on each other in a cycle")
        ordered.append(ready)
        pending.remove(ready)
        available.update(ready.outputs.values())
    return ordered


def pipeline_graph(model_set: ModelSet, jpeg: bool = False) -> tuple[Node, ...]:
    """The composing models of ``model_set``'s pipeline in a valid execution order.

    ``jpeg``: the graph of the ``gazesam_jpeg`` ensemble, whose first step (the same model) decodes a
    JPEG frame instead of checking a raw one; every node is the same model with the same wiring.
    """
    available = {s.name for s in (JPEG_ENSEMBLE.inputs if jpeg else ENSEMBLE.inputs)}
    nodes = _in_dependency_order(_candidate_nodes(model_set, available), available)
    produced = {t for node in nodes for t in node.outputs.values()}
    unproduced = [spec.name for spec in ENSEMBLE.outputs if spec.name not in produced]
    if unproduced:
        raise ValueError(f"ensemble outputs {unproduced} are produced by no model")
    return tuple(nodes)


def ensembles(model_set: ModelSet) -> dict[str, tuple[tuple[TensorSpec, ...], tuple[Node, ...]]]:
    """Every ensemble the repository serves: name -> (its inputs, its graph). Outputs are ENSEMBLE.outputs."""
    return {
        ENSEMBLE.key: (ENSEMBLE.inputs, pipeline_graph(model_set)),
        JPEG_ENSEMBLE.key: (JPEG_ENSEMBLE.inputs, pipeline_graph(model_set, jpeg=True)),
    }


def critical_path(nodes: tuple[Node, ...], source: str, sink: str) -> tuple[Node, ...]:
    """The chain of models from the one reading tensor ``source`` to the one writing ``sink`` that passes
    the most Python steps (a gate counts as an input): the Python-step hops a frame waits for.

    ``nodes`` in execution order (:func:`pipeline_graph`); ValueError when ``sink`` is not reached from ``source``.
    """
    producer = {tensor: node for node in nodes for tensor in node.outputs.values()}
    best: dict[str, tuple[int, tuple[Node, ...]]] = {}
    for node in nodes:
        reads = [t for t in [*node.inputs.values(), node.gate] if t]
        starts = [(0, ())] if source in reads else []
        starts += [best[producer[t].model] for t in reads if t in producer and producer[t].model in best]
        if starts:
            hops, path = max(starts, key=lambda start: (start[0], len(start[1])))
            best[node.model] = (hops + (node.network is None), path + (node,))
    end = producer.get(sink)
    if end is None or end.model not in best:
        raise ValueError(f"no path from {source} to {sink} in the graph")
    return best[end.model][1]


def python_hops(path: tuple[Node, ...]) -> int:
    """How many of ``path``'s models are Python steps."""
    return sum(node.network is None for node in path)
