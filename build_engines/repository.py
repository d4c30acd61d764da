"""Generating the Triton model repository from the registry, the step table and the graph.

Nothing in ``model_repository/`` is written by hand: configs, ``model.py`` adapters and model files
all come from here, so a tensor name has one spelling (``gazesam.contracts``). The text layout is
:mod:`build_engines.config_text`; how each network is served is the profile's
(:mod:`build_engines.profiles`; ``cpu`` by default: every network a Python-backend model running
ONNX Runtime, the one runtime the embedded Triton has).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from gazesam.admission import AdmissionPolicy
from gazesam.contracts import ENSEMBLE, GATE, TensorSpec
from gazesam.graph import Node, ensembles
from gazesam.model_files import read_provenance
from gazesam.networks import ModelSet
from gazesam.onnx_network import ORT_THREADS_PARAMETER
from gazesam.pipeline import MODEL_SET_FILE
from gazesam.steps import python_steps

from .config_text import GENERATED_BY, SequenceSlots, ensemble_config, model_py, python_model_config
from .manifest import choose_model_file
from .profiles import CpuProfile, NetworkProfile

STEP_ADAPTER = "from gazesam_triton.step_model import TritonPythonModel  # noqa: F401"

def stream_slots(policy: AdmissionPolicy) -> SequenceSlots:
    """The sequence batcher of the later stateful steps, sized by the admission ``policy``."""
    return SequenceSlots(
        candidates=policy.sequence_slots,
        idle_timeout_us=int(policy.slot_hold_s * 1_000_000),
        why=(
            "Stateful: each client stream is one sequence (correlation ID; start flag on its first frame, end",
            f"flag on its last). Only streams that frame_check admitted (at most {policy.max_streams}) arrive here; "
            "it also",
            f"counts the slots that streams stopped without an end flag hold for {policy.slot_hold_s:g} s, so a",
            f"stream never waits for one of the {policy.sequence_slots} slots (it would wait unanswered).",
        ),
    )


ONE_STEP_INSTANCE = ("One CPU instance: its work is a few milliseconds and the branches already run side by side.",)
ADMISSION_NOTE = (
    "Not under the sequence batcher, so a refused start never takes a Triton sequence slot; one",
    "instance: it holds the one admission table of both ensembles (gazesam.admission).",
)


def ensemble_text(name: str, inputs: tuple[TensorSpec, ...], nodes: tuple[Node, ...], model_set: ModelSet) -> str:
    """Ensemble ``name`` over ``nodes``; a node's gate is wired to its model's ``GATE`` input.

    For a runtime without gated networks (native backends), pass nodes with ``gate=None``.
    """
    header = (
        f"{name}: one frame in ({', '.join(s.name for s in inputs)}) -> the mask of the object the viewer looks at,",
        "plus gaze, face and target.",
        "The face->gaze, detector, depth and SAM-encoder branches depend only on FRAME and run concurrently;",
        "gaze_fusion joins them into box prompts, sam_decoder segments them, mask_select picks one.",
        f"Model set {model_set.name!r}: {model_set.describe()}.",
        "A GATE input (where mapped) lets a network skip frames whose result cannot matter (no face, no prompt).",
    )
    params = {"model_set": model_set.name, "families": model_set.describe()}
    return ensemble_config(name, inputs, ENSEMBLE.outputs, nodes, GATE.name, header, params)


def _network_label(family_label: str, provenance: str) -> str:
    return family_label if provenance == "real" else f"{family_label} [{provenance.upper()}: random weights]"


def write_repository(
    out: Path, models_dir: Path, model_set: ModelSet, standin_size: str, profile: NetworkProfile | None = None,
    admission: AdmissionPolicy | None = None,
) -> dict[str, str]:
    """Write ``model_set``'s repository to ``out`` under ``profile`` (default: the CPU profile); ``admission``
    (default: the packaged serving config's) goes into frame_check's config and sizes the stateful steps.

    Returns Triton model name -> provenance label of every network.
    """
    profile = profile or CpuProfile()
    admission = admission or AdmissionPolicy()
    profile.preflight(models_dir, model_set, standin_size)  # fail before the old repository is removed
    files = {n.model: choose_model_file(models_dir, n, model_set, standin_size) for n in model_set.networks}
    graphs = ensembles(model_set)
    nodes = tuple({node.model: node for _, graph in graphs.values() for node in graph}.values())  # each model once
    steps = python_steps(model_set)
    provenance: dict[str, str] = {}
    record: dict[str, dict[str, str | int]] = {}
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():  # regenerate from scratch, keeping files git tracks (.gitkeep)
        if stale.is_dir():
            shutil.rmtree(stale)
    for node in nodes:
        version_dir = out / node.model / "1"
        version_dir.mkdir(parents=True)
        params = {"model_set": model_set.name, "families": model_set.describe()}
        if node.network is None:
            step = steps[node.model]
            doc = (step.run.__doc__ or node.model).strip().splitlines()[0]
            slots = stream_slots(admission) if step.sequence_batched else None
            instances = (1, ADMISSION_NOTE if step.admits_streams else ONE_STEP_INSTANCE)
            if step.admits_streams:
                params |= admission.parameters()
            config = python_model_config(node.model, doc, step.inputs, step.outputs, params, slots,
                                         optional=step.optional_input_names, instances=instances)
            adapter = STEP_ADAPTER
        else:
            network = model_set.network(node.network)
            family = model_set.family_of(network)
            model_file = files[node.model]
            label = read_provenance(model_file).label
            provenance[node.model] = label
            params |= {"network": network.key, "family": family.name, "provenance": label,
                       "substitute": _network_label(family.label, label)}
            record[node.model] = {"role": family.role, "family": family.name, "provenance": label,
                                  "label": params["substitute"], "file": network.file.name}
            doc = f"{network.doc} Weights: {label} ({network.file.name})."
            gated = profile.gates and node.gate is not None
            written = profile.network_model(node.model, model_file, network, params, doc, version_dir, gated)
            config, adapter = written.config, written.adapter
            record[node.model][ORT_THREADS_PARAMETER] = written.threads
        (out / node.model / "config.pbtxt").write_text(config)
        if adapter is not None:  # native-backend models have no model.py
            (version_dir / "model.py").write_text(model_py(adapter, doc))
    for name, (inputs, graph) in graphs.items():
        if not profile.gates:  # this runtime runs every network on every frame (no GATE input)
            graph = tuple(dataclasses.replace(node, gate=None) for node in graph)
        (out / name / "1").mkdir(parents=True)
        (out / name / "config.pbtxt").write_text(ensemble_text(name, inputs, graph, model_set))
    (out / MODEL_SET_FILE).write_text(json.dumps(
        {"model_set": model_set.name, "families": model_set.describe(), "profile": profile.name,
         "gates": profile.gates, "admission": admission.parameters(), "networks": record}, indent=2) + "\n")
    (out / "README.md").write_text(
        f"# model_repository\n\n{GENERATED_BY}\n\nModel set `{model_set.name}` ({model_set.about}).\n\n"
        "Networks and their weights:\n\n"
        + "\n".join(f"- `{model}`: {info['label']} — {info['provenance']}" for model, info in record.items())
        + "\n"
    )
    return provenance
