"""Stand-in ONNX networks: the upstream interfaces with random weights.

Offline we lack trained weights for several networks, so we generate stand-ins: ONNX models whose inputs and
outputs match :mod:`gazesam.contracts` exactly (names, dtypes, shapes, dynamic axes), filled with random weights
drawn from a fixed seed. They exercise the whole serving path (pre-processing, Triton, TensorRT, post-processing)
but their outputs mean nothing.

Two sizes:

* ``tiny``: a few million MACs per network, so tests and the demo run in milliseconds on a CPU.
* ``full``: compute (MACs, see :mod:`build_engines.macs`) within ±25 % of the upstream network at the upstream
  input size, mostly by building the upstream architecture itself, so latency and memory measurements on a GPU
  are representative.

Graphs are built with ``onnx.helper`` and numpy only (opset 17, IR 8). A model is deterministic given
``(network, size, seed)``: rebuilding gives a byte-identical file. Every stand-in carries
``gazesam.standin=true``, ``gazesam.standin_size``, ``gazesam.network`` and ``gazesam.seed`` in its metadata, and
its model and graph doc strings start with :data:`STANDIN_DOC`.

One module per architecture (:mod:`.proxyless_face`, :mod:`.yolox`, :mod:`.l2cs`, :mod:`.depth_anything`,
:mod:`.efficientvit_sam`, :mod:`.yolo_nas`), written with :class:`.graph_builder.GraphBuilder` and the shared
:mod:`.blocks`; this module holds the public API and the table from stand-in key to builder.

``with_weights=False`` builds the same nodes but turns every random weight into a graph *input* that has only a
shape (no data). Such a "shape-only" model is not runnable and does not pass the contract check (the weights show
up as extra inputs); it exists so :func:`build_engines.macs.count_macs` can count a 190-GMAC network in well under
a second. It carries ``gazesam.shape_only=true``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx

from gazesam.contracts import NetworkContract
from gazesam.model_files import NETWORK_KEY, STANDIN_KEY, STANDIN_SIZE_KEY
from gazesam.networks import all_networks

from .depth_anything import build_depth
from .efficientvit_sam import build_sam_decoder, build_sam_encoder
from .graph_builder import GraphBuilder
from .l2cs import build_gaze
from .proxyless_face import build_face
from .yolo_nas import build_yolo_nas_ort, build_yolo_nas_trt
from .yolox import build_yolox

STANDIN_DOC = "STAND-IN: random weights, not a trained network."
SEED_KEY = "gazesam.seed"
SHAPE_ONLY_KEY = "gazesam.shape_only"

NETWORKS = ("face", "gaze", "yolox", "yolo_nas_ort", "yolo_nas_trt", "depth", "sam_encoder", "sam_decoder")
"""Stand-in keys, as the registry's networks name them (``gazesam.networks.Network.standin``)."""
SIZES = ("tiny", "full")

Builder = Callable[[GraphBuilder, str, NetworkContract], str]
"""Records one stand-in's nodes into the builder at a size, for a contract; returns a one-line description."""

_BUILDERS: dict[str, Builder] = {
    "face": build_face,
    "gaze": build_gaze,
    "yolox": build_yolox,
    "yolo_nas_ort": build_yolo_nas_ort,
    "yolo_nas_trt": build_yolo_nas_trt,
    "depth": build_depth,
    "sam_encoder": build_sam_encoder,
    "sam_decoder": build_sam_decoder,
}


def contract_of(network: str) -> NetworkContract:
    """The :class:`NetworkContract` a stand-in for ``network`` (a registry ``standin`` key) implements."""
    for candidate in all_networks():
        if candidate.standin == network:
            return candidate.own_contract
    raise ValueError(f"unknown network {network!r}; choose one of {NETWORKS}")


def build_standin(network: str, size: str = "tiny", seed: int = 0, with_weights: bool = True) -> onnx.ModelProto:
    """Build the stand-in ONNX model for ``network`` (one of :data:`NETWORKS`) at ``size`` ("tiny" | "full").

    Deterministic in ``(network, size, seed)``. With ``with_weights=False`` the weights become shape-only graph
    inputs (for MAC counting; see the module docstring). Models with weights are checked with
    ``onnx.checker`` before they are returned.
    """
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {SIZES}")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    contract = contract_of(network)
    rng = np.random.default_rng([seed, zlib.crc32(network.encode()), zlib.crc32(size.encode())])
    g = GraphBuilder(f"{network}_standin_{size}", rng, with_weights)
    description = _BUILDERS[network](g, size, contract)
    doc = f"{STANDIN_DOC} gazesam-triton stand-in for '{network}' ({size}, seed {seed}): {description}"
    if not with_weights:
        doc += " SHAPE-ONLY: weights are graph inputs without data; for MAC counting, not for running."
    metadata = {
        STANDIN_KEY: "true",
        STANDIN_SIZE_KEY: size,
        NETWORK_KEY: network,
        SEED_KEY: str(seed),
    }
    if not with_weights:
        metadata[SHAPE_ONLY_KEY] = "true"
    model = g.build(contract, doc, metadata, dynamic_dim="num_boxes" if network == "sam_decoder" else "batch")
    if with_weights:
        onnx.checker.check_model(model)
    return model


def write_standin(network: str, size: str, path: str | Path, seed: int = 0) -> Path:
    """Build the stand-in and save it to ``path`` with its weights inline (all stand-ins are < 2 GB)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(build_standin(network, size, seed), str(path))
    return path
