"""The pipeline's own metrics, beside Triton's: what each step's requests did to streams and frames.

Pure counting logic, free of Triton: :func:`step_updates` turns one answered (or refused) request of a
step into :class:`MetricUpdate` values; the Triton adapter (``gazesam_triton.step_metrics``) applies them
to the Python backend's metric families, which Triton exports on its ``/metrics`` endpoint.

| metric | kind | labels | reported by |
|---|---|---|---|
| ``gazesam_active_streams`` | gauge | ``model`` | the admitting first step (``frame_check``, one table for both ensembles) |
| ``gazesam_streams_refused_total`` | counter | ``model`` | the same steps: new streams refused at capacity |
| ``gazesam_frames_total`` | counter | ``status`` (``ok``, ``no_face``, ``no_target``, ``held``) | ``mask_select`` |
| ``gazesam_held_masks`` | gauge | | ``mask_select``: streams whose latest frame got their held mask |
| ``gazesam_step_failures_total`` | counter | ``model``, ``reason`` | every Python step: requests it refused |

Gauges change only when a request reaches the step: a stream dropped for idling leaves
``gazesam_active_streams`` until the next request (the table drops idle streams then).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .contracts import Status
from .mask_hold import MaskHold
from .admission import StreamLimitError, UnknownStreamError

if TYPE_CHECKING:
    from .step import Step
    from .streams import StreamTable


class MetricKind(enum.Enum):
    COUNTER = "counter"  # an update adds its value
    GAUGE = "gauge"  # an update sets its value


@dataclass(frozen=True)
class MetricSpec:
    """One metric family: Prometheus name, kind, help text and label names."""

    name: str
    kind: MetricKind
    description: str
    labels: tuple[str, ...] = ()


ACTIVE_STREAMS = MetricSpec(
    "gazesam_active_streams", MetricKind.GAUGE,
    "Streams the ensemble's first step keeps state for (at most serving.toml's max_streams, both ensembles together)", ("model",))
STREAMS_REFUSED = MetricSpec(
    "gazesam_streams_refused_total", MetricKind.COUNTER,
    "New streams refused because every stream slot was in use", ("model",))
FRAMES = MetricSpec(
    "gazesam_frames_total", MetricKind.COUNTER, "Frames answered, by their STATUS output", ("status",))
HELD_MASKS = MetricSpec(
    "gazesam_held_masks", MetricKind.GAUGE,
    "Streams whose latest frame was answered with their held mask (STATUS held)")
STEP_FAILURES = MetricSpec(
    "gazesam_step_failures_total", MetricKind.COUNTER,
    "Requests a Python step answered with an error, by reason", ("model", "reason"))
PIPELINE_METRICS = (ACTIVE_STREAMS, STREAMS_REFUSED, FRAMES, HELD_MASKS, STEP_FAILURES)


class FailureReason(str, enum.Enum):
    """Why a step refused a request (the ``reason`` label)."""

    STREAM_LIMIT = "stream_limit"  # every stream slot in use
    UNKNOWN_STREAM = "unknown_stream"  # continues a stream the server does not run
    BAD_INPUT = "bad_input"  # the request's tensors break their contract or limits
    INTERNAL = "internal"  # anything else: a bug or a broken model file


@dataclass(frozen=True)
class MetricUpdate:
    """Add ``value`` to a counter, or set a gauge to it, for one label set."""

    spec: MetricSpec
    labels: tuple[tuple[str, str], ...]
    value: float


def failure_reason(error: BaseException) -> FailureReason:
    if isinstance(error, StreamLimitError):
        return FailureReason.STREAM_LIMIT
    if isinstance(error, UnknownStreamError):
        return FailureReason.UNKNOWN_STREAM
    if isinstance(error, ValueError):  # FrameError, InputLimitError and other contract checks
        return FailureReason.BAD_INPUT
    return FailureReason.INTERNAL


def _update(spec: MetricSpec, value: float, **labels: str) -> MetricUpdate:
    return MetricUpdate(spec, tuple((name, labels[name]) for name in spec.labels), float(value))


def reports_status(step: "Step") -> bool:
    """True for the step that writes the ensemble's STATUS output (it counts frames and held masks)."""
    return "STATUS" in step.output_names


def _held_streams(streams: "StreamTable") -> int:
    return sum(1 for state in streams.states() if isinstance(state, MaskHold) and state.holding)


def possible_failures(step: "Step") -> list[FailureReason]:
    """The reasons ``step`` can refuse a request for (stream reasons only where it tracks streams)."""
    reasons = [FailureReason.BAD_INPUT, FailureReason.INTERNAL]
    if step.sequence_batched or step.admits_streams:
        reasons.append(FailureReason.UNKNOWN_STREAM)
    if step.admits_streams:
        reasons.append(FailureReason.STREAM_LIMIT)
    return reasons


def initial_updates(step: "Step") -> list[MetricUpdate]:
    """Every series ``step`` reports, at zero: present on ``/metrics`` before the first request."""
    name = step.name
    updates = [_update(STEP_FAILURES, 0, model=name, reason=reason.value) for reason in possible_failures(step)]
    if step.admits_streams:
        updates += [_update(ACTIVE_STREAMS, 0, model=name), _update(STREAMS_REFUSED, 0, model=name)]
    if reports_status(step):
        updates += [_update(FRAMES, 0, status=status.name.lower()) for status in Status]
        updates.append(_update(HELD_MASKS, 0))
    return updates


def step_updates(
    step: "Step",
    streams: "StreamTable | None",
    outputs: Mapping[str, np.ndarray] | None,
    error: BaseException | None,
) -> list[MetricUpdate]:
    """What one request of ``step`` changes: ``outputs`` when it was answered, else the ``error`` it got.

    ``streams`` is the step's stream table after the request (the admission table for the admitting step;
    None for a stateless step); only its length (and, for ``mask_select``, its states) is read.
    """
    updates: list[MetricUpdate] = []
    if error is not None:
        reason = failure_reason(error)
        updates.append(_update(STEP_FAILURES, 1, model=step.name, reason=reason.value))
        if reason is FailureReason.STREAM_LIMIT:
            updates.append(_update(STREAMS_REFUSED, 1, model=step.name))
    if step.admits_streams and streams is not None:
        updates.append(_update(ACTIVE_STREAMS, len(streams), model=step.name))
    if reports_status(step):
        if outputs is not None:
            updates.append(_update(FRAMES, 1, status=Status(int(outputs["STATUS"][0])).name.lower()))
        if streams is not None:
            updates.append(_update(HELD_MASKS, _held_streams(streams)))
    return updates


def used_specs(updates: Iterable[MetricUpdate]) -> list[MetricSpec]:
    """The distinct metric families ``updates`` touch, in first-seen order."""
    return list(dict.fromkeys(update.spec for update in updates))
