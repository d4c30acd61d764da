"""End to end: a real tritonserver on 127.0.0.1 serves the gazesam ensemble; its answers must equal
the in-process pipeline's on the same real frames, over gRPC and HTTP.

Serves the generated stand-in set, ``model_repository_standin/`` (``make setup-standin``).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam.contracts import ENSEMBLE, MASK_ON, Status
from gazesam.pipeline import InProcessPipeline

from real_media import video_frame
from conftest import STANDIN_REPOSITORY as REPOSITORY, shared_path


pytestmark = pytest.mark.e2e


def real_frames() -> dict[str, np.ndarray]:
    frames = {f"father_daughter_toys#{i}": video_frame("father_daughter_toys.mp4", i) for i in (0, 80, 160)}
    frames |= {f"woman_cup_shelf#{i}": video_frame("woman_cup_shelf.mp4", i) for i in (0, 200, 400)}
    for name in ("webcam_man_bookshelf.jpg", "kitchen_table_cups.jpg", "office_team_laptop.jpg"):
        frames[name] = cv2.imread(str(shared_path("media", "images", name)))
    return frames


@pytest.fixture(scope="module")
def pipeline():
    return InProcessPipeline(REPOSITORY)


@pytest.fixture(scope="module")
def frames():
    return real_frames()


def infer_alone(client: GazeSamClient, frame: np.ndarray):
    """``frame`` as a stream of its own (one frame: start and end)."""
    return client.infer(frame, 0.0, new_stream_id(), start=True, end=True)


def served_outputs(client: GazeSamClient, frame: np.ndarray) -> dict[str, np.ndarray]:
    return infer_alone(client, frame).to_outputs()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_served_ensemble_equals_in_process_pipeline(server, pipeline, frames, protocol):
    client = GazeSamClient(server.grpc_url if protocol == "grpc" else server.http_url, protocol)
    statuses = {}
    for name, frame in frames.items():
        served = served_outputs(client, frame)
        expected = pipeline(frame, 0.0, start=True, end=True)
        for spec in ENSEMBLE.outputs:
            assert served[spec.name].dtype == expected[spec.name].dtype, (name, spec.name)
            np.testing.assert_array_equal(served[spec.name], expected[spec.name], err_msg=f"{name}: {spec.name}")
        assert served["MASK"].shape == frame.shape[:2]
        statuses[name] = Status(int(served["STATUS"][0])).name
    print(f"{protocol}: statuses over {len(frames)} real frames: {statuses}")
    # the real face detector finds the viewer in every photo (tests/test_face_decode.py)
    assert all(status != "NO_FACE" for name, status in statuses.items() if name.endswith(".jpg"))


def test_frame_without_face_is_a_normal_answer(server):
    client = GazeSamClient(server.grpc_url, "grpc")
    rng = np.random.default_rng(0)
    blank = np.full((480, 640, 3), 128, np.uint8) + rng.integers(0, 8, (480, 640, 3), dtype=np.uint8)
    result = infer_alone(client, blank)
    assert result.status == Status.NO_FACE and result.face_track_id == 0
    assert result.mask.shape == (480, 640) and not result.mask.any()
    assert result.target_class == -1 and not result.face_box.any()


def test_ok_masks_use_the_documented_values(server, frames):
    client = GazeSamClient(server.grpc_url, "grpc")
    for frame in frames.values():
        result = infer_alone(client, frame)
        assert set(np.unique(result.mask)) <= {0, MASK_ON}
        assert (result.status == Status.OK) == bool(result.mask.any())


def test_server_exposes_which_networks_are_standins(server, pipeline):
    client = GazeSamClient(server.http_url, "http")
    served = client.served_models()
    assert served.model_set == pipeline.model_set.name == "standin"
    assert {model: info.provenance for model, info in served.networks.items()} == {
        model: prov.label for model, prov in pipeline.provenance.items()
    }
    assert served.networks["face_detector"].provenance == "real"  # the real ProxylessGaze detector from ../shared/models
    assert served.standins == [model for model, prov in pipeline.provenance.items() if prov.standin]
    assert "gaze_estimator" in served.standins and served.banner and "gaze_estimator" in served.banner
    for family in pipeline.model_set.families:  # each role's family, as the overlay caption shows it
        assert any(line.startswith(family.label) for line in served.families), family.label


@pytest.mark.parametrize(
    "bad_frame, message",
    [
        (np.zeros((16, 16, 3), np.uint8), "got 16x16"),
        (np.zeros((40, 4000, 3), np.uint8), "got 40x4000"),
    ],
)
def test_frame_outside_the_documented_size_gets_a_clear_error(server, frames, bad_frame, message):
    from tritonclient.utils import InferenceServerException

    client = GazeSamClient(server.grpc_url, "grpc", timeout_s=20)
    for _ in range(3):
        with pytest.raises(InferenceServerException, match=f"FRAME must be uint8.*{message}"):
            infer_alone(client, bad_frame)
        good = infer_alone(client, frames["webcam_man_bookshelf.jpg"])  # and the server keeps serving
        assert good.status != Status.NO_FACE

