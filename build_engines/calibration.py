"""Network inputs made from real frames by this project's own pipeline, for INT8 calibration and accuracy.

Frames go through :class:`gazesam.pipeline.InProcessPipeline` (the served graph's steps, run in process),
and every network call's inputs are recorded on the way. So the gaze network is calibrated on the face
crops the face detector and ``face_track`` really produce, the detector on the real letterbox, and so
on: calibration data is serving data.
"""

from __future__ import annotations

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
