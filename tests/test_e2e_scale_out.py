"""End to end, scale-out: two real tritonservers on 127.0.0.1 (the stand-in set) behind the clients'
consistent hashing (several ``--url``) and behind a proxy routing on the stream-ID header.

A stream's frames must all reach the server that saw its first frame: a frame sent elsewhere would be
refused there ("must specify the START flag") and the video would come back partly unannotated. So the
checks are: every frame annotated (exit status 0), each server served exactly the frames of the streams
the ring gives it (Triton's own request count), and both servers got streams.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import pytest
import tritonclient.grpc as grpcclient

from clients import video
from clients.gazesam_client import GazeSamClient
from clients.server_options import StreamConnector
from clients.server_ring import ServerRing
from gazesam.contracts import ENSEMBLE
from gazesam_triton.server_process import TritonProcess

from conftest import STANDIN_REPOSITORY, generated
from header_proxy import HeaderRoutingProxy
from real_media import downscaled_clip

pytestmark = pytest.mark.e2e

STREAMS = 12  # all on one server by chance: 2 in 2**12
FRAMES = 3


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Two real servers, started side by side."""
    logs = tmp_path_factory.mktemp("triton")
    processes = [TritonProcess(generated(STANDIN_REPOSITORY), logs / f"tritonserver-{i}.log") for i in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(TritonProcess.start, processes))
        yield processes
    finally:
        for process in processes:
            process.stop()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """``STREAMS`` short clips of real video, 320 px wide, each a different stretch of the two videos."""
    folder = tmp_path_factory.mktemp("clips")
    sources = {name: downscaled_clip(name, FRAMES * STREAMS // 2, 320)
               for name in ("father_daughter_toys.mp4", "woman_cup_shelf.mp4")}
    paths = []
    for i in range(STREAMS):
        images, fps = sources[list(sources)[i % 2]]
        path = folder / f"clip{i:02d}.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, images[0].shape[1::-1])
        for image in images[(i // 2) * FRAMES:(i // 2 + 1) * FRAMES]:
            writer.write(image)
        writer.release()
        paths.append(path)
    return paths


def served_frames(server: TritonProcess) -> int:
    """Requests the server's gazesam ensemble answered so far (Triton's own statistics)."""
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        stats = client.get_inference_statistics(ENSEMBLE.key, as_json=True)
    finally:
        client.close()
    return int(stats["model_stats"][0]["inference_stats"]["success"].get("count", 0))


def run_videos(clips: list[Path], out: Path, urls: list[str]) -> dict[int, int]:
    """video.py over ``clips``: stream ID -> frames annotated (exit status 0 required)."""
    args = [arg for clip in clips for arg in ("--video", str(clip))]
    args += [arg for url in urls for arg in ("--url", url)]
    assert video.main([*args, "--output-dir", str(out), "--results-json", "--retries", "2"]) == 0
    streams = {}
    for clip in clips:
        document = json.loads((out / f"{clip.stem}_gazesam.json").read_text())
        assert document["summary"]["frames"] == FRAMES and document["summary"]["failed"] == 0, document["summary"]
        streams[document["stream_id"]] = len(document["frames"])
    return streams


def test_client_side_hashing_keeps_every_stream_on_one_server_and_spreads_them(servers, clips, tmp_path):
    urls = [server.grpc_url for server in servers]
    before = [served_frames(server) for server in servers]
    streams = run_videos(clips, tmp_path, urls)
    ring = ServerRing(urls)
    expected = Counter()
    for stream, frames in streams.items():
        expected[ring.server_for(stream)] += frames
    served = {server.grpc_url: served_frames(server) - b for server, b in zip(servers, before)}
    assert served == dict(expected), f"frames per server {served}, the ring's streams {dict(expected)}"
    assert all(served.values()), f"every stream went to one server: {served}"


def test_a_proxy_routing_on_the_header_sees_it_on_every_request_and_keeps_streams_whole(servers, clips, tmp_path):
    with HeaderRoutingProxy([server.grpc_url for server in servers]) as proxy:
        streams = run_videos(clips[:4], tmp_path, [proxy.url])
    calls = proxy.infer_calls
    assert len(calls) == sum(streams.values())
    assert all(call.header == str(call.sequence_id) for call in calls), "a request without the stream-ID header"
    servers_of = {}
    for call in calls:
        servers_of.setdefault(call.sequence_id, set()).add(call.server)
    assert set(servers_of) == set(streams)
    assert all(len(s) == 1 for s in servers_of.values()), servers_of


def test_a_lost_server_moves_only_its_streams(servers):
    urls = [server.grpc_url for server in servers]
    connect = StreamConnector(urls, lambda url: GazeSamClient(url, timeout_s=10))
    ring = connect.ring
    stream_ids = list(range(1, 41))

    def connected() -> dict[int, str]:
        clients = {stream: connect(stream) for stream in stream_ids}
        urls_now = {stream: client.url for stream, client in clients.items()}
        for client in clients.values():
            client.close()
        return urls_now

    assert connected() == {stream: ring.server_for(stream) for stream in stream_ids}
    servers[1].stop()
    after = connected()
    for stream in stream_ids:
        assert after[stream] == urls[0], f"stream {stream} of {ring.server_for(stream)} went to {after[stream]}"
    assert {ring.server_for(stream) for stream in stream_ids} == set(urls)  # both owned streams before
