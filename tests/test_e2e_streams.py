"""End to end, streams: per-stream state on a real tritonserver never mixes between streams and
does not depend on how fast frames are sent; a stream that ends frees its slot.

Each stream is a Triton sequence (correlation ID, start/end flags) through the ``gazesam`` ensemble;
the in-process pipeline, keeping the same per-stream state, is the oracle.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from build_engines.__main__ import main as build_engines
from clients import video
from clients.backoff import Backoff
from clients.exit_status import ExitStatus
from clients.gazesam_client import GazeSamClient, new_stream_id
from clients.stream_sender import StreamSender
from gazesam.contracts import ENSEMBLE
from gazesam.pipeline import InProcessPipeline
from gazesam.serving import DEFAULT_SERVING_PATH
from gazesam_triton.server_process import TritonProcess

from client_support import end_streams, fill_every_slot
from real_media import downscaled_clip
from conftest import ROOT, STANDIN_REPOSITORY as REPOSITORY, STREAMS, shared_path

CLIP_FRAMES = 24

pytestmark = pytest.mark.e2e


def clip(name: str, frames: int = CLIP_FRAMES, width: int = 640) -> tuple[list[np.ndarray], list[float]]:
    """The first ``frames`` frames of a real video, downscaled to ``width``, and their times in seconds."""
    images, fps = downscaled_clip(name, frames, width)
    return images, [i / fps for i in range(frames)]


def assert_same(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]], what: str) -> None:
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        for spec in ENSEMBLE.outputs:
            np.testing.assert_array_equal(x[spec.name], y[spec.name], err_msg=f"{what}: frame {i} {spec.name}")


class Sender:
    """Sends one stream's frames in order: start on the first, end on the last."""

    def __init__(self, client: GazeSamClient, frames: list[np.ndarray], times: list[float]):
        self.client, self.frames, self.times = client, frames, times
        self.stream_id = new_stream_id()
        self.outputs: list[dict[str, np.ndarray]] = []

    @property
    def done(self) -> bool:
        return len(self.outputs) == len(self.frames)

    def send_next(self) -> None:
        i = len(self.outputs)
        result = self.client.infer(
            self.frames[i], self.times[i], self.stream_id, start=i == 0, end=i == len(self.frames) - 1
        )
        self.outputs.append(result.to_outputs())


@pytest.fixture(scope="module")
def client(server):
    return GazeSamClient(server.grpc_url, "grpc", timeout_s=60)


@pytest.fixture(scope="module")
def videos():
    return {name: clip(name) for name in ("father_daughter_toys.mp4", "woman_cup_shelf.mp4")}


@pytest.fixture(scope="module")
def alone(client, videos):
    """Each video sent alone, as one stream."""
    outputs = {}
    for name, (frames, times) in videos.items():
        sender = Sender(client, frames, times)
        while not sender.done:
            sender.send_next()
        outputs[name] = sender.outputs
    return outputs


def test_a_stream_served_equals_the_in_process_pipeline(alone, videos):
    pipeline = InProcessPipeline(REPOSITORY)
    for name, (frames, times) in videos.items():
        last = len(frames) - 1
        expected = [pipeline(f, t, 1, start=i == 0, end=i == last) for i, (f, t) in enumerate(zip(frames, times))]
        assert_same(alone[name], expected, name)


def test_stream_state_shapes_the_output(alone, client, videos):
    """The test below can fail: a frame processed as its own stream differs from the same frame mid-stream."""
    frames, times = videos["father_daughter_toys.mp4"]
    differing = 0
    for i in range(1, len(frames)):
        fresh = client.infer(frames[i], times[i], new_stream_id(), start=True, end=True).to_outputs()
        in_stream = alone["father_daughter_toys.mp4"][i]
        differing += not np.array_equal(fresh["FACE_BOX"], in_stream["FACE_BOX"])
    print(f"face box smoothed differently from a fresh stream on {differing}/{len(frames) - 1} frames")
    assert differing > 0


def test_interleaved_streams_give_what_each_gives_alone(alone, client, videos):
    senders = [Sender(client, frames, times) for frames, times in videos.values()]
    while not all(s.done for s in senders):  # frame by frame, alternating streams
        for sender in senders:
            if not sender.done:
                sender.send_next()
    for name, sender in zip(videos, senders):
        assert_same(sender.outputs, alone[name], f"{name} interleaved vs alone")


def test_send_rate_does_not_change_the_output(alone, client, videos):
    frames, times = videos["woman_cup_shelf.mp4"]
    slow = Sender(client, frames, times)
    while not slow.done:
        slow.send_next()
        time.sleep(0.15)  # several times slower than the stream's own frame interval
    assert_same(slow.outputs, alone["woman_cup_shelf.mp4"], "slow vs fast")


def test_an_ended_stream_frees_its_slot(server):
    client = GazeSamClient(server.grpc_url, "grpc", timeout_s=30)
    frame = np.full((64, 64, 3), 90, np.uint8)
    streams = fill_every_slot(client, frame)
    extra = new_stream_id()
    started = time.perf_counter()
    with pytest.raises(InferenceServerException, match=f"at most {STREAMS.max_streams} concurrent streams"):
        client.infer(frame, 0.0, extra, start=True)
    print(f"stream {STREAMS.max_streams + 1} refused in {time.perf_counter() - started:.2f} s")
    client.infer(frame, 0.04, streams[0], end=True)  # the first stream's last frame frees its slot
    assert client.infer(frame, 0.0, extra, start=True, end=True).face_track_id == 0
    end_streams(client, frame, streams[1:])
    for _ in range(STREAMS.max_streams):  # every slot is free again
        client.infer(frame, 0.0, new_stream_id(), start=True, end=True)


def test_a_stream_whose_first_frame_failed_is_told_to_start_again(server):
    client = GazeSamClient(server.grpc_url, "grpc", timeout_s=20)
    stream, good = new_stream_id(), np.full((64, 64, 3), 90, np.uint8)
    with pytest.raises(InferenceServerException, match="got 8x8"):
        client.infer(np.zeros((8, 8, 3), np.uint8), 0.0, stream, start=True)
    started = time.perf_counter()
    with pytest.raises(InferenceServerException, match="must specify the START flag"):
        client.infer(good, 0.04, stream)  # answered at once by the first step, not left waiting
    assert time.perf_counter() - started < 5
    assert client.infer(good, 0.04, stream, start=True, end=True).status.name == "NO_FACE"


# --- admission: one table for both ensembles, and no refused or abandoned stream keeps a later one waiting ---

ANSWER_S = 1.0
"""A new stream gets an answer (admitted, or refused because the server is full) within this, whatever
earlier clients did."""


def jpeg_client(server) -> GazeSamClient:
    return GazeSamClient(server.grpc_url, "grpc", timeout_s=20, transport="jpeg")


def timed(call) -> tuple[object, float]:
    """(what ``call()`` returned or raised, seconds it took)."""
    started = time.perf_counter()
    try:
        result = call()
    except InferenceServerException as exc:
        result = exc
    return result, time.perf_counter() - started


def test_one_stream_id_is_one_stream_in_both_ensembles(server):
    raw, jpeg = GazeSamClient(server.grpc_url, "grpc", timeout_s=20), jpeg_client(server)
    frame, stream = np.full((64, 64, 3), 90, np.uint8), new_stream_id()
    raw.infer(frame, 0.0, stream, start=True)
    jpeg.infer(frame, 0.04, stream, start=True, end=True)  # the same stream, started again and ended via JPEG
    answer, seconds = timed(lambda: raw.infer(frame, 0.08, stream))
    print(f"a raw frame of a stream the JPEG ensemble ended: answered in {seconds:.2f} s: {answer}")
    assert isinstance(answer, InferenceServerException) and "must specify the START flag" in answer.message()
    assert seconds < 5
    assert raw.infer(frame, 0.12, stream, start=True, end=True).status.name == "NO_FACE"


def test_refused_and_failed_starts_never_keep_a_new_stream_waiting(server):
    client = GazeSamClient(server.grpc_url, "grpc", timeout_s=20)
    frame = np.full((64, 64, 3), 90, np.uint8)
    running = fill_every_slot(client, frame)
    refusals: dict[str, int] = {}
    started = time.perf_counter()
    for i in range(3 * STREAMS.max_streams + 8):  # more refused starts than Triton has sequence slots per model (64)
        bad = {0: (frame, float("nan")), 1: (np.zeros((8, 8, 3), np.uint8), 0.0)}.get(i % 4, (frame, 0.0))
        with pytest.raises(InferenceServerException) as refused:
            client.infer(*bad, new_stream_id(), start=True)
        refusals[refused.value.status()] = refusals.get(refused.value.status(), 0) + 1
    print(f"{sum(refusals.values())} refused starts in {time.perf_counter() - started:.1f} s: {refusals}")
    answer, seconds = timed(lambda: client.infer(frame, 0.0, new_stream_id(), start=True, end=True))
    print(f"a new stream while {STREAMS.max_streams} run: answered in {seconds:.2f} s: {answer}")
    assert isinstance(answer, InferenceServerException) and "concurrent streams" in answer.message()
    assert answer.status() == "StatusCode.UNAVAILABLE" and seconds < ANSWER_S
    client.infer(frame, 0.04, running.pop(), end=True)
    answer, seconds = timed(lambda: client.infer(frame, 0.0, new_stream_id(), start=True, end=True))
    print(f"a new stream once one slot is free: answered in {seconds:.2f} s")
    assert not isinstance(answer, InferenceServerException) and seconds < ANSWER_S
    end_streams(client, frame, running)
    assert set(refusals) == {"StatusCode.INVALID_ARGUMENT", "StatusCode.UNAVAILABLE"}


def test_abandoned_streams_free_their_slots_after_their_lease(server):
    client = GazeSamClient(server.grpc_url, "grpc", timeout_s=20)
    frame = np.full((64, 64, 3), 90, np.uint8)
    abandoned = [new_stream_id() for _ in range(STREAMS.max_streams)]
    for stream in abandoned:  # each sends a few frames at the server's pace, then stops without an end flag
        for i in range(3):
            client.infer(frame, i * 0.04, stream, start=i == 0)
    with pytest.raises(InferenceServerException, match="concurrent streams"):
        client.infer(frame, 0.0, new_stream_id(), start=True, end=True)
    started = time.perf_counter()
    while True:
        answer, _ = timed(lambda: client.infer(frame, 0.0, new_stream_id(), start=True, end=True))
        waited = time.perf_counter() - started
        if not isinstance(answer, InferenceServerException):
            break
        assert waited < STREAMS.lease_max_s, "no slot freed within the longest lease"
        time.sleep(0.5)
    print(f"{STREAMS.max_streams} abandoned streams: a new stream was admitted after {waited:.1f} s "
          f"(lease {STREAMS.lease_min_s:g}-{STREAMS.lease_max_s:g} s)")
    assert waited < 2 * STREAMS.lease_min_s  # a fast server's pace: the shortest lease, not the longest
    with pytest.raises(InferenceServerException, match="must specify the START flag"):
        client.infer(frame, 0.2, abandoned[0])  # a dropped stream is told to start again


@pytest.fixture
def fresh_server(tmp_path):
    """A server of its own: no stream an earlier test dropped still holds a slot here."""
    with TritonProcess(REPOSITORY, tmp_path / "tritonserver.log") as process:
        yield process


def test_a_sender_waits_for_a_slot_on_a_full_server_and_says_so(fresh_server):
    server = fresh_server
    holder = GazeSamClient(server.grpc_url, "grpc", timeout_s=20)
    frame = np.full((64, 64, 3), 90, np.uint8)
    running = fill_every_slot(holder, frame)
    freed = threading.Timer(3.0, lambda: holder.infer(frame, 0.04, running.pop(), end=True))
    events: list[str] = []
    sender = StreamSender(lambda _stream: GazeSamClient(server.grpc_url, "grpc", timeout_s=20),
                          Backoff(retries=2, first_wait_s=0.5, max_wait_s=1.0), on_event=events.append, slot_wait_s=30)
    freed.start()
    try:
        outcome = sender.send(frame, 0.0, last=True)
    finally:
        freed.join()
        sender.close()
        end_streams(holder, frame, running)
    print("\n".join(events))
    assert outcome.result is not None and outcome.started_stream
    assert 2.5 < sender.stats.slot_wait_s < 10
    assert any("server is full" in e for e in events) and any("got a stream slot" in e for e in events)


def test_a_sender_starts_its_stream_again_after_a_refused_frame(server):
    frame = np.full((64, 64, 3), 90, np.uint8)
    sender = StreamSender(lambda _stream: GazeSamClient(server.grpc_url, "grpc", timeout_s=20), Backoff(retries=1),
                          on_event=lambda _: None)
    outcomes = [sender.send(frame, 0.0), sender.send(np.zeros((8, 8, 3), np.uint8), 0.04),
                sender.send(frame, 0.08, last=True)]
    sender.close()
    assert [o.result is not None for o in outcomes] == [True, False, True]
    assert "got 8x8" in outcomes[1].error and outcomes[2].started_stream


def test_a_server_written_with_two_streams_runs_two_and_says_so(tmp_path, monkeypatch):
    """The serving config's max_streams reaches the running server (frame_check's config) and its clients."""
    serving = tmp_path / "serving.toml"
    serving.write_text(DEFAULT_SERVING_PATH.read_text().replace("max_streams = 16", "max_streams = 2"))
    monkeypatch.setenv("GAZESAM_SERVING", str(serving))
    repo = tmp_path / "repo"
    assert build_engines(["--models-dir", str(ROOT / "models"), "repository", "--out", str(repo),
                          "--models", "standin"]) == 0
    with TritonProcess(repo, tmp_path / "server.log") as server:
        client = GazeSamClient(server.grpc_url, "grpc", timeout_s=30)
        assert client.served_models().max_streams == 2
        frame = np.full((64, 64, 3), 90, np.uint8)
        streams = [new_stream_id() for _ in range(2)]
        for stream in streams:
            client.infer(frame, 0.0, stream, start=True)
        with pytest.raises(InferenceServerException, match="at most 2 concurrent streams"):
            client.infer(frame, 0.0, new_stream_id(), start=True)
        end_streams(client, frame, streams)
        video_file = str(shared_path("media", "videos", "woman_cup_shelf.mp4"))
        status = video.main(["--video", video_file, "--parallel", "3", "--url", server.grpc_url,
                             "--output-dir", str(tmp_path / "out")])
        assert status == ExitStatus.BAD_INPUT  # it asked the server how many streams it runs
