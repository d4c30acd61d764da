"""Soak: 2,000 requests as 12 steady streams on a real supervised server (tiny stand-ins, real video frames
at 320 px) while a churn client fills the other 4 of the 16 stream slots with short streams it ends or
abandons (it sends a few frames, then stops without an end flag), starts that fail (NaN time, a frame
too small) and starts the full server refuses. The steady streams must see zero failed requests, every
churn request must be answered within its deadline (never a silent wait), and the server's memory (the
launcher, tritonserver and its Python stubs) must grow less than 10% from the end of warm-up to the end.
Prints the figures.

    make soak      # or: .venv/bin/python -m pytest -q -m soak tests/test_soak.py
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pytest
from tqdm import tqdm

from clients.gazesam_client import GazeSamClient, new_stream_id
from tritonclient.utils import InferenceServerException

from gazesam_triton.process_memory import TreeMemory, tree_memory

from real_media import downscaled_clip

from conftest import STREAMS as ADMISSION


STREAMS = 12
CHURN_SLOTS = ADMISSION.max_streams - STREAMS
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


@dataclass
class Churn:
    """Short streams in the spare slots: ended, abandoned, failing or refused; counts each kind of answer."""

    client: GazeSamClient
    frames: list[np.ndarray]
    answers: dict[str, int] = field(default_factory=dict)
    unanswered: list[str] = field(default_factory=list)  # a deadline passed: the silent wait, which must not happen
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        for i in itertools.count():
            if self.stop.is_set():
                return
            kind = ("ended", "abandoned", "nan", "tiny", "abandoned")[i % 5]
            stream, frame = new_stream_id(), self.frames[i % len(self.frames)]
            frames = {"nan": [(frame, float("nan"))], "tiny": [(np.zeros((8, 8, 3), np.uint8), 0.0)]}.get(
                kind, [(frame, t / 30) for t in range(3)])
            for t, (image, frame_time) in enumerate(frames):
                try:
                    self.client.infer(image, frame_time, stream, start=t == 0, end=kind == "ended" and t == 2)
                    self.count(f"{kind}: served")
                except InferenceServerException as exc:
                    if exc.status() == "StatusCode.DEADLINE_EXCEEDED":
                        self.unanswered.append(f"{kind} stream {stream}: {exc}")
                    refused = "server full" if "concurrent streams" in exc.message() else exc.status()
                    self.count(f"{kind}: {refused}")
                    break
            time.sleep(0.2)

    def count(self, what: str) -> None:
        self.answers[what] = self.answers.get(what, 0) + 1


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


def test_soak_sixteen_streams_with_churn_no_failures_and_bounded_memory(server, pytestconfig):
    videos = [video_frames(name) for name in ("father_daughter_toys.mp4", "woman_cup_shelf.mp4")]
    per_stream = -(-SOAK_REQUESTS // STREAMS)  # at least SOAK_REQUESTS in all
    streams = [
        Stream(GazeSamClient(server.grpc_url, "grpc", timeout_s=60), *videos[i % len(videos)],
               total=WARMUP_REQUESTS_PER_STREAM + per_stream)
        for i in range(STREAMS)
    ]
    churn = Churn(GazeSamClient(server.grpc_url, "grpc", timeout_s=30), videos[0][0])
    churner = threading.Thread(target=churn.run, daemon=True)
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        churner.start()
        run_concurrently(streams, WARMUP_REQUESTS_PER_STREAM, "warm-up")
        warm: TreeMemory = tree_memory(server.process.pid)
        for stream in streams:
            stream.latencies_s.clear()
        with MemorySampler(server.process.pid) as sampler:
            wall_s = run_concurrently(streams, per_stream, f"soak ({STREAMS} streams + {CHURN_SLOTS} churn slots)")
        end: TreeMemory = tree_memory(server.process.pid)
        churn.stop.set()
        churner.join()

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
            f"({(end.pss_bytes / warm.pss_bytes - 1) * 100:+.2f}%)\n"
            f"  churn in the other {CHURN_SLOTS} slots: {dict(sorted(churn.answers.items()))}; "
            f"unanswered: {len(churn.unanswered)}"
        )
    assert sent == per_stream * STREAMS >= SOAK_REQUESTS
    assert not failures, failures[:5]
    assert not churn.unanswered, churn.unanswered[:3]
    assert churn.answers.get("abandoned: served") and churn.answers.get("nan: StatusCode.INVALID_ARGUMENT")
    assert end.processes == warm.processes  # no stub died or was added
    assert growth < MAX_MEMORY_GROWTH
