"""End to end: the three frame transports (raw, shared memory, JPEG) give the answers raw frames give."""

from __future__ import annotations


import cv2
import numpy as np
import pytest

from clients.gazesam_client import FrameResult, GazeSamClient, new_stream_id
from gazesam_triton.admin_key import admin_headers

from conftest import shared_path


pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(shared_path("media", "videos", "father_daughter_toys.mp4")))
    images = [capture.read()[1] for _ in range(6)]
    capture.release()
    return images + [cv2.imread(str(shared_path("media", "images", "kitchen_table_cups.jpg")))]  # another size


def run_stream(client: GazeSamClient, frames: list[np.ndarray]) -> list[FrameResult]:
    stream, last = new_stream_id(), len(frames) - 1
    return [client.infer(f, i * 0.04, stream, start=i == 0, end=i == last) for i, f in enumerate(frames)]


def assert_same(a: list[FrameResult], b: list[FrameResult]) -> None:
    for i, (x, y) in enumerate(zip(a, b)):
        assert x.status == y.status, i
        for name in ("mask", "face_box", "gaze_ray", "target_box"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name), err_msg=f"frame {i} {name}")


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_shared_memory_answers_exactly_like_raw(server, frames, protocol):
    url = server.grpc_url if protocol == "grpc" else server.http_url
    raw, shm = GazeSamClient(url, protocol), GazeSamClient(url, protocol, transport="shm")
    try:
        assert_same(run_stream(shm, frames), run_stream(raw, frames))
    finally:
        shm.close()
    status = raw._client.get_system_shared_memory_status(headers=admin_headers(protocol))  # an admin API
    assert "gazesam" not in str(status)  # close() unregistered the regions


def test_jpeg_answers_like_raw_on_the_decoded_frame(server, frames):
    decoded = [cv2.imdecode(cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1], cv2.IMREAD_COLOR)
               for f in frames]
    jpeg = GazeSamClient(server.grpc_url, transport="jpeg")
    assert_same(run_stream(jpeg, frames), run_stream(GazeSamClient(server.grpc_url), decoded))


def test_video_client_over_shared_memory_keeps_every_frame(server, tmp_path):
    from clients import video

    out = tmp_path / "out"
    rc = video.main(["--video", str(shared_path("media", "videos", "woman_cup_shelf.mp4")), "--max-frames", "8",
                     "--transport", "shm", "--output-dir", str(out), "--url", server.grpc_url])
    assert rc == 0
    written = cv2.VideoCapture(str(next(out.glob("*.mp4"))))
    assert int(written.get(cv2.CAP_PROP_FRAME_COUNT)) == 8
