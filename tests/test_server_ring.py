"""The client-side consistent hash ring: a stream always maps to one server, streams spread over the
servers, and losing or adding a server moves only the streams it owned or takes over."""

from __future__ import annotations

import random

import pytest

from clients.server_ring import ServerRing

SERVERS = ["10.0.0.1:8001", "10.0.0.2:8001", "10.0.0.3:8001"]
_RNG = random.Random(7)
STREAMS = [_RNG.getrandbits(63) | 1 for _ in range(3000)]


def owners(ring: ServerRing) -> dict[int, str]:
    return {stream: ring.server_for(stream) for stream in STREAMS}


def test_a_stream_maps_to_one_server_whatever_the_order_the_servers_are_given_in():
    assert owners(ServerRing(SERVERS)) == owners(ServerRing(list(reversed(SERVERS)))) == owners(ServerRing(SERVERS))


def test_streams_spread_over_every_server():
    counts = {server: 0 for server in SERVERS}
    for server in owners(ServerRing(SERVERS)).values():
        counts[server] += 1
    for server, count in counts.items():
        assert 0.25 < count / len(STREAMS) < 0.42, f"{server} owns {count} of {len(STREAMS)} streams: {counts}"


def test_losing_a_server_moves_only_its_streams_each_to_its_next_on_the_ring():
    full = ServerRing(SERVERS)
    before, after = owners(full), owners(ServerRing(SERVERS[:2]))
    for stream in STREAMS:
        if before[stream] != SERVERS[2]:
            assert after[stream] == before[stream]
        else:
            assert after[stream] == full.order_for(stream)[1]


def test_adding_a_server_takes_about_a_quarter_of_the_streams_and_moves_no_other():
    before, after = owners(ServerRing(SERVERS)), owners(ServerRing(SERVERS + ["10.0.0.4:8001"]))
    moved = [stream for stream in STREAMS if after[stream] != before[stream]]
    assert all(after[stream] == "10.0.0.4:8001" for stream in moved)
    assert 0.18 < len(moved) / len(STREAMS) < 0.32


def test_order_for_names_every_server_once_and_duplicates_count_once():
    ring = ServerRing(SERVERS + SERVERS[:1])
    assert ring.servers == tuple(SERVERS)
    assert sorted(ring.order_for(12345)) == sorted(SERVERS)
    assert ServerRing(["a:1"]).order_for(12345) == ["a:1"]


def test_no_server_is_an_error():
    with pytest.raises(ValueError, match="at least one server"):
        ServerRing([])
