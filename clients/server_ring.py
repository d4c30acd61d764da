"""Client-side stream affinity over several servers: a consistent hash ring on the stream ID.

    ring = ServerRing(["10.0.0.5:8001", "10.0.0.6:8001"])
    ring.order_for(stream_id)   # every server, the stream's own first; the first serves all its frames

A stream's state lives in the server that saw its first frame, so all its frames must go there. Each
server owns many points on a ring of 64-bit hashes; a stream belongs to the first server point at or
after its ID's hash. Removing a server moves only the streams it owned (each to the next server on the
ring), and adding one takes only about 1/N of the streams: the same property as a proxy's ring hash
(Envoy ``ring_hash``) on the stream-ID header, for setups without a proxy.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence

POINTS_PER_SERVER = 160
"""Ring points per server: enough that streams spread within a few percent of evenly."""


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


class ServerRing:
    """A consistent hash ring over server addresses (duplicates count once; order does not matter)."""

    def __init__(self, servers: Sequence[str], points_per_server: int = POINTS_PER_SERVER):
        self.servers = tuple(dict.fromkeys(servers))
        if not self.servers:
            raise ValueError("a server ring needs at least one server address")
        ring = sorted((_hash(f"{server}#{i}"), server) for server in self.servers for i in range(points_per_server))
        self._points = [point for point, _ in ring]
        self._owners = [server for _, server in ring]

    def order_for(self, stream_id: int) -> list[str]:
        """Every server, in the order stream ``stream_id`` tries them: its owner first, then the next on the ring."""
        start = bisect.bisect_left(self._points, _hash(str(stream_id)))
        order: dict[str, None] = {}
        for i in range(len(self._owners)):
            order.setdefault(self._owners[(start + i) % len(self._owners)])
            if len(order) == len(self.servers):
                break
        return list(order)

    def server_for(self, stream_id: int) -> str:
        """The server that owns stream ``stream_id``."""
        return self.order_for(stream_id)[0]
