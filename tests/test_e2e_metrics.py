"""End to end, metrics: the pipeline's own metrics on a real tritonserver's /metrics (127.0.0.1) match
a known sequence of requests: 16 streams started, a 17th refused, a bad frame, a frame of a stream the
server does not run, then every stream ended.

A request continuing a stream that was never started, or one whose start failed, reaches ``frame_check``
(the one admission table, outside Triton's sequence batcher) and counts as ``unknown_stream``."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam.contracts import Status
from gazesam.pipeline_metrics import PIPELINE_METRICS
from gazesam_triton.server_process import free_port

from real_media import downscaled_clip

from conftest import STREAMS

pytestmark = pytest.mark.e2e

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DASHBOARD = DEPLOY / "helm" / "gazesam" / "dashboards" / "gazesam.json"
ADAPTER_VALUES = DEPLOY / "prometheus-adapter" / "values.yaml"

_SAMPLE = re.compile(r'^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$')


def scrape(server) -> dict[tuple[str, frozenset], float]:
    """The server's /metrics: (name, labels) -> value, for the pipeline's metric families."""
    with urllib.request.urlopen(server.metrics_url, timeout=10) as response:
        text = response.read().decode()
    names = {spec.name for spec in PIPELINE_METRICS}
    samples = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match["name"] in names:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
            samples[(match["name"], labels)] = float(match["value"])
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_metrics_follow_a_known_sequence_of_requests(server):
    fresh = scrape(server)
    assert {name for name, _ in fresh} == {spec.name for spec in PIPELINE_METRICS}, "a family is missing"
    assert all(v == 0 for v in fresh.values()), "a fresh server reports non-zero pipeline metrics"

    client = GazeSamClient(server.grpc_url, timeout_s=60)
    frames, _ = downscaled_clip("father_daughter_toys.mp4", 2, 320)
    statuses: Counter = Counter()
    streams = [new_stream_id() for _ in range(STREAMS.max_streams)]
    for stream in streams:
        statuses[client.infer(frames[0], 0.0, stream, start=True).status] += 1
    running = scrape(server)
    assert value(running, "gazesam_active_streams", model="frame_check") == STREAMS.max_streams

    with pytest.raises(InferenceServerException, match=f"at most {STREAMS.max_streams} concurrent streams"):
        client.infer(frames[0], 0.0, new_stream_id(), start=True)
    with pytest.raises(InferenceServerException, match="FRAME"):
        client.infer(np.zeros((8, 8, 3), np.uint8), 0.04, streams[0])  # too small: refused, the stream goes on
    for stream in streams:
        statuses[client.infer(frames[1], 0.04, stream, end=True).status] += 1
    failed_start = new_stream_id()
    with pytest.raises(InferenceServerException, match="FRAME"):
        client.infer(np.zeros((8, 8, 3), np.uint8), 0.0, failed_start, start=True)
    with pytest.raises(InferenceServerException, match="must specify the START flag"):
        client.infer(frames[0], 0.04, failed_start)  # its start failed: frame_check does not run it
    with pytest.raises(InferenceServerException, match="must specify the START flag"):
        client.infer(frames[0], 0.0, new_stream_id())  # never started: the admission refuses it too
    client.close()

    done = scrape(server)
    assert value(done, "gazesam_active_streams", model="frame_check") == 0
    assert value(done, "gazesam_streams_refused_total", model="frame_check") == 1
    failures = {reason: value(done, "gazesam_step_failures_total", model="frame_check", reason=reason)
                for reason in ("stream_limit", "bad_input", "unknown_stream", "internal")}
    assert failures == {"stream_limit": 1, "bad_input": 2, "unknown_stream": 2, "internal": 0}
    by_status = {status: value(done, "gazesam_frames_total", status=status.name.lower()) for status in Status}
    assert by_status == {status: statuses[status] for status in Status}
    assert sum(by_status.values()) == 2 * STREAMS.max_streams
    assert value(done, "gazesam_held_masks") == 0  # every stream has ended
    later_steps = [v for (name, labels), v in done.items()
                   if name == "gazesam_step_failures_total" and ("model", "frame_check") not in labels]
    assert later_steps and not any(later_steps), "a refused request reached a later step"


def test_every_metric_the_dashboard_and_the_adapter_query_is_on_the_servers_metrics(server):
    """Each name the dashboard and the Prometheus adapter's rules use is one the server exports; only the
    GPU metrics are missing here (no GPU: Triton exports them where one is)."""
    with urllib.request.urlopen(server.metrics_url, timeout=10) as response:
        exported = set(re.findall(r"^# TYPE (\w+) ", response.read().decode(), re.MULTILINE))
    queried = set(re.findall(r"\b((?:nv|gazesam)_[a-z_]+)\b", DASHBOARD.read_text() + ADAPTER_VALUES.read_text()))
    queried -= {"gazesam_queue_ms"}  # the adapter's name for a query, not a series
    gpu_only = {name for name in queried if name.startswith("nv_gpu_")}
    assert gpu_only == {"nv_gpu_utilization", "nv_gpu_memory_used_bytes", "nv_gpu_memory_total_bytes"}
    assert queried - gpu_only <= exported, f"queried but never exported: {sorted(queried - gpu_only - exported)}"


def probe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gazesam_triton.health_probe", *args],
                          capture_output=True, text=True, timeout=30)


def test_the_readiness_probe_passes_on_a_ready_server_and_names_what_is_not_ready(server):
    assert probe(f"--url={server.http_url}", "--model=gazesam", "--model=gazesam_jpeg").returncode == 0
    missing = probe(f"--url={server.http_url}", "--model=gazesam", "--model=no_such_model")
    assert missing.returncode == 1 and "/v2/models/no_such_model/ready" in missing.stderr
    down = probe(f"--url=127.0.0.1:{free_port()}", "--timeout=2")
    assert down.returncode == 1 and "/v2/health/ready" in down.stderr
