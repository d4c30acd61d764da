"""End to end: the ``gazesam_jpeg`` ensemble decodes JPEG frames on the server and answers exactly as
``gazesam`` does for the decoded frame; bad JPEG data gets a clear error and the server keeps serving."""

from __future__ import annotations


import cv2
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam.contracts import ENSEMBLE, JPEG_ENSEMBLE

from conftest import shared_path


pytestmark = pytest.mark.e2e


def infer_jpeg(url: str, data: np.ndarray, frame_time: float, stream: int) -> dict[str, np.ndarray]:
    client = grpcclient.InferenceServerClient(url)
    tensors = []
    for spec, value in zip(JPEG_ENSEMBLE.inputs, (data, np.array([frame_time], np.float64))):
        tensor = grpcclient.InferInput(spec.name, list(value.shape), "UINT8" if spec.dtype == "uint8" else "FP64")
        tensor.set_data_from_numpy(value)
        tensors.append(tensor)
    response = client.infer(JPEG_ENSEMBLE.key, tensors, sequence_id=stream, sequence_start=True,
                            sequence_end=True, client_timeout=60)
    return {spec.name: response.as_numpy(spec.name) for spec in ENSEMBLE.outputs}


@pytest.mark.parametrize("image", ["webcam_man_bookshelf.jpg", "kitchen_table_cups.jpg"])
def test_jpeg_frames_answer_like_the_decoded_raw_frame(server, image):
    data = np.fromfile(str(shared_path("media", "images", image)), np.uint8)
    served = infer_jpeg(server.grpc_url, data, 0.0, new_stream_id())
    raw = GazeSamClient(server.grpc_url).infer(cv2.imdecode(data, cv2.IMREAD_COLOR), 0.0, new_stream_id(), True, True)
    assert int(served["STATUS"][0]) == raw.status and raw.status.name != "NO_FACE"
    np.testing.assert_array_equal(served["MASK"], raw.mask)
    np.testing.assert_array_equal(served["FACE_BOX"], raw.face_box)
    np.testing.assert_array_equal(served["GAZE_RAY"], raw.gaze_ray)


def test_undecodable_jpeg_gets_a_clear_error_and_the_next_frame_is_served(server):
    good = np.fromfile(str(shared_path("media", "images", "webcam_man_bookshelf.jpg")), np.uint8)
    bad = {"not a JPEG": np.frombuffer(b"GIF89a not a jpeg", np.uint8).copy(),
           "could not be decoded": good[: good.size // 2].copy(),
           "no frame header": good[:200].copy()}
    for message, data in bad.items():
        with pytest.raises(InferenceServerException, match=message):
            infer_jpeg(server.grpc_url, data, 0.0, new_stream_id())
        assert int(infer_jpeg(server.grpc_url, good, 0.0, new_stream_id())["STATUS"][0]) != 1
