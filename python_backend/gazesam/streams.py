"""Per-stream state on the server: one entry per client stream (Triton sequence), never shared.

A stateful step keeps a :class:`StreamTable`. The first stateful step of the graph admits streams
and answers stream ``max_streams + 1`` with :class:`StreamLimitError`; later stateful steps follow
it and make room by dropping their least recently used stream instead of refusing.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Callable, Generic, TypeVar

import numpy as np

from .contracts import MAX_STREAMS, STREAM_IDLE_TIMEOUT_S

if TYPE_CHECKING:
    from .settings import Settings
    from .steps import Step

S = TypeVar("S")


class StreamLimitError(RuntimeError):
    """Every stream slot is in use; the message says how to free one."""


class StreamTable(Generic[S]):
    """Stream ID -> state, created fresh on a stream's start and dropped at its end or when idle."""

    def __init__(self, new_state: Callable[[], S], max_streams: int, idle_timeout_s: float, admits: bool):
        self._new_state = new_state
        self.max_streams = max_streams
        self.idle_timeout_s = idle_timeout_s
        self.admits = admits
        self._entries: OrderedDict[int | str, tuple[S, float]] = OrderedDict()  # least recently used first

    def __len__(self) -> int:
        return len(self._entries)

    def state(self, stream_id: int | str, start: bool, now: float) -> S:
        """The state of ``stream_id`` at wall time ``now``: fresh when ``start`` or when not known."""
        if start or stream_id not in self._entries:
            self._entries.pop(stream_id, None)
            self._make_room(now)
            state = self._new_state()
        else:
            state = self._entries.pop(stream_id)[0]
        self._entries[stream_id] = (state, now)
        return state

    def end(self, stream_id: int | str) -> None:
        """Forget ``stream_id`` (its last frame was processed); its slot is free again."""
        self._entries.pop(stream_id, None)

    def _make_room(self, now: float) -> None:
        idle = [sid for sid, (_, seen) in self._entries.items() if now - seen > self.idle_timeout_s]
        for sid in idle:
            del self._entries[sid]
        if len(self._entries) < self.max_streams:
            return
        if self.admits:
            raise StreamLimitError(
                f"the server keeps state for at most {self.max_streams} concurrent streams and all are in use; "
                f"end a stream (sequence_end on its last frame) or wait until one has been idle for "
                f"{self.idle_timeout_s:g} s"
            )
        self._entries.popitem(last=False)


class StepInstance:
    """One step as a Triton model instance holds it: the function, the settings, its streams' states."""

    def __init__(self, step: "Step", settings: "Settings"):
        self.step, self.settings = step, settings
        self.streams: StreamTable | None = None
        if step.stream_state is not None:
            self.streams = StreamTable(
                lambda: step.stream_state(settings), MAX_STREAMS, STREAM_IDLE_TIMEOUT_S, step.admits_streams
            )

    def __call__(
        self, inputs: dict[str, np.ndarray], stream_id: int | str, start: bool, end: bool, now: float
    ) -> dict[str, np.ndarray]:
        """Outputs for one request of stream ``stream_id`` (``start``/``end`` flags) at wall time ``now``."""
        if self.streams is None:
            return self.step(self.settings, inputs)
        state = self.streams.state(stream_id, start, now)
        try:
            return self.step(self.settings, inputs, state)
        finally:
            if end:
                self.streams.end(stream_id)
