"""Which streams the server runs: admission, leases and the Triton slots dropped streams still hold.

Both ensembles start with the same step (``frame_check``), which keeps one :class:`StreamAdmission`,
so a stream ID is one stream whichever ensemble its frames go to. That step is outside Triton's
sequence batcher: a refused start, or a start whose frame is bad, is answered there and never takes
a Triton sequence slot. Only admitted streams reach the later stateful steps, which are under the
sequence batcher; each holds a slot there until its end flag, or for ``slot_hold_s`` after its last
frame when it stops without one. The admission counts those slots too and refuses a new stream
rather than let it wait, unanswered, for one (Triton 2.51 backlogs a sequence with no free slot).

A stream's lease is renewed by each frame and lasts ``lease_gaps`` times the server's pace for it,
clamped to [``lease_min_s``, ``lease_max_s``]. The pace is the longer of the stream's own recent gaps
between frames and the running streams divided by the frames per second the server admits (each client
sends its next frame when the last is answered, so that is how long a stream waits its turn; it grows
the moment more streams join). An abandoned stream frees its slot within seconds on a fast server,
while a stream that a loaded server answers slowly keeps its own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .serving import PACKAGED, ServingConfig

SERVER_FULL_TEXT = "concurrent streams"
"""In every "server full" refusal: clients recognise it and wait for a slot."""
START_REQUIRED_TEXT = "must specify the START flag"
"""In every refusal of a frame that continues a stream the server does not run: start it again."""
_RECENT_GAPS = 8
_RECENT_FRAMES = 32


class StreamLimitError(RuntimeError):
    """No stream slot is free now; the message says when one frees."""


class UnknownStreamError(ValueError):
    """A request continues a stream that never started here, ended, or was dropped when silent."""


class MissingStreamIdError(ValueError):
    """A request carries no correlation ID, so it belongs to no stream."""


SLOTS_PER_STREAM = 8
"""Triton's sequence slots per admitted stream in each later stateful step (``oldest {
max_candidate_sequences }``). The admission counts the slots that dropped streams still hold there and
refuses a new stream rather than let it wait for one."""
SLOT_HOLD_LEASES = 3
"""The later stateful steps keep a silent stream for this many longest leases: longer than any lease, so
they never forget a stream the admission still runs."""
POLICY_PARAMETERS = ("max_streams", "lease_min_s", "lease_max_s", "lease_gaps")
"""The admitting step's config parameters (written from the serving config, read back when it loads)."""


@dataclass(frozen=True)
class AdmissionPolicy:
    """The numbers of the admission (defaults: the packaged ``serving.toml``). ``sequence_slots`` and
    ``slot_hold_s`` follow from the others unless given."""

    max_streams: int = PACKAGED.max_streams
    lease_min_s: float = PACKAGED.lease_min_s
    lease_max_s: float = PACKAGED.lease_max_s
    lease_gaps: float = PACKAGED.lease_gaps
    sequence_slots: int = 0  # Triton's slots per later stateful step (0: SLOTS_PER_STREAM per stream)
    slot_hold_s: float = 0.0  # how long a later step keeps a silent stream's slot (0: SLOT_HOLD_LEASES leases)

    def __post_init__(self) -> None:
        if not self.sequence_slots:
            object.__setattr__(self, "sequence_slots", SLOTS_PER_STREAM * self.max_streams)
        if not self.slot_hold_s:
            object.__setattr__(self, "slot_hold_s", SLOT_HOLD_LEASES * self.lease_max_s)

    @property
    def dropped_slots(self) -> int:
        """Slots that dropped streams may hold; the rest (max_streams kept spare) serve running streams."""
        return self.sequence_slots - 2 * self.max_streams

    def parameters(self) -> dict[str, str]:
        """The config parameters that carry this policy (:data:`POLICY_PARAMETERS`)."""
        return {name: f"{getattr(self, name):g}" for name in POLICY_PARAMETERS}

    @classmethod
    def of_serving(cls, config: ServingConfig) -> AdmissionPolicy:
        """The policy of a serving config's ``[streams]``."""
        return cls(config.max_streams, config.lease_min_s, config.lease_max_s, config.lease_gaps)

    @classmethod
    def from_parameters(cls, params: dict[str, str]) -> AdmissionPolicy:
        """The policy a config's parameters state (KeyError naming a missing one)."""
        return cls(int(params["max_streams"]), *(float(params[name]) for name in POLICY_PARAMETERS[1:]))


@dataclass
class _Lease:
    last_seen: float
    gaps: deque = field(default_factory=lambda: deque(maxlen=_RECENT_GAPS))

    def renew(self, now: float) -> None:
        self.gaps.append(max(now - self.last_seen, 0.0))
        self.last_seen = now


class StreamAdmission:
    """The running streams (at most ``policy.max_streams``) and the slots dropped ones still hold."""

    def __init__(self, policy: AdmissionPolicy = AdmissionPolicy()):
        self.policy = policy
        self._live: dict[int | str, _Lease] = {}
        self._dropped: dict[int | str, float] = {}  # stream ID -> when the later steps free its slot
        self._admitted_at: deque[float] = deque(maxlen=_RECENT_FRAMES)  # wall times of the last frames admitted

    def __len__(self) -> int:
        return len(self._live)

    @property
    def dropped(self) -> int:
        """Dropped streams whose slots the later steps still hold."""
        return len(self._dropped)

    def admit(self, stream_id: int | str, start: bool, now: float) -> None:
        """Let one request of ``stream_id`` (``start``: its first frame) pass at wall time ``now``, or raise."""
        if not stream_id:
            raise MissingStreamIdError(
                "the request must specify a non-zero or non-empty correlation ID: every frame belongs to a "
                "stream (sequence_id, with sequence_start on its first frame)"
            )
        self._expire(now)
        lease = self._live.get(stream_id)
        if start:
            if lease is None:
                self._check_room(reclaims_slot=stream_id in self._dropped, now=now)
            self._dropped.pop(stream_id, None)  # its slots in the later steps are taken over
            self._live[stream_id] = _Lease(now)
        elif lease is None:
            raise UnknownStreamError(
                f"stream {stream_id} is not running on the server (its first frame failed, it ended, the server "
                f"restarted, or it was silent past its lease of {self.policy.lease_min_s:g}-"
                f"{self.policy.lease_max_s:g} s): its next request {START_REQUIRED_TEXT}"
            )
        else:
            lease.renew(now)
        self._admitted_at.append(now)

    def end(self, stream_id: int | str) -> None:
        """``stream_id``'s last frame passed (the later steps free its slot with it)."""
        self._live.pop(stream_id, None)

    def lease_s(self, stream_id: int | str) -> float:
        """How long ``stream_id`` may stay silent before it is dropped: ``lease_gaps`` times its pace, clamped."""
        lease = self._live.get(stream_id)
        pace = max([*(lease.gaps if lease is not None else ()), self._turn_s()])
        p = self.policy
        return min(max(p.lease_gaps * pace, p.lease_min_s), p.lease_max_s)

    def _turn_s(self) -> float:
        """How long a stream now waits for its turn: running streams / frames per second admitted lately."""
        if len(self._admitted_at) < 2 or self._admitted_at[-1] <= self._admitted_at[0]:
            return self.policy.lease_max_s  # no pace known yet: the longest lease
        per_second = (len(self._admitted_at) - 1) / (self._admitted_at[-1] - self._admitted_at[0])
        return len(self._live) / per_second

    def _expire(self, now: float) -> None:
        silent = [sid for sid, lease in self._live.items() if now - lease.last_seen > self.lease_s(sid)]
        for sid in silent:
            self._dropped[sid] = self._live.pop(sid).last_seen + self.policy.slot_hold_s
        for sid in [sid for sid, free_at in self._dropped.items() if free_at <= now]:
            del self._dropped[sid]

    def _check_room(self, reclaims_slot: bool, now: float) -> None:
        """Raise unless a new stream may start (``reclaims_slot``: it takes back the slots it held)."""
        p = self.policy
        if len(self._live) >= p.max_streams:
            frees_in = min(lease.last_seen + self.lease_s(sid) for sid, lease in self._live.items()) - now
            raise StreamLimitError(
                f"the server keeps state for at most {p.max_streams} {SERVER_FULL_TEXT} and all are in use; "
                f"a slot frees when a stream ends (sequence_end on its last frame) or is silent past its lease "
                f"(the next in at most {max(frees_in, 0.0):.0f} s)"
            )
        if not reclaims_slot and len(self._dropped) >= p.dropped_slots:
            frees_in = min(self._dropped.values()) - now
            raise StreamLimitError(
                f"the server cannot start more {SERVER_FULL_TEXT} now: {len(self._dropped)} streams stopped "
                f"without an end flag and still hold the later steps' slots (for {p.slot_hold_s:g} s after their "
                f"last frame; the next frees in {max(frees_in, 0.0):.0f} s)"
            )
