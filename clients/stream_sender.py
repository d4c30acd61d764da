"""One stream's requests: in order, one at a time, surviving a server that goes away and comes back.

    sender = StreamSender(lambda stream_id: GazeSamClient(url), Backoff(retries=10))
    outcome = sender.send(frame, frame_time_s=0.0)           # start=True goes with the first frame
    outcome = sender.send(last_frame, frame_time_s=t, last=True)
    sender.close()

A connection error (server down, restarting, past the deadline) is retried with back-off on a new
connection, and the retried frame starts the stream again (``start=True``): the server's state for the
stream is unknown (or gone, if it restarted). A stream silent for nearly contracts.STREAM_IDLE_TIMEOUT_S
is started again too (the server drops idle streams), and a frame the server refuses because it does not
know the stream ("must specify the START flag") is sent again at once, starting it. The summary counts
these restarts. Any other per-request error (the server refused this frame) is not retried: the frame
goes unannotated and the stream goes on (a refused first frame leaves the next one to start the stream).
When the retries run out the server counts as unreachable: later frames fail fast, and one attempt per
``max_wait_s`` checks whether it is back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from clients.backoff import Backoff
from clients.frame_transport import Frame
from clients.gazesam_client import (
    FrameResult, GazeSamClient, is_connection_error, is_unknown_stream_error, new_stream_id,
)
from clients.notices import notice
from gazesam.contracts import STREAM_IDLE_TIMEOUT_S

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

    def add(self, other: "SenderStats") -> None:
        self.retries += other.retries
        self.reconnects += other.reconnects
        self.stream_restarts += other.stream_restarts
        self.unreachable_frames += other.unreachable_frames


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
        idle_restart_s: float = 0.9 * STREAM_IDLE_TIMEOUT_S,
    ):
        """``connect(stream_id)``: a new client for this stream's server (several servers: see server_options).
        ``idle_restart_s``: a stream silent this long is started again, as the server drops idle streams."""
        self.stream_id = new_stream_id()
        self.stats = SenderStats()
        self._connect, self._backoff, self._on_event = connect, backoff, on_event
        self._idle_restart_s = idle_restart_s
        self._last_sent_s = 0.0  # monotonic time the last answered request was sent
        self._client: GazeSamClient | None = None
        self._opened = False  # a connection was opened before: the next one is a reconnect
        self._needs_start = True  # the next request must carry start=True
        self._started_before = False  # a start was acknowledged: a later start is a restart
        self._running = False  # the server has acknowledged a start and no end yet
        self._sent_start = False  # the last request carried start=True
        # The server refused a start: Triton's sequence batcher keeps that sequence until an end flag or its
        # idle timeout, though the stream never ran; end_stream ends it.
        self._start_refused = False
        self._unreachable_until: float | None = None  # monotonic time of the next check while unreachable

    def send(self, frame: Frame, frame_time_s: float, last: bool = False) -> SendOutcome:
        """Process one frame (clients.frame_transport.Frame) taken at ``frame_time_s`` s on the stream's clock."""
        if self._unreachable_until is not None and time.monotonic() < self._unreachable_until:
            self.stats.unreachable_frames += 1
            return SendOutcome(None, error=UNREACHABLE)
        waits = enumerate([] if self._unreachable_until is not None else self._backoff.waits(), start=1)
        while True:
            try:
                return self._attempt(frame, frame_time_s, last)
            except Exception as exc:  # classified below; nothing is swallowed unseen
                if is_connection_error(exc):
                    retry, wait = next(waits, (0, None))
                    if wait is None:
                        return self._give_up(exc)
                    self._on_lost_connection(exc, retry, wait)
                elif is_unknown_stream_error(exc) and not self._needs_start:
                    self._needs_start = True  # the server forgot the stream: this frame starts it again
                else:
                    self._start_refused = self._start_refused or self._sent_start
                    return SendOutcome(None, error=short_error(exc))

    def end_stream(self, frame: Frame, frame_time_s: float) -> bool:
        """Tell the server a stream whose last frame went out without ``end`` has ended (one try).

        False when no stream was running; a refused start's sequence is ended all the same (see __init__).
        """
        if self._start_refused and not self._running:
            self._start_refused = False
            try:
                self._client_now().infer(frame, frame_time_s, self.stream_id, start=False, end=True)
            except Exception:  # the first step refuses it (the stream is not running); Triton ends the sequence
                pass
            return False
        idle = time.monotonic() - self._last_sent_s >= self._idle_restart_s
        if not self._running or self._needs_start or idle:  # nothing to end, or the server may not know it
            return False
        try:
            self._client_now().infer(frame, frame_time_s, self.stream_id, start=False, end=True)
        except Exception:  # the server will drop the stream when it idles (contracts.STREAM_IDLE_TIMEOUT_S)
            return False
        self._running = False
        return True

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _attempt(self, frame: Frame, frame_time_s: float, last: bool) -> SendOutcome:
        client = self._client_now()
        sent_s = time.monotonic()
        # The server may have dropped a stream idle this long: start it again rather than be refused.
        start = self._needs_start or sent_s - self._last_sent_s >= self._idle_restart_s
        began = time.perf_counter()
        self._sent_start = start
        result = client.infer(frame, frame_time_s, self.stream_id, start=start, end=last)
        latency_ms = (time.perf_counter() - began) * 1000
        if self._unreachable_until is not None:
            self._on_event("the server answers again")
        if start and self._started_before:
            self.stats.stream_restarts += 1
            self._on_event("stream started again on the server (its state for the stream was lost or idle)")
        self._started_before, self._last_sent_s = True, sent_s
        self._needs_start, self._running, self._unreachable_until = False, not last, None
        self._start_refused = False
        return SendOutcome(result, latency_ms, started_stream=start)

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
