"""The clients' server options (addresses, protocol, timeout, retries) and the start-up check.

Several ``--url`` values spread the streams over several servers without a proxy: each stream goes to
the server its stream ID hashes to on a consistent hash ring (:mod:`clients.server_ring`) and stays
there. A stream that must reconnect (its server died or restarts) takes the first server on its ring
order that is ready, so only the lost server's streams move; they start again there.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from typing import Callable

from clients.backoff import Backoff
from clients.frame_transport import TRANSPORTS
from clients.gazesam_client import DEFAULT_URLS, GazeSamClient, ServedModels
from clients.notices import notice
from clients.server_ring import ServerRing


class ServerNotReady(RuntimeError):
    """The gazesam ensemble does not answer at the given address."""


def add_server_arguments(parser: argparse.ArgumentParser, timeout_s: float) -> None:
    group = parser.add_argument_group("server")
    group.add_argument("--protocol", choices=("grpc", "http"), default="grpc", help="default: %(default)s")
    group.add_argument("--url", action="append", metavar="HOST:PORT",
                       help=f"server address (default: {DEFAULT_URLS['grpc']} for grpc, {DEFAULT_URLS['http']} "
                            "for http); repeat for several servers: each stream goes to one of them, chosen by a "
                            "consistent hash of its stream ID, for all its frames")
    group.add_argument("--transport", choices=TRANSPORTS, default="raw",
                       help="how frames reach the server: raw (in the request), shm (shared memory; the server "
                            "must run on this machine), jpeg (encoded here, decoded by the server's gazesam_jpeg "
                            "ensemble) (default: %(default)s)")
    group.add_argument("--timeout", type=float, default=timeout_s,
                       help="per-request timeout, seconds (default: %(default)s)")
    group.add_argument("--retries", type=int, default=10,
                       help="retries of a request that gets no answer (server down or restarting) before the "
                            "server counts as unreachable (default: %(default)s)")
    group.add_argument("--retry-wait", type=float, default=0.5,
                       help="wait before the first retry, seconds; it doubles each retry (default: %(default)s)")
    group.add_argument("--retry-max-wait", type=float, default=10.0,
                       help="longest wait between retries, seconds (default: %(default)s)")
    group.add_argument("--slot-wait", type=float, default=300.0,
                       help="when the server is full (all its stream slots in use), how long each stream waits for "
                            "a slot, retrying with the back-off's waits, before its frames are written unannotated "
                            "(default: %(default)s s)")


def backoff_from(args: argparse.Namespace) -> Backoff:
    """The retry policy the options ask for; ValueError explains a bad option or combination."""
    if not args.timeout > 0:
        raise ValueError(f"--timeout must be a positive number of seconds (a request's deadline), not {args.timeout:g}")
    if not args.slot_wait >= 0:
        raise ValueError(f"--slot-wait must be >= 0 seconds, not {args.slot_wait:g}")
    return Backoff(args.retries, args.retry_wait, args.retry_max_wait)


def server_urls(args: argparse.Namespace) -> list[str]:
    """The servers to use, in the order given (the protocol's default when none is)."""
    return list(dict.fromkeys(args.url or [DEFAULT_URLS[args.protocol]]))


class StreamConnector:
    """``connect(stream_id)``: a new client for the stream's server (one per worker thread; not shared)."""

    def __init__(self, urls: list[str], connect_url: Callable[[str], GazeSamClient]):
        self.ring = ServerRing(urls)
        self._connect_url = connect_url

    def __call__(self, stream_id: int) -> GazeSamClient:
        """The stream's own server, or the next ready one on its ring order when that one is not ready."""
        order = self.ring.order_for(stream_id)
        if len(order) > 1:
            for url in order:
                client = self._connect_url(url)
                if client.is_ready():
                    return client
                client.close()
        return self._connect_url(order[0])  # none ready: the sender's retries wait for the stream's own server


def client_factory(args: argparse.Namespace) -> StreamConnector:
    """``connect(stream_id)``: a new client for the stream's server, one per worker thread (never shared)."""
    connect_url = functools.partial(GazeSamClient, protocol=args.protocol, timeout_s=args.timeout,
                                    transport=args.transport)
    return StreamConnector(server_urls(args), connect_url)


def check_server(args: argparse.Namespace) -> ServedModels:
    """What the servers run (model set, families, stand-ins); ServerNotReady if none answers.

    With several servers, each one not ready is named in a notice; the run goes on with the others.
    """
    ready: list[GazeSamClient] = []
    for url in server_urls(args):
        probe = GazeSamClient(url, args.protocol, args.timeout, args.transport)
        if probe.is_ready():
            ready.append(probe)
            continue
        probe.close()
        if len(server_urls(args)) > 1:
            notice(f"the gazesam ensemble is not ready at {url} ({args.protocol}); streams go to the other servers")
    if not ready:
        raise ServerNotReady(f"the gazesam ensemble is not ready at {', '.join(server_urls(args))} ({args.protocol}); "
                             "start the server with 'python -m gazesam_triton.serve'")
    try:
        served = [probe.served_models() for probe in ready]
        return dataclasses.replace(served[0], max_streams=sum(s.max_streams for s in served))
    finally:
        for probe in ready:
            probe.close()
