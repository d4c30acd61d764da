"""Where each tensor of an ONNX graph lives when :mod:`gazesam.onnx_torch` runs it on a GPU.

Shape arithmetic stays on the host: a value read as a shape, axes, sizes or a count (``Reshape``'s shape,
``Slice``'s starts, ``Resize``'s sizes, ...) is read with ``.tolist()``, and PyTorch lets only 0-dim CPU
tensors meet CUDA tensors in one operator. So a constant, or the output of an operator that makes its
tensor on the CPU (``Shape``, ``ConstantOfShape``, ``Range``, ``NonMaxSuppression``), goes to the GPU only
when some operator on the GPU computes with it, and stays on the CPU when all it feeds is shape arithmetic
(even float arithmetic such as ``Shape -> Cast -> Mul(0.5) -> Cast -> Resize``). :func:`host_values` decides
that from the graph; :func:`placement_problems` replays a run on the CPU with every value tagged host or device as a GPU
run would place it, and names each operator that would mix devices: a check that needs no GPU.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SHAPE_INPUTS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,), "Slice": (1, 2, 3, 4), "Resize": (1, 2, 3), "TopK": (1,), "Split": (1,), "Unsqueeze": (1,),
    "Squeeze": (1,), "ReduceMean": (1,), "ReduceSum": (1,), "ReduceMax": (1,),
    "NonMaxSuppression": (2, 3, 4), "Pad": (1, 2, 3), "ConstantOfShape": (0,), "OneHot": (1,), "Range": (0, 1, 2),
    "Expand": (1,), "Tile": (1,),
}
"""Inputs each operator reads on the host as integers or scalars (never computed with on the device)."""

MOVED_INPUTS: dict[str, tuple[int, ...]] = {"Gather": (1,), "NonMaxSuppression": (0, 1)}
"""Inputs the operator's implementation moves itself (Gather's indices to its data, NMS's boxes to the CPU)."""

SOURCE_OPS = frozenset({"Shape", "ConstantOfShape", "Range", "NonMaxSuppression"})
"""Operators whose outputs are made on the CPU whatever their inputs (a shape, a filled tensor, indices); placed,
like constants, by their use."""

HOST, DEVICE = "host", "device"


@dataclass(frozen=True)
class GraphNode:
    """The parts of an ONNX node placement needs."""

    op: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _compute_inputs(node: GraphNode) -> list[tuple[int, str]]:
    """(position, name) of the inputs ``node`` computes with on its device (not shape or self-moved inputs)."""
    skip = set(SHAPE_INPUTS.get(node.op, ())) | set(MOVED_INPUTS.get(node.op, ()))
    return [(k, name) for k, name in enumerate(node.inputs) if name and k not in skip]


def output_tag(node: GraphNode, tags: Mapping[str, str], host: frozenset[str] | set[str]) -> str:
    """Where ``node``'s outputs are: a source operator's where the plan ``host`` puts them, any other's on the
    device when an input it computes with is there."""
    if node.op in SOURCE_OPS:
        return HOST if node.outputs[0] in host else DEVICE
    return DEVICE if any(tags.get(name) == DEVICE for _, name in _compute_inputs(node)) else HOST


def host_values(nodes: Sequence[GraphNode], constants: Iterable[str], graph_inputs: Iterable[str],
                graph_outputs: Iterable[str]) -> frozenset[str]:
    """The constants and source-operator outputs to keep on the CPU: those no device-side computation uses
    (graph outputs excepted).

    Starts with all of them on the host and moves to the device each one that an operator computing on
    the device takes as a compute input, until nothing changes.
    """
    constants = set(constants)
    outputs = set(graph_outputs)
    sources = constants | {name for node in nodes if node.op in SOURCE_OPS for name in node.outputs}
    producer = {name: node for node in nodes if node.op not in SOURCE_OPS for name in node.outputs}
    host = {name for name in sources if name not in outputs}

    def sources_of(name: str, seen: set[str]) -> set[str]:
        """The host sources a value is computed from (through the compute inputs of non-source operators)."""
        if name in seen:
            return set()
        seen.add(name)
        if name in host:
            return {name}
        node = producer.get(name)
        return set().union(*(sources_of(n, seen) for _, n in _compute_inputs(node))) if node else set()

    while True:
        tags = {name: DEVICE for name in graph_inputs} | {name: HOST if name in host else DEVICE for name in constants}
        demoted: set[str] = set()
        for node in nodes:
            tag = output_tag(node, tags, host)
            tags.update((name, tag) for name in node.outputs)
            if tag == DEVICE:
                for _, name in _compute_inputs(node):
                    if tags.get(name) == HOST:
                        demoted |= sources_of(name, set())
        if not demoted:
            return frozenset(host)
        host -= demoted


def placement_problems(nodes: Sequence[GraphNode], tags: dict[str, str], values: Mapping[str, np.ndarray],
                       host: frozenset[str]) -> list[str]:
    """One line per node whose compute inputs would mix a device tensor with a CPU tensor of more than 0 dims.

    ``tags`` holds the graph inputs' and constants' places (updated with every output's); ``values`` each
    value's array from a CPU run of the same graph on real inputs (for the 0-dim rule); ``host`` the plan.
    """
    problems = []
    for node in nodes:
        inputs = _compute_inputs(node)
        on_device = [name for _, name in inputs if tags.get(name) == DEVICE]
        stuck = [name for _, name in inputs if tags.get(name) == HOST and np.ndim(values[name]) > 0]
        if on_device and stuck:
            problems.append(f"{node.op} node {node.name!r}: {stuck[0]!r} {list(np.shape(values[stuck[0]]))} would stay "
                            f"on the CPU beside {on_device[0]!r} on the GPU")
        tags.update((name, output_tag(node, tags, host)) for name in node.outputs)
    return problems
