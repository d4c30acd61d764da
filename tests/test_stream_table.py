"""Per-stream state: fresh at start, never shared, freed at end or when idle, limited in number."""

from __future__ import annotations

import numpy as np
import pytest

from gazesam.settings import load_settings
from gazesam.step import Step
from gazesam.streams import StepInstance, StreamLimitError, StreamTable, UnknownStreamError


def table(max_streams: int | None = 2) -> StreamTable:
    return StreamTable(lambda: {"frames": 0}, max_streams, idle_timeout_s=10.0)


def test_each_stream_has_its_own_state_and_start_resets_it():
    streams = table()
    streams.state(1, True, 0.0)["frames"] += 1
    streams.state(2, True, 0.0)["frames"] += 5
    assert streams.state(1, False, 1.0)["frames"] == 1
    assert streams.state(2, False, 1.0)["frames"] == 5
    assert streams.state(1, True, 2.0)["frames"] == 0


def test_the_admitting_table_refuses_one_stream_too_many_until_one_ends():
    streams = table(max_streams=2)
    streams.state(1, True, 0.0)
    streams.state(2, True, 0.0)
    with pytest.raises(StreamLimitError, match="at most 2 concurrent streams"):
        streams.state(3, True, 0.0)
    streams.end(1)
    streams.state(3, True, 0.0)
    assert len(streams) == 2


def test_idle_streams_are_dropped_to_make_room_and_must_start_again():
    streams = table(max_streams=2)
    streams.state(1, True, 0.0)
    streams.state(2, True, 5.0)
    streams.state(3, True, 10.5)  # stream 1 idle for 10.5 s > 10 s
    assert len(streams) == 2
    with pytest.raises(UnknownStreamError, match="must specify the START flag"):
        streams.state(1, False, 11.0)


def test_a_following_table_has_no_limit_of_its_own():
    streams = table(max_streams=None)
    for stream in range(100):
        streams.state(stream, True, 0.0)
    assert len(streams) == 100


def test_a_stream_that_never_started_is_refused():
    with pytest.raises(UnknownStreamError, match="stream 42 is not running"):
        table().state(42, False, 0.0)


def _fails_on_odd(settings, FRAME_TIME):
    if FRAME_TIME[0] % 2:
        raise ValueError("odd")
    return {}


def test_a_stream_whose_start_failed_is_not_running():
    instance = StepInstance(Step("check", _fails_on_odd, (), admits_streams=True), load_settings())
    with pytest.raises(ValueError):
        instance({"FRAME_TIME": np.array([1.0])}, 7, start=True, end=False, now=0.0)
    with pytest.raises(UnknownStreamError):
        instance({"FRAME_TIME": np.array([2.0])}, 7, start=False, end=False, now=0.1)
    instance({"FRAME_TIME": np.array([2.0])}, 7, start=True, end=False, now=0.2)
    instance({"FRAME_TIME": np.array([4.0])}, 7, start=False, end=True, now=0.3)  # ends: slot freed
    assert len(instance.streams) == 0
