"""Network inputs made from real frames by this project's own pipeline, for INT8 calibration and accuracy.

Frames go through :class:`gazesam.pipeline.InProcessPipeline` (the served graph's steps, run in process),
and every network call's inputs are recorded on the way. So the gaze network is calibrated on the face
crops the face detector and ``face_track`` really produce, the detector on the real letterbox, and so
on: calibration data is serving data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from gazesam.pipeline import InProcessPipeline

Feed = dict[str, np.ndarray]
"""One network call's inputs: contract input name -> array."""

FRAME_PERIOD_S = 1.0 / 30.0


class NetworkWrapper:
    """Stands in for a pipeline network (same call, ``contract``, ``provenance``); skipped frames stay skipped."""

    def __init__(self, network: Any):
        self.network = network
        self.contract = network.contract
        self.provenance = network.provenance

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        return self.network(**inputs)

    def gated(self, gate: np.ndarray, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """This wrapper's call when ``gate`` is set, else the wrapped network's skip answer (nothing runs)."""
        return self(**inputs) if int(gate.reshape(-1)[0]) != 0 else self.network.gated(gate, **inputs)


class RecordingNetwork(NetworkWrapper):
    """Runs the network and keeps a copy of every call's inputs in ``feeds`` (skipped frames are not calls)."""

    def __init__(self, network: Any):
        super().__init__(network)
        self.feeds: list[Feed] = []

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        self.feeds.append({name: np.array(value, copy=True) for name, value in inputs.items()})
        return self.network(**inputs)


def run_frames(pipeline: InProcessPipeline, frames: Iterable[np.ndarray], desc: str) -> list[dict[str, np.ndarray]]:
    """The pipeline's outputs for each frame, each frame its own one-frame stream (no state carried over)."""
    frames = list(frames)
    outputs = []
    for index, frame in enumerate(tqdm(frames, desc=desc, unit="frame")):
        outputs.append(pipeline(frame, index * FRAME_PERIOD_S, stream_id=index + 1, start=True, end=True))
    return outputs


def record_network_inputs(repository: Path, frames: list[np.ndarray]) -> dict[str, list[Feed]]:
    """Network key -> the inputs of every call the pipeline made for ``frames`` (CPU-profile ``repository``)."""
    pipeline = InProcessPipeline(repository)
    recorders = pipeline.wrap_networks(RecordingNetwork)
    run_frames(pipeline, frames, "recording network inputs")
    return {key: recorder.feeds for key, recorder in recorders.items()}


def is_blank(feed: Feed) -> bool:
    """True when every input is all zeros: what a step sends when there is nothing to process (no face)."""
    return all(not np.any(value) for value in feed.values())


def calibration_feeds(feeds: list[Feed]) -> list[Feed]:
    """The feeds worth calibrating on: blanks dropped (a zero crop is not an image and would skew ranges).

    Raises ValueError when none is left, e.g. gaze calibration from frames in which no face was found.
    """
    kept = [feed for feed in feeds if not is_blank(feed)]
    if not kept:
        raise ValueError(
            "no usable calibration input: every recorded call was blank (for gaze: no face found in any "
            "frame); point --calibration-frames at frames that show a person's face"
        )
    return kept


CALIBRATION_DTYPE = np.float32
"""TensorRT takes every non-index calibration input as float32 (polygraphy's Calibrator enforces it), whatever
the network input's type: a uint8 image input (YOLO-NAS) is fed to the calibrator as float32 of the same values."""

INDEX_DTYPES = (np.int32, np.int64)


def calibrator_feeds(feeds: list[Feed]) -> list[Feed]:
    """``feeds`` as the calibrator takes them: non-index inputs cast to float32 (values unchanged)."""
    return [
        {name: value if value.dtype in INDEX_DTYPES else value.astype(CALIBRATION_DTYPE) for name, value in feed.items()}
        for feed in feeds
    ]


def calibration_key(onnx_sha256: str, feeds: list[Feed]) -> str:
    """sha256 of the ONNX file's digest and every calibration feed (names, dtypes, shapes, bytes).

    The INT8 cache is named by it, so other weights or other frames never reuse stale scales.
    """
    digest = hashlib.sha256(onnx_sha256.encode())
    for feed in feeds:
        for name in sorted(feed):
            value = np.ascontiguousarray(feed[name])
            digest.update(f"{name}|{value.dtype}|{value.shape}|".encode())
            digest.update(value.tobytes())
    return digest.hexdigest()


def calibration_cache_path(out: Path, model: str, key: str) -> Path:
    """Where the INT8 cache of ``model`` made from ``key`` lives (the key's first 16 hex digits in the name)."""
    return out / f"{model}.int8.{key[:16]}.cache"


def remove_stale_caches(out: Path, model: str, keep: Path) -> list[Path]:
    """Delete ``model``'s INT8 caches other than ``keep`` (made from other weights or frames); returns them."""
    stale = [path for path in out.glob(f"{model}.int8.*cache") if path != keep]
    for path in stale:
        path.unlink()
    return stale
