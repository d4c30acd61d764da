"""Cheap paths: a gated network skips frames whose result cannot matter, without changing any output."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gazesam.contracts import ENSEMBLE, Status
from gazesam.graph import pipeline_graph
from gazesam.networks import model_set
from gazesam.onnx_network import OnnxNetwork
from gazesam.pipeline import InProcessPipeline, network_file

from conftest import shared_path

REPOSITORY = Path(__file__).resolve().parents[1] / "model_repository_standin"


@pytest.fixture(scope="module")
def repository():
    if not (REPOSITORY / "gazesam" / "config.pbtxt").is_file():
        pytest.fail(f"{REPOSITORY} is not generated: run 'make setup' first")
    return REPOSITORY


def test_every_network_after_the_face_detector_is_gated():
    gates = {node.model: node.gate for node in pipeline_graph(model_set("standin")) if node.network}
    assert gates.pop("face_detector") is None
    assert gates == {
        "gaze_estimator": "FACE_TRACK_ID",
        "object_detector": "FACE_TRACK_ID",
        "depth_estimator": "FACE_TRACK_ID",
        "sam_encoder": "FACE_TRACK_ID",
        "sam_decoder": "PROMPT_COUNT",
    }
    offline = {node.model: node.gate for node in pipeline_graph(model_set("offline")) if node.network}
    assert offline.pop("face_detector") is None
    assert offline == {
        "landmark_detector": "FACE_TRACK_ID",
        "head_pose_estimator": "FACE_TRACK_ID",
        "gaze_estimator": "FACE_TRACK_ID",
        "object_detector": "FACE_TRACK_ID",
        "depth_estimator": "FACE_TRACK_ID",
        "sam_encoder": "FACE_TRACK_ID",
        "sam_decoder": "PROMPT_COUNT",
    }


def test_a_closed_gate_gives_zeros_of_the_contract_shapes_and_an_open_one_runs(repository):
    from gazesam.contracts import DEPTH_SERVED

    depth = OnnxNetwork(network_file(repository, "depth_estimator"), DEPTH_SERVED)
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    feeds = {"frame": frame, "frame_hw": np.array(frame.shape[:2], np.int32)}
    closed = depth.gated(np.array([0], np.int32), **feeds)["nearness"]
    assert closed.shape == DEPTH_SERVED.outputs[0].shape and not closed.any()
    opened = depth.gated(np.array([3], np.int32), **feeds)["nearness"]
    np.testing.assert_array_equal(opened, depth(**feeds)["nearness"])
    assert opened.max() == 255.0  # a nearness map scaled onto 0..255


def frames_with_and_without_a_face() -> list[np.ndarray]:
    photo = cv2.imread(str(shared_path("media", "images", "webcam_man_bookshelf.jpg")))
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 255, (360, 480, 3), dtype=np.uint8)
    return [photo, noise, photo[:, :200].copy(), photo]


def test_gated_and_ungated_pipelines_give_identical_outputs(repository):
    gated, ungated = InProcessPipeline(repository), InProcessPipeline(repository, gated=False)
    statuses = []
    for i, frame in enumerate(frames_with_and_without_a_face()):
        a = gated(frame, i * 0.04, start=i == 0)
        b = ungated(frame, i * 0.04, start=i == 0)
        for spec in ENSEMBLE.outputs:
            np.testing.assert_array_equal(a[spec.name], b[spec.name], err_msg=f"frame {i}: {spec.name}")
        statuses.append(Status(int(a["STATUS"][0])).name)
    assert "NO_FACE" in statuses and statuses[0] != "NO_FACE", statuses
