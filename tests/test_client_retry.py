"""Faults: the server is killed (SIGKILL) in the middle of ``clients/video.py`` and started again on the
same ports a few seconds later. The client retries with back-off, reconnects, starts its stream again,
and finishes: the output has exactly the input's frame count, and the summary counts the restart and any
frame written unannotated. A server that stays down: every later frame is written unannotated and counted
(exit status 1), and a sender resumes when the server returns. Plus the back-off policy, the error
classification on a real server's errors, and the restart of a stream the server forgot.

Needs the generated ``model_repository/`` (``make setup``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import pytest
from tritonclient.utils import InferenceServerException

from clients.backoff import Backoff
from clients.exit_status import ExitStatus
from clients.gazesam_client import GazeSamClient, is_connection_error, is_unknown_stream_error, new_stream_id
from clients.stream_sender import StreamSender
from gazesam_triton.server_process import TritonProcess

from client_support import decoded_frames, write_clip
from conftest import shared_path

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = ROOT / "model_repository_standin"
CLIP_FRAMES = 60
KILL_AFTER_FRAMES = 10
DOWN_FOR_S = 3.0

pytestmark = pytest.mark.e2e


def test_backoff_doubles_up_to_its_cap():
    assert Backoff(retries=5, first_wait_s=0.5, max_wait_s=3.0).waits() == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert Backoff(retries=0).waits() == [] and Backoff(retries=0).total_wait_s == 0
    assert Backoff(retries=3, first_wait_s=1, max_wait_s=10).total_wait_s == 7
    with pytest.raises(ValueError):
        Backoff(retries=-1)
    with pytest.raises(ValueError):
        Backoff(retries=2, first_wait_s=5, max_wait_s=1)


@pytest.fixture
def server(tmp_path):
    if not (REPOSITORY / "gazesam" / "config.pbtxt").is_file():
        pytest.fail(f"{REPOSITORY} is not generated: run 'make setup' first")
    process = TritonProcess(REPOSITORY, tmp_path / "tritonserver-1.log")
    with process:
        yield process


def test_errors_are_classified_from_a_real_server(server):
    """A bad frame and an unknown stream are per-request errors; a server that is gone is a connection error."""
    frame = cv2.imread(str(shared_path("media", "images", "webcam_man_bookshelf.jpg")))
    for protocol, url in (("grpc", server.grpc_url), ("http", server.http_url)):
        client = GazeSamClient(url, protocol, timeout_s=30)
        with pytest.raises(InferenceServerException) as bad:
            client.infer(frame[:16, :16], 0.0, new_stream_id(), start=True, end=True)
        assert not is_connection_error(bad.value) and not is_unknown_stream_error(bad.value)
        with pytest.raises(InferenceServerException) as unknown:  # continues a stream that never started
            client.infer(frame, 0.0, new_stream_id())
        assert is_unknown_stream_error(unknown.value) and not is_connection_error(unknown.value), unknown.value
        client.close()
    server.stop()
    for protocol, url in (("grpc", server.grpc_url), ("http", server.http_url)):
        client = GazeSamClient(url, protocol, timeout_s=5)
        with pytest.raises(Exception) as down:
            client.infer(frame, 0.0, new_stream_id(), start=True, end=True)
        assert is_connection_error(down.value), f"{protocol}: {down.value!r}"
        client.close()


def test_a_stream_the_server_forgot_is_started_again(server):
    """The server ends the stream behind the sender's back; the sender's next frame starts it again."""
    frame = cv2.imread(str(shared_path("media", "images", "webcam_man_bookshelf.jpg")))
    events: list[str] = []
    sender = StreamSender(lambda _stream: GazeSamClient(server.grpc_url, "grpc", timeout_s=30), Backoff(retries=2),
                          on_event=events.append)
    first = sender.send(frame, 0.0)
    other = GazeSamClient(server.grpc_url, "grpc", timeout_s=30)
    other.infer(frame, 0.0, sender.stream_id, start=True, end=True)  # the same ID, started and ended
    other.close()
    second = sender.send(frame, 0.04, last=True)
    sender.close()
    assert first.result is not None and second.result is not None
    assert second.started_stream and sender.stats.stream_restarts == 1 and sender.stats.retries == 0


def ensemble_requests(server: TritonProcess) -> int:
    """Requests the ``gazesam`` ensemble has answered, from the server's metrics (0 while unreachable)."""
    try:
        with urllib.request.urlopen(server.metrics_url, timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return 0
    match = re.search(r'^nv_inference_request_success\{model="gazesam",version="1"\} (\d+)', text, re.M)
    return int(match.group(1)) if match else 0


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def run_video_client_through_a_kill(server: TritonProcess, tmp_path: Path, restart: bool,
                                    retry_args: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    """Run clients/video.py on a real clip; SIGKILL the server mid-run, then (``restart``) start it again."""
    clip = tmp_path / "clip.mp4"
    write_clip(clip, "woman_cup_shelf.mp4", CLIP_FRAMES)
    out_dir = tmp_path / "out"
    command = [sys.executable, str(ROOT / "clients" / "video.py"), "--video", str(clip), "--output-dir",
               str(out_dir), "--url", server.grpc_url, "--results-json", "--timeout", "60", *retry_args]
    client = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: ensemble_requests(server) >= KILL_AFTER_FRAMES or client.poll() is not None, 120,
                 f"{KILL_AFTER_FRAMES} frames processed")
        assert client.poll() is None, "the client finished before the kill: make the clip longer"
        server.kill()  # SIGKILL of the whole service: no shutdown, every stream's state is lost
        if restart:
            time.sleep(DOWN_FOR_S)
            server.log_path = tmp_path / "tritonserver-2.log"
            server.start()  # on the same ports (chosen when the TritonProcess was made)
        stdout, stderr = client.communicate(timeout=300)
    finally:
        if client.poll() is None:
            client.kill()
    print(stdout, stderr[-3000:], sep="\n")
    run = subprocess.CompletedProcess(command, client.returncode, stdout, stderr)
    results = json.loads((out_dir / "clip_gazesam.json").read_text())
    # whatever happened, every input frame is in the output, annotated or not, and counted
    summary = results["summary"]
    assert summary["frames"] == CLIP_FRAMES == len(results["frames"])
    assert len(decoded_frames(out_dir / "clip_gazesam.mp4")) == CLIP_FRAMES
    unannotated = [f["index"] for f in results["frames"] if f["status"] is None]
    assert summary["processed"] == CLIP_FRAMES - len(unannotated) and summary["failed"] == len(unannotated)
    assert f"frames: {CLIP_FRAMES} (processed {summary['processed']}, failed {summary['failed']}" in stdout
    assert run.returncode == (ExitStatus.UNANNOTATED if unannotated else ExitStatus.OK), stderr[-2000:]
    return run, results


def test_video_client_survives_a_server_kill_and_restart(server, tmp_path):
    run, results = run_video_client_through_a_kill(
        server, tmp_path, restart=True, retry_args=["--retries", "12", "--retry-wait", "0.25", "--retry-max-wait", "4"]
    )
    summary = results["summary"]
    assert summary["failed"] == 0 and run.returncode == ExitStatus.OK  # the frame in flight was retried
    # the client noticed, retried on a new connection, and started its stream again on the restarted server
    assert summary["retries"] >= 1 and summary["reconnects"] >= 1 and summary["stream_restarts"] == 1
    starts = [f["index"] for f in results["frames"] if f["stream_start"]]
    assert starts[0] == 0 and len(starts) == 2 and starts[1] >= KILL_AFTER_FRAMES - 1
    assert ensemble_requests(server) >= CLIP_FRAMES - starts[1]  # the restarted server did the rest
    assert "stream restarted 1 time(s)" in run.stdout


def test_video_client_writes_every_frame_when_the_server_stays_down(server, tmp_path):
    run, results = run_video_client_through_a_kill(
        server, tmp_path, restart=False, retry_args=["--retries", "2", "--retry-wait", "0.1", "--retry-max-wait", "0.2"]
    )
    summary = results["summary"]
    assert run.returncode == ExitStatus.UNANNOTATED
    assert KILL_AFTER_FRAMES - 1 <= summary["processed"] < CLIP_FRAMES
    assert summary["unreachable_frames"] == summary["failed"] and summary["retries"] >= 2
    failed = [f["index"] for f in results["frames"] if f["status"] is None]
    assert failed == list(range(failed[0], CLIP_FRAMES))  # once down, every later frame went unannotated
    assert "server unreachable after 2 retries" in run.stderr


def test_sender_resumes_when_an_unreachable_server_returns(server):
    frame = cv2.imread(str(shared_path("media", "images", "webcam_man_bookshelf.jpg")))
    sender = StreamSender(lambda _stream: GazeSamClient(server.grpc_url, "grpc", timeout_s=30),
                          Backoff(retries=1, first_wait_s=0.1, max_wait_s=0.5), on_event=print)
    assert sender.send(frame, 0.0).result is not None
    server.kill()  # a graceful stop would wait for the open stream to end
    gone = sender.send(frame, 0.04)
    assert gone.result is None and gone.error == "server unreachable"
    assert sender.send(frame, 0.08).error == "server unreachable"  # fails fast until the next check
    server.start()
    time.sleep(0.6)
    back = sender.send(frame, 0.12, last=True)
    sender.close()
    assert back.result is not None and back.started_stream
    assert sender.stats.stream_restarts == 1 and sender.stats.unreachable_frames == 2
