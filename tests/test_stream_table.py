"""Per-stream state and admission: fresh at start, never shared, freed at end or when silent, limited in
number, and never a slot that a refused or abandoned stream keeps from a later one."""

from __future__ import annotations

import numpy as np
import pytest

from gazesam.admission import (
    AdmissionPolicy,
    MissingStreamIdError,
    StreamAdmission,
    StreamLimitError,
    UnknownStreamError,
)
from gazesam.frame_check import FrameError
from gazesam.refusals import Refusal, refusal_of
from gazesam.settings import load_settings
from gazesam.step import Step
from gazesam.streams import StepInstance, StreamTable

from conftest import STREAMS

POLICY = AdmissionPolicy(max_streams=2, sequence_slots=8, lease_min_s=10.0, lease_max_s=60.0, lease_gaps=4.0,
                         slot_hold_s=100.0)


def table() -> StreamTable:
    return StreamTable(lambda: {"frames": 0}, idle_timeout_s=10.0)


def test_each_stream_has_its_own_state_and_start_resets_it():
    streams = table()
    streams.state(1, True, 0.0)["frames"] += 1
    streams.state(2, True, 0.0)["frames"] += 5
    assert streams.state(1, False, 1.0)["frames"] == 1
    assert streams.state(2, False, 1.0)["frames"] == 5
    assert streams.state(1, True, 2.0)["frames"] == 0


def test_a_following_table_forgets_silent_streams_and_has_no_limit_of_its_own():
    streams = table()
    for stream in range(100):
        streams.state(stream, True, 0.0)
    assert len(streams) == 100
    streams.state(1000, True, 10.5)  # the others silent for 10.5 s > 10 s
    assert len(streams) == 1
    with pytest.raises(UnknownStreamError, match="must specify the START flag"):
        streams.state(1, False, 11.0)


def test_the_contract_keeps_followers_longer_than_any_lease_and_slots_above_the_limit():
    assert STREAMS.slot_hold_s > STREAMS.lease_max_s > STREAMS.lease_min_s > 0
    assert AdmissionPolicy().dropped_slots > 0 and STREAMS.sequence_slots > 2 * STREAMS.max_streams


def test_admission_refuses_one_stream_too_many_until_one_ends():
    admission = StreamAdmission(POLICY)
    admission.admit(1, True, 0.0)
    admission.admit(2, True, 0.0)
    with pytest.raises(StreamLimitError, match="at most 2 concurrent streams"):
        admission.admit(3, True, 0.0)
    admission.end(1)
    admission.admit(3, True, 0.0)
    assert len(admission) == 2


def test_admission_refuses_requests_without_an_id_or_of_a_stream_it_does_not_run():
    admission = StreamAdmission(POLICY)
    with pytest.raises(MissingStreamIdError, match="non-zero or non-empty correlation ID"):
        admission.admit(0, True, 0.0)
    with pytest.raises(MissingStreamIdError):
        admission.admit("", False, 0.0)
    with pytest.raises(UnknownStreamError, match="stream 42 is not running.*must specify the START flag"):
        admission.admit(42, False, 0.0)


def test_a_restarted_stream_keeps_its_slot():
    admission = StreamAdmission(POLICY)
    admission.admit(1, True, 0.0)
    admission.admit(2, True, 0.0)
    admission.admit(1, True, 1.0)  # the client started stream 1 again (it lost the connection)
    assert len(admission) == 2


def test_a_silent_stream_is_dropped_after_its_lease_which_follows_the_servers_pace():
    admission = StreamAdmission(POLICY)
    admission.admit(1, True, 0.0)
    for t in (0.5, 1.0, 1.5, 2.0):  # one fast stream: lease = the 10 s minimum
        admission.admit(1, False, t)
    assert admission.lease_s(1) == 10.0
    admission.admit(2, True, 2.0)  # two streams now share the frames: each waits longer for its turn
    assert admission.lease_s(1) == admission.lease_s(2) == 10.0
    admission.admit(2, False, 2.5)
    with pytest.raises(StreamLimitError, match="next in at most 1 s"):
        admission.admit(3, True, 11.0)  # stream 1 silent for 9 s: not yet dropped
    admission.admit(3, True, 12.1)  # silent for 10.1 s: its slot goes to stream 3
    with pytest.raises(UnknownStreamError):
        admission.admit(1, False, 12.5)


def test_a_stream_that_a_loaded_server_answers_slowly_keeps_its_slot():
    admission = StreamAdmission(POLICY)
    admission.admit(1, True, 0.0)
    for t in (20.0, 40.0):  # answered every 20 s: lease = the 60 s maximum (4 x 20 = 80)
        admission.admit(1, False, t)
    assert admission.lease_s(1) == 60.0
    admission.admit(1, False, 99.0)  # 59 s of silence: within its lease


def test_a_stream_without_a_known_pace_gets_the_longest_lease():
    admission = StreamAdmission(POLICY)
    admission.admit(1, True, 0.0)  # the server's first frame: nothing is known about its pace
    assert admission.lease_s(1) == 60.0


def test_dropped_streams_count_against_the_later_steps_slots_until_those_free_them():
    policy = AdmissionPolicy(max_streams=2, sequence_slots=8, lease_min_s=10.0, lease_max_s=60.0, slot_hold_s=1000.0)
    admission = StreamAdmission(policy)  # 8 slots: 2 running + 2 spare + 4 for dropped streams
    for t, streams in ((0.0, (1, 2)), (61.0, (3, 4))):  # two pairs of streams abandoned after one frame
        for stream in streams:
            admission.admit(stream, True, t)
    with pytest.raises(StreamLimitError, match="4 streams stopped without an end flag and still hold"):
        admission.admit(5, True, 122.0)  # 3 and 4 dropped too: four dropped streams hold the spare slots
    assert admission.dropped == 4 and len(admission) == 0
    admission.admit(1, True, 122.0)  # a dropped stream that starts again takes its own slots back
    admission.end(1)
    admission.admit(5, True, 1001.0)  # stream 2's slots were freed at 0 + 1000 s
    assert admission.dropped == 2


def test_refusals_say_whose_fault_they_are():
    assert refusal_of(StreamLimitError("full")) is Refusal.UNAVAILABLE
    assert refusal_of(FrameError("bad")) is Refusal.INVALID
    assert refusal_of(UnknownStreamError("start")) is Refusal.INVALID
    assert refusal_of(RuntimeError("broken")) is Refusal.INTERNAL


def _fails_on_odd(settings, FRAME_TIME):
    if FRAME_TIME[0] % 2:
        raise FrameError("odd")
    return {}


def test_a_start_whose_frame_is_refused_never_takes_a_slot():
    instance = StepInstance(Step("check", _fails_on_odd, (), admits_streams=True), load_settings())
    for stream in range(1, 100):  # far more refused starts than there are slots
        with pytest.raises(FrameError):
            instance({"FRAME_TIME": np.array([1.0])}, stream, start=True, end=False, now=0.0)
    assert len(instance.admission) == 0
    with pytest.raises(UnknownStreamError):
        instance({"FRAME_TIME": np.array([2.0])}, 7, start=False, end=False, now=0.1)
    instance({"FRAME_TIME": np.array([2.0])}, 7, start=True, end=False, now=0.2)
    instance({"FRAME_TIME": np.array([4.0])}, 7, start=False, end=True, now=0.3)  # ends: slot freed
    assert len(instance.admission) == 0
