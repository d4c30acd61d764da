"""Per-stream state on the server: one entry per client stream (Triton sequence), never shared.

Every stateful step keeps a :class:`StreamTable`. The ensemble's first step (``frame_check`` /
``frame_decode``) admits streams: it answers stream ``max_streams + 1`` with :class:`StreamLimitError`
before any branch runs. Later stateful steps follow it: they hold only admitted streams, dropped at
the stream's end or when idle.

A stream is known to a table only once its start request succeeded there; a later request of a
stream the table does not know gets :class:`UnknownStreamError` (the client starts the stream again).
Refusing early matters: Triton 2.51 answers a sequence error raised at the ensemble's first step, but
one raised by a later step's sequence batcher is never answered, so a later step must never receive a
request its batcher would refuse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar

import numpy as np

from .contracts import MAX_STREAMS, STREAM_IDLE_TIMEOUT_S

if TYPE_CHECKING:
    from .settings import Settings
    from .steps import Step

S = TypeVar("S")


class StreamLimitError(RuntimeError):
    """Every stream slot is in use; the message says how to free one."""


class UnknownStreamError(RuntimeError):
    """A request continues a stream that never started here, or that was dropped when idle."""


class StreamTable(Generic[S]):
    """Stream ID -> state, created fresh on a stream's start and dropped at its end or when idle.

    ``max_streams``: refuse a new stream beyond this many (the admitting table); None: no limit of its own.
    """

    def __init__(self, new_state: Callable[[], S], max_streams: int | None, idle_timeout_s: float):
        self._new_state = new_state
        self.max_streams = max_streams
        self.idle_timeout_s = idle_timeout_s
        self._entries: dict[int | str, tuple[S, float]] = {}  # stream ID -> (state, wall time last seen)

    def __len__(self) -> int:
        return len(self._entries)

    def states(self) -> list[S]:
        """The state of every stream the table holds now."""
        return [state for state, _ in self._entries.values()]

    def state(self, stream_id: int | str, start: bool, now: float) -> S:
        """The state of ``stream_id`` at wall time ``now``; a fresh one when ``start``."""
        self._drop_idle(now)
        if start:
            self._entries.pop(stream_id, None)
            self._check_room()
            state = self._new_state()
        elif stream_id in self._entries:
            state = self._entries[stream_id][0]
        else:
            raise UnknownStreamError(
                f"stream {stream_id} is not running on the server (its first frame failed, the server restarted, "
                f"or it sent nothing for {self.idle_timeout_s:g} s): its next request must specify the START flag"
            )
        self._entries[stream_id] = (state, now)
        return state

    def end(self, stream_id: int | str) -> None:
        """Forget ``stream_id`` (its last frame was processed, or its start failed); its slot is free again."""
        self._entries.pop(stream_id, None)

    def _drop_idle(self, now: float) -> None:
        """Forget streams silent for longer than the idle timeout (their clients stopped without an end flag)."""
        idle = [sid for sid, (_, seen) in self._entries.items() if now - seen > self.idle_timeout_s]
        for sid in idle:
            del self._entries[sid]

    def _check_room(self) -> None:
        if self.max_streams is not None and len(self._entries) >= self.max_streams:
            raise StreamLimitError(
                f"the server keeps state for at most {self.max_streams} concurrent streams and all are in use; "
                f"end a stream (sequence_end on its last frame) or wait until one has been idle for "
                f"{self.idle_timeout_s:g} s"
            )


class StepInstance:
    """One step as a Triton model instance holds it: the function, the settings, its streams' states."""

    def __init__(self, step: "Step", settings: "Settings"):
        self.step, self.settings = step, settings
        self.streams: StreamTable | None = None
        if step.tracks_streams:
            new_state: Callable[[], Any] = (lambda: step.stream_state(settings)) if step.stream_state else bool
            limit = MAX_STREAMS if step.admits_streams else None
            self.streams = StreamTable(new_state, limit, STREAM_IDLE_TIMEOUT_S)

    def __call__(
        self, inputs: dict[str, np.ndarray], stream_id: int | str, start: bool, end: bool, now: float
    ) -> dict[str, np.ndarray]:
        """Outputs for one request of stream ``stream_id`` (``start``/``end`` flags) at wall time ``now``."""
        if self.streams is None:
            return self.step(self.settings, inputs)
        state = self.streams.state(stream_id, start, now)
        try:
            outputs = self.step(self.settings, inputs, state)
        except Exception:
            if start:  # a stream whose start failed is not running: its next request must start it again
                self.streams.end(stream_id)
            raise
        if end:
            self.streams.end(stream_id)
        return outputs
