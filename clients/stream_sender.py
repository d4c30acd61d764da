"""One stream's requests: in order, one at a time, surviving a server that goes away and comes back.

    sender = StreamSender(lambda stream_id: GazeSamClient(url), Backoff(retries=10))
    outcome = sender.send(frame, frame_time_s=0.0)           # start=True goes with the first frame
    outcome = sender.send(last_frame, frame_time_s=t, last=True)
    sender.close()

A connection error (server down, restarting, past the deadline) is retried with back-off on a new
connection, and the retried frame starts the stream again (``start=True``): the server's state for the
stream is unknown (or gone, if it restarted). A frame the server refuses because it does not run the
stream ("must specify the START flag": it ended it, restarted, or dropped it when silent past its
lease) is sent again at once, starting it. The summary counts these restarts. A full server ("... at
most 16 concurrent streams ...") is waited for: the frame is sent again, with the back-off's waits,
until a slot frees or ``slot_wait_s`` (for the whole stream) has passed, with one message each way.
Any other per-request error (the server refused this frame) is not retried: the frame goes unannotated
and the next frame starts the stream again (the refusal may have come from a step that never saw the
stream's start). When the retries run out the server counts as unreachable: later frames fail fast,
and one attempt per ``max_wait_s`` checks whether it is back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from clients.backoff import Backoff
from clients.frame_transport import Frame
from clients.gazesam_client import (
    FrameResult, GazeSamClient, is_connection_error, is_server_full, is_unknown_stream_error, new_stream_id,
)
from clients.notices import notice

_MAX_ERROR_CHARS = 300
UNREACHABLE = "server unreachable"
"""SendOutcome.error of a frame given up because the server stayed away past every retry."""


@dataclass
class SenderStats:
    """How often the stream had to fight for its server."""

    retries: int = 0  # requests sent again after a connection error
    reconnects: int = 0  # connections opened anew after a connection error
    stream_restarts: int = 0  # times the stream was started again after it had been running
    unreachable_frames: int = 0  # frames given up because the server stayed away past every retry
    slot_wait_s: float = 0.0  # time spent waiting for a stream slot on a full server

    def add(self, other: "SenderStats") -> None:
        self.retries += other.retries
        self.reconnects += other.reconnects
        self.stream_restarts += other.stream_restarts
        self.unreachable_frames += other.unreachable_frames
        self.slot_wait_s += other.slot_wait_s


@dataclass(frozen=True)
class SendOutcome:
    """The server's result for one frame, or None with the reason it has none."""

    result: FrameResult | None
    latency_ms: float = 0.0  # of the request that answered
    error: str | None = None
    started_stream: bool = False  # the request that answered carried start=True (first frame, or a restart)


def short_error(exc: BaseException) -> str:
    """The first line of an error message, at most a few hundred characters."""
    text = (str(exc) or type(exc).__name__).strip().splitlines()[0]
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


class StreamSender:
    """Sends one stream's frames; use it from one thread (its client is not shared)."""

    def __init__(
        self,
        connect: Callable[[int], GazeSamClient],
        backoff: Backoff,
        on_event: Callable[[str], None] = notice,
        slot_wait_s: float = 300.0,
    ):
        """``connect(stream_id)``: a new client for this stream's server (several servers: see server_options).
        ``slot_wait_s``: how long, over the whole stream, to wait for a slot while the server is full."""
        self.stream_id = new_stream_id()
        self.stats = SenderStats()
        self._connect, self._backoff, self._on_event = connect, backoff, on_event
        self._slot_wait_s = slot_wait_s
        self._client: GazeSamClient | None = None
        self._opened = False  # a connection was opened before: the next one is a reconnect
        self._needs_start = True  # the next request must carry start=True
        self._started_before = False  # a start was acknowledged: a later start is a restart
        self._running = False  # the server has acknowledged a start and no end yet
        self._sent_start = False  # the last request carried start=True
        self._unreachable_until: float | None = None  # monotonic time of the next check while unreachable
        self._slot_wait_began: float | None = None  # monotonic time this stream began waiting for a slot

    def send(self, frame: Frame, frame_time_s: float, last: bool = False) -> SendOutcome:
        """Process one frame (clients.frame_transport.Frame) taken at ``frame_time_s`` s on the stream's clock."""
        if self._unreachable_until is not None and time.monotonic() < self._unreachable_until:
            self.stats.unreachable_frames += 1
            return SendOutcome(None, error=UNREACHABLE)
        waits = enumerate([] if self._unreachable_until is not None else self._backoff.waits(), start=1)
        slot_waits = iter(self._slot_waits())
        while True:
            try:
                return self._attempt(frame, frame_time_s, last)
            except Exception as exc:  # classified below; nothing is swallowed unseen
                if is_server_full(exc):
                    if not self._wait_for_slot(exc, next(slot_waits, None)):
                        return self._refused(exc)
                elif is_connection_error(exc):
                    retry, wait = next(waits, (0, None))
                    if wait is None:
                        return self._give_up(exc)
                    self._on_lost_connection(exc, retry, wait)
                elif is_unknown_stream_error(exc) and not self._needs_start:
                    self._needs_start = True  # the server forgot the stream: this frame starts it again
                else:
                    return self._refused(exc)

    def end_stream(self, frame: Frame, frame_time_s: float) -> bool:
        """Tell the server a stream whose last frame went out without ``end`` has ended (one try)."""
        if not self._running or self._needs_start:  # nothing to end, or the server may not know it
            return False
        try:
            self._client_now().infer(frame, frame_time_s, self.stream_id, start=False, end=True)
        except Exception:  # the server drops the stream when it is silent past its lease
            return False
        self._running = False
        return True

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _attempt(self, frame: Frame, frame_time_s: float, last: bool) -> SendOutcome:
        client = self._client_now()
        start = self._needs_start
        began = time.perf_counter()
        self._sent_start = start
        result = client.infer(frame, frame_time_s, self.stream_id, start=start, end=last)
        latency_ms = (time.perf_counter() - began) * 1000
        if self._unreachable_until is not None:
            self._on_event("the server answers again")
        if self._slot_wait_began is not None:
            self._on_event(f"got a stream slot after {time.monotonic() - self._slot_wait_began:.1f} s")
            self._slot_wait_began = None
        if start and self._started_before:
            self.stats.stream_restarts += 1
            self._on_event("stream started again on the server (its state for the stream was lost or dropped)")
        self._started_before = True
        self._needs_start, self._running, self._unreachable_until = False, not last, None
        return SendOutcome(result, latency_ms, started_stream=start)

    def _slot_waits(self) -> list[float]:
        """The waits before each new try while the server is full, within what is left of ``slot_wait_s``."""
        waits, total, wait = [], self.stats.slot_wait_s, self._backoff.first_wait_s
        while total + wait <= self._slot_wait_s:
            waits.append(wait)
            total += wait
            wait = min(wait * 2.0, self._backoff.max_wait_s)
        return waits

    def _wait_for_slot(self, exc: BaseException, wait: float | None) -> bool:
        """Sleep ``wait`` seconds for a slot on a full server (False: no wait left, the frame is refused)."""
        if wait is None:
            return False
        if self._slot_wait_began is None:
            self._slot_wait_began = time.monotonic()
            self._on_event(f"the server is full ({short_error(exc)}); waiting up to {self._slot_wait_s:g} s "
                           "for a stream slot")
        time.sleep(wait)
        self.stats.slot_wait_s += wait
        self._needs_start = True
        return True

    def _refused(self, exc: BaseException) -> SendOutcome:
        """The server refused this frame: it goes unannotated and the next frame starts the stream again."""
        self._needs_start, self._running = True, False
        return SendOutcome(None, error=short_error(exc))

    def _client_now(self) -> GazeSamClient:
        if self._client is None:
            if self._opened:
                self.stats.reconnects += 1
            self._client, self._opened = self._connect(self.stream_id), True
        return self._client

    def _on_lost_connection(self, exc: BaseException, retry: int, wait: float) -> None:
        self.stats.retries += 1
        self._on_event(f"no answer from the server ({short_error(exc)}); retry {retry}/{self._backoff.retries} "
                       f"in {wait:g} s")
        self._drop_connection()
        time.sleep(wait)

    def _give_up(self, exc: BaseException) -> SendOutcome:
        if self._unreachable_until is None:
            self._on_event(
                f"server unreachable after {self._backoff.retries} retries ({short_error(exc)}); frames are "
                f"written unannotated, one try every {self._backoff.max_wait_s:g} s until it answers"
            )
        self._drop_connection()
        self._unreachable_until = time.monotonic() + self._backoff.max_wait_s
        self.stats.unreachable_frames += 1
        return SendOutcome(None, error=UNREACHABLE)

    def _drop_connection(self) -> None:
        """Forget the connection (gRPC would otherwise wait out its own reconnect back-off) and the stream."""
        self.close()
        self._needs_start, self._running = True, False
