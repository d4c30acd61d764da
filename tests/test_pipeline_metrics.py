"""The pipeline's metrics, counted without Triton: the real steps, stream tables and mask holds of the
stand-in set drive :func:`gazesam.pipeline_metrics.step_updates`; a small sink adds the updates up the
way Prometheus would see them. (The same counts on a real server's /metrics: test_e2e_metrics.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from gazesam.contracts import Status
from gazesam.frame_check import FrameError
from gazesam.mask_hold import Target
from gazesam.networks import model_set
from gazesam.pipeline_metrics import (
    MetricKind, MetricUpdate, failure_reason, initial_updates, step_updates,
)
from gazesam.settings import load_settings
from gazesam.step import Step
from gazesam.steps import python_steps
from gazesam.admission import StreamLimitError, UnknownStreamError
from gazesam.streams import StepInstance

from conftest import STREAMS

SERVED = model_set("standin")
STEPS = python_steps(SERVED)
SETTINGS = load_settings(model_set=SERVED)


class Series(dict):
    """(metric name, labels) -> value, as the exporter shows it: counters add, gauges take the last value."""

    def apply(self, updates: list[MetricUpdate]) -> None:
        for u in updates:
            key = (u.spec.name, u.labels)
            self[key] = self.get(key, 0.0) + u.value if u.spec.kind is MetricKind.COUNTER else u.value

    def value(self, name: str, **labels: str) -> float:
        (value,) = [v for (n, l), v in self.items() if n == name and dict(l) == labels]
        return value


def run(instance: StepInstance, series: Series, stream: int, start: bool, end: bool = False,
        frame: np.ndarray | None = None) -> None:
    """One request through a real step instance, its metric updates applied as the Triton adapter does."""
    frame = np.full((64, 64, 3), 90, np.uint8) if frame is None else frame
    outputs, error = None, None
    try:
        outputs = instance({"FRAME": frame, "FRAME_TIME": np.array([0.0])}, stream, start, end, now=0.0)
    except Exception as exc:
        error = exc
    series.apply(step_updates(instance.step, instance.tracked, outputs, error))


def test_every_series_starts_at_zero_and_only_where_the_step_can_report_it():
    admitting = Series()
    admitting.apply(initial_updates(STEPS["frame_check"]))
    assert admitting.value("gazesam_active_streams", model="frame_check") == 0
    assert admitting.value("gazesam_streams_refused_total", model="frame_check") == 0
    assert admitting.value("gazesam_step_failures_total", model="frame_check", reason="stream_limit") == 0

    stateless = Series()
    stateless.apply(initial_updates(Step("plain", lambda settings, FRAME: {}, ())))  # no stateless step is served
    reasons = {dict(labels)["reason"] for _, labels in stateless}
    assert reasons == {"bad_input", "internal"}  # no stream reasons: it never sees a stream

    tracking = Series()
    tracking.apply(initial_updates(STEPS["face_track"]))
    assert {dict(labels)["reason"] for _, labels in tracking} == {"bad_input", "internal", "unknown_stream"}

    selecting = Series()
    selecting.apply(initial_updates(STEPS["mask_select"]))
    assert {dict(l)["status"] for n, l in selecting if n == "gazesam_frames_total"} == {s.name.lower() for s in Status}
    assert selecting.value("gazesam_held_masks") == 0


def test_sixteen_streams_run_the_seventeenth_is_refused_and_ends_free_slots():
    instance, series = StepInstance(STEPS["frame_check"], SETTINGS), Series()
    series.apply(initial_updates(instance.step))
    for stream in range(1, STREAMS.max_streams + 1):
        run(instance, series, stream, start=True)
    assert series.value("gazesam_active_streams", model="frame_check") == STREAMS.max_streams
    run(instance, series, STREAMS.max_streams + 1, start=True)
    assert series.value("gazesam_streams_refused_total", model="frame_check") == 1
    assert series.value("gazesam_step_failures_total", model="frame_check", reason="stream_limit") == 1
    assert series.value("gazesam_active_streams", model="frame_check") == STREAMS.max_streams
    for stream in (1, 2, 3):
        run(instance, series, stream, start=False, end=True)
    assert series.value("gazesam_active_streams", model="frame_check") == STREAMS.max_streams - 3
    run(instance, series, 999, start=False)  # a stream the server does not run
    run(instance, series, 4, start=False, frame=np.zeros((8, 8, 3), np.uint8))  # too small
    assert series.value("gazesam_step_failures_total", model="frame_check", reason="unknown_stream") == 1
    assert series.value("gazesam_step_failures_total", model="frame_check", reason="bad_input") == 1
    assert series.value("gazesam_streams_refused_total", model="frame_check") == 1


def test_frames_are_counted_by_status_and_held_masks_by_stream():
    step = STEPS["mask_select"]
    instance, series = StepInstance(step, SETTINGS), Series()
    series.apply(initial_updates(step))
    target = Target(np.full((4, 4), 255, np.uint8), np.zeros(4, np.float32), 0, 0.9)
    holds = {stream: instance.streams.state(stream, True, 0.0) for stream in (1, 2, 3)}
    for stream, hold in holds.items():
        hold.update(target, track_id=1, t=0.0, frame_hw=(4, 4))
        series.apply(step_updates(step, instance.streams, {"STATUS": np.array([Status.OK])}, None))
    for stream in (1, 2):  # no target in these streams' next frame: their last one is held
        _, held = holds[stream].update(None, track_id=1, t=0.1, frame_hw=(4, 4))
        assert held
        series.apply(step_updates(step, instance.streams, {"STATUS": np.array([Status.HELD])}, None))
    assert series.value("gazesam_frames_total", status="ok") == 3
    assert series.value("gazesam_frames_total", status="held") == 2
    assert series.value("gazesam_held_masks") == 2
    holds[1].update(target, track_id=1, t=0.2, frame_hw=(4, 4))  # a fresh target: no longer held
    series.apply(step_updates(step, instance.streams, {"STATUS": np.array([Status.OK])}, None))
    assert series.value("gazesam_held_masks") == 1
    instance.streams.end(2)  # a stream that ends holds nothing
    series.apply(step_updates(step, instance.streams, None, UnknownStreamError("gone")))
    assert series.value("gazesam_held_masks") == 0
    assert series.value("gazesam_frames_total", status="ok") == 4  # a failed request is no frame
    assert series.value("gazesam_step_failures_total", model="mask_select", reason="unknown_stream") == 1


@pytest.mark.parametrize("error, reason", [
    (StreamLimitError("full"), "stream_limit"), (UnknownStreamError("x"), "unknown_stream"),
    (FrameError("bad"), "bad_input"), (RuntimeError("onnx failed"), "internal"),
])
def test_failure_reasons(error, reason):
    assert failure_reason(error).value == reason
