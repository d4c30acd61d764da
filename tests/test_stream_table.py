"""Per-stream state: fresh at start, never shared, freed at end or when idle, limited in number."""

from __future__ import annotations

import pytest

from gazesam.streams import StreamLimitError, StreamTable


def table(max_streams: int = 2, admits: bool = True) -> StreamTable:
    return StreamTable(lambda: {"frames": 0}, max_streams, idle_timeout_s=10.0, admits=admits)


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


def test_idle_streams_are_dropped_to_make_room():
    streams = table(max_streams=2)
    streams.state(1, True, 0.0)
    streams.state(2, True, 5.0)
    streams.state(3, True, 10.5)  # stream 1 idle for 10.5 s > 10 s
    assert streams.state(2, False, 11.0) is not None and len(streams) == 2


def test_following_tables_drop_the_least_recently_used_stream_instead_of_refusing():
    streams = table(max_streams=2, admits=False)
    streams.state(1, True, 0.0)["frames"] = 7
    streams.state(2, True, 0.0)
    streams.state(1, False, 1.0)
    streams.state(3, True, 2.0)  # drops 2, the least recently used
    assert streams.state(1, False, 3.0)["frames"] == 7
    assert len(streams) == 2


def test_an_unknown_stream_without_start_gets_fresh_state():
    assert table().state(42, False, 0.0) == {"frames": 0}
