"""Soak: 2,000 requests as 4 concurrent streams on a real tritonserver (tiny stand-ins, real video frames at
320 px), with zero failed requests and the server's memory (tritonserver + its Python stubs) growing less
than 10% from the end of warm-up to the end of the run. Prints the figures.

    make soak      # or: .venv/bin/python -m pytest -q -m soak tests/test_soak.py
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pytest
from tqdm import tqdm

from clients.gazesam_client import GazeSamClient, new_stream_id

from gazesam_triton.process_memory import TreeMemory, tree_memory

from real_media import downscaled_clip


STREAMS = 4
SOAK_REQUESTS = 2000
WARMUP_REQUESTS_PER_STREAM = 25
FRAME_WIDTH = 320
FRAMES_PER_VIDEO = 60
MAX_MEMORY_GROWTH = 0.10
MEMORY_SAMPLE_S = 1.0
MIB = 2**20

pytestmark = [pytest.mark.e2e, pytest.mark.soak]


def video_frames(name: str) -> tuple[list[np.ndarray], float]:
    """The first FRAMES_PER_VIDEO frames of a real video at FRAME_WIDTH px, and its frame rate."""
    return downscaled_clip(name, FRAMES_PER_VIDEO, FRAME_WIDTH)


@dataclass
class Stream:
    """One client stream: its frames in order (looping), its own clock, start on the first, end on the last."""

    client: GazeSamClient
    frames: list[np.ndarray]
    fps: float
    total: int  # requests this stream sends over warm-up and soak
    stream_id: int = field(default_factory=new_stream_id)
    sent: int = 0
    failures: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)

    def send(self, count: int, progress: tqdm) -> None:
        for _ in range(count):
            i = self.sent
            started = time.perf_counter()
            try:
                self.client.infer(self.frames[i % len(self.frames)], i / self.fps, self.stream_id,
                                  start=i == 0, end=i == self.total - 1)
                self.latencies_s.append(time.perf_counter() - started)
            except Exception as exc:  # every failure is counted and reported, none may happen
                self.failures.append(f"stream {self.stream_id} request {i}: {exc}")
            self.sent += 1
            progress.update(1)


def run_concurrently(streams: list[Stream], per_stream: int, description: str) -> float:
    """Each stream sends ``per_stream`` requests in its own thread; returns the wall time in seconds."""
    with tqdm(total=per_stream * len(streams), desc=description, unit="req", mininterval=2.0) as progress:
        threads = [threading.Thread(target=s.send, args=(per_stream, progress)) for s in streams]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


class MemorySampler:
    """Samples the server tree's memory every MEMORY_SAMPLE_S seconds in the background."""

    def __init__(self, pid: int):
        self.pid, self.samples = pid, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(MEMORY_SAMPLE_S):
            self.samples.append(tree_memory(self.pid))

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def mib(value: int) -> str:
    return f"{value / MIB:.1f} MiB"


def test_soak_four_streams_no_failures_and_bounded_memory(server, pytestconfig):
    videos = [video_frames(name) for name in ("father_daughter_toys.mp4", "woman_cup_shelf.mp4")]
    per_stream = SOAK_REQUESTS // STREAMS
    streams = [
        Stream(GazeSamClient(server.grpc_url, "grpc", timeout_s=60), *videos[i % len(videos)],
               total=WARMUP_REQUESTS_PER_STREAM + per_stream)
        for i in range(STREAMS)
    ]
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        run_concurrently(streams, WARMUP_REQUESTS_PER_STREAM, "warm-up")
        warm: TreeMemory = tree_memory(server.process.pid)
        for stream in streams:
            stream.latencies_s.clear()
        with MemorySampler(server.process.pid) as sampler:
            wall_s = run_concurrently(streams, per_stream, f"soak ({STREAMS} streams)")
        end: TreeMemory = tree_memory(server.process.pid)

        failures = [f for s in streams for f in s.failures]
        latencies_ms = np.array([t for s in streams for t in s.latencies_s]) * 1000
        sent = sum(s.sent for s in streams) - WARMUP_REQUESTS_PER_STREAM * STREAMS
        peak_rss = max([end.rss_bytes, *(m.rss_bytes for m in sampler.samples)])
        growth = end.rss_bytes / warm.rss_bytes - 1
        print(
            f"\nsoak: {sent} requests as {STREAMS} concurrent streams ({FRAME_WIDTH} px real video frames) "
            f"in {wall_s:.1f} s = {sent / wall_s:.1f} req/s; failed: {len(failures)}\n"
            f"  latency ms: p50 {np.percentile(latencies_ms, 50):.0f}  p95 {np.percentile(latencies_ms, 95):.0f}  "
            f"max {latencies_ms.max():.0f}\n"
            f"  server RSS ({end.processes} processes): after warm-up {mib(warm.rss_bytes)}, end {mib(end.rss_bytes)}, "
            f"peak {mib(peak_rss)}; growth {growth * 100:+.2f}% (limit {MAX_MEMORY_GROWTH * 100:.0f}%)\n"
            f"  server PSS: after warm-up {mib(warm.pss_bytes)}, end {mib(end.pss_bytes)} "
            f"({(end.pss_bytes / warm.pss_bytes - 1) * 100:+.2f}%)"
        )
    assert sent == SOAK_REQUESTS
    assert not failures, failures[:5]
    assert end.processes == warm.processes  # no stub died or was added
    assert growth < MAX_MEMORY_GROWTH
