"""The clients' server options (address, protocol, timeout, retries) and the start-up check."""

from __future__ import annotations

import argparse
import functools
from typing import Callable

from clients.backoff import Backoff
from clients.frame_transport import TRANSPORTS
from clients.gazesam_client import DEFAULT_URLS, GazeSamClient, ServedModels


class ServerNotReady(RuntimeError):
    """The gazesam ensemble does not answer at the given address."""


def add_server_arguments(parser: argparse.ArgumentParser, timeout_s: float) -> None:
    group = parser.add_argument_group("server")
    group.add_argument("--protocol", choices=("grpc", "http"), default="grpc", help="default: %(default)s")
    group.add_argument("--url", help=f"server address (default: {DEFAULT_URLS['grpc']} for grpc, "
                                     f"{DEFAULT_URLS['http']} for http)")
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


def client_factory(args: argparse.Namespace) -> Callable[[], GazeSamClient]:
    """Makes a new client per call (one per worker thread; tritonclient clients are not shared)."""
    return functools.partial(GazeSamClient, args.url, args.protocol, args.timeout, args.transport)


def check_server(args: argparse.Namespace) -> ServedModels:
    """What the server runs (model set, families, stand-ins); ServerNotReady if none answers."""
    probe = client_factory(args)()
    try:
        if not probe.is_ready():
            raise ServerNotReady(f"the gazesam ensemble is not ready at {probe.url} ({args.protocol}); "
                                 "start the server with 'python -m gazesam_triton.serve'")
        return probe.served_models()
    finally:
        probe.close()
