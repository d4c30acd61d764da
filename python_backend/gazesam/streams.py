"""Per-stream state on the server: one entry per client stream (Triton sequence), never shared.

The ensembles' shared first step (``frame_check``) admits streams (:mod:`gazesam.admission`): it
refuses a stream beyond the limit, a request without a stream ID and one that continues a stream it
does not run, before any branch runs. Later stateful steps follow it, each with a :class:`StreamTable`
holding only admitted streams, dropped at the stream's end or after the admission's ``slot_hold_s`` of silence
(as their Triton sequence batcher does). Refusing early matters: Triton 2.51 answers an error raised
at the ensemble's first step, but a request that a later step's sequence batcher refuses is never
answered, so a later step must never receive a request its batcher would refuse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Generic, TypeVar

import numpy as np

from .admission import START_REQUIRED_TEXT, AdmissionPolicy, StreamAdmission, UnknownStreamError

if TYPE_CHECKING:
    from .settings import Settings
    from .steps import Step

S = TypeVar("S")


class StreamTable(Generic[S]):
    """Stream ID -> state, created fresh on a stream's start and dropped at its end or when idle."""

    def __init__(self, new_state: Callable[[], S], idle_timeout_s: float):
        self._new_state = new_state
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
            state = self._new_state()
        elif stream_id in self._entries:
            state = self._entries[stream_id][0]
        else:
            raise UnknownStreamError(
                f"stream {stream_id} is not running in this step (its first frame failed here, or it sent nothing "
                f"for {self.idle_timeout_s:g} s): its next request {START_REQUIRED_TEXT}"
            )
        self._entries[stream_id] = (state, now)
        return state

    def end(self, stream_id: int | str) -> None:
        """Forget ``stream_id`` (its last frame was processed, or its start failed)."""
        self._entries.pop(stream_id, None)

    def _drop_idle(self, now: float) -> None:
        """Forget streams silent for longer than the idle timeout (their clients stopped without an end flag)."""
        idle = [sid for sid, (_, seen) in self._entries.items() if now - seen > self.idle_timeout_s]
        for sid in idle:
            del self._entries[sid]


class StepInstance:
    """One step as a Triton model instance holds it: the function, the settings, its streams."""

    def __init__(self, step: "Step", settings: "Settings", policy: AdmissionPolicy | None = None):
        """``policy``: the repository's admission (its config's parameters; default: the packaged one)."""
        self.step, self.settings = step, settings
        policy = policy or AdmissionPolicy()
        self.admission = StreamAdmission(policy) if step.admits_streams else None
        self.streams: StreamTable | None = None
        if step.stream_state is not None:
            self.streams = StreamTable(lambda: step.stream_state(settings), policy.slot_hold_s)

    @property
    def tracked(self) -> "StreamAdmission | StreamTable | None":
        """What this instance keeps streams in: the admission table for the admitting step, else its stream table."""
        return self.admission if self.admission is not None else self.streams

    def __call__(
        self, inputs: dict[str, np.ndarray], stream_id: int | str, start: bool, end: bool, now: float
    ) -> dict[str, np.ndarray]:
        """Outputs for one request of stream ``stream_id`` (``start``/``end`` flags) at wall time ``now``."""
        if self.admission is not None:
            outputs = self.step(self.settings, inputs)  # a bad frame is refused before it can take a slot
            self.admission.admit(stream_id, start, now)
            if end:
                self.admission.end(stream_id)
            return outputs
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
