"""The supervised server (``python -m gazesam_triton.serve``): a killed stub or a killed tritonserver is
noticed at once (readiness false until it serves again), restarted with a log line saying why, and a
video client running through both loses no frame beyond the ones in flight. A launcher killed outright
leaves orphaned stubs and /dev/shm regions; the next start on its port removes them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam_triton.server_leftovers import SHM_DIR, orphans, region_prefix
from gazesam_triton.server_process import TritonProcess
from gazesam_triton.supervisor import STUB_NAME

from client_support import write_clip
from conftest import ROOT, STANDIN_REPOSITORY, generated, shared_path

pytestmark = pytest.mark.e2e

NOTICED_WITHIN_S = 1.0
"""From a stub's death to the server answering not ready."""


def stub_pid(server: TritonProcess, model: str) -> int:
    """The pid of ``model``'s Python-backend stub under the server's tritonserver."""
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if STUB_NAME.encode() in args[0] and len(args) > 1 and f"/{model}/1/" in args[1].decode() \
                and region_prefix(server.grpc_port).encode() in b" ".join(args):
            return pid
    raise AssertionError(f"no stub of {model} found")


def seconds_until(condition, timeout_s: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def supervised(tmp_path_factory):
    with TritonProcess(generated(STANDIN_REPOSITORY), tmp_path_factory.mktemp("supervised") / "serve.log") as server:
        yield server


def serves(server: TritonProcess) -> bool:
    image = cv2.imread(str(shared_path("media", "images", "webcam_man_bookshelf.jpg")))
    result = GazeSamClient(server.grpc_url, "grpc", timeout_s=30).infer(image, 0.0, new_stream_id(), True, True)
    return result.status.name != "NO_FACE"


@pytest.mark.parametrize("model", ["sam_encoder", "depth_estimator"])
def test_a_killed_stub_makes_the_server_unready_until_it_is_restarted(supervised, model):
    assert serves(supervised)
    os.kill(stub_pid(supervised, model), signal.SIGKILL)
    noticed = seconds_until(lambda: not supervised.is_ready(), 10, "readiness to go false")
    back = seconds_until(supervised.is_ready, 180, "the restarted server to be ready")
    print(f"{model} stub killed: not ready after {noticed:.2f} s, ready again {back:.1f} s later")
    assert noticed < NOTICED_WITHIN_S
    assert serves(supervised)
    assert f"stub of {model}" in supervised.log_path.read_text() and "restarting tritonserver" in supervised.log_tail(400)


def test_a_killed_tritonserver_is_restarted_with_the_reason_logged(supervised):
    old = supervised.tritonserver_pid()
    os.kill(old, signal.SIGKILL)
    seconds_until(lambda: not supervised.is_ready(), 10, "readiness to go false")
    back = seconds_until(supervised.is_ready, 180, "the restarted server to be ready")
    print(f"tritonserver killed: ready again after {back:.1f} s")
    assert supervised.tritonserver_pid() not in (None, old) and serves(supervised)
    assert "tritonserver exited with signal 9 (SIGKILL)" in supervised.log_path.read_text()


def test_a_video_client_loses_no_frame_beyond_those_in_flight_when_a_stub_and_the_server_die(supervised, tmp_path):
    clip, frames = tmp_path / "clip.mp4", 300  # long enough to outlast both kills on a fast machine
    write_clip(clip, "woman_cup_shelf.mp4", frames)
    command = [sys.executable, str(ROOT / "clients" / "video.py"), "--video", str(clip), "--output-dir",
               str(tmp_path / "out"), "--url", supervised.grpc_url, "--results-json", "--timeout", "60",
               "--retries", "20", "--retry-wait", "0.5", "--retry-max-wait", "4"]
    client = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kills = 0
    try:
        for kill in (lambda: os.kill(stub_pid(supervised, "sam_encoder"), signal.SIGKILL),
                     lambda: os.kill(supervised.tritonserver_pid(), signal.SIGKILL)):
            time.sleep(3)
            assert client.poll() is None, "the client finished before the kill: make the clip longer"
            kill()
            kills += 1
            seconds_until(lambda: not supervised.is_ready(), 10, "readiness to go false")
            seconds_until(supervised.is_ready, 180, "the restarted server")
        stdout, stderr = client.communicate(timeout=600)
    finally:
        if client.poll() is None:
            client.kill()
    summary = json.loads((tmp_path / "out" / "clip_gazesam.json").read_text())["summary"]
    print(stdout, stderr[-2000:], sep="\n")
    assert summary["frames"] == frames
    assert summary["failed"] <= kills, f"more frames unannotated than were in flight at the {kills} kills"
    assert summary["stream_restarts"] >= kills


def test_a_killed_launchers_orphans_and_regions_are_removed_at_the_next_start(tmp_path):
    first = TritonProcess(generated(STANDIN_REPOSITORY), tmp_path / "first.log").start()
    prefix = region_prefix(first.grpc_port)
    try:
        os.kill(first.process.pid, signal.SIGKILL)  # the launcher only: its tritonserver follows, stubs stay
        first.process.wait()
        seconds_until(lambda: first.tritonserver_pid() is None and orphans(prefix), 20, "orphaned stubs")
        left = orphans(prefix)
        regions = sorted(p.name for p in SHM_DIR.glob(f"{prefix}*"))
        print(f"a launcher killed: {len(left)} orphaned processes, {len(regions)} /dev/shm regions left")
        assert left and regions
        second = TritonProcess(generated(STANDIN_REPOSITORY), tmp_path / "second.log")
        second.http_port, second.grpc_port, second.metrics_port = first.http_port, first.grpc_port, first.metrics_port
        with second:
            assert not [pid for pid in left if Path(f"/proc/{pid}").exists()]
            assert not set(regions) & {p.name for p in SHM_DIR.glob(f"{prefix}*")}
            assert "reaped" in second.log_path.read_text() and serves(second)
    finally:
        for pid in orphans(prefix):
            os.kill(pid, signal.SIGKILL)
