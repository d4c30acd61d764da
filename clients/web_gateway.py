"""The web gateway: serves the live page and carries each browser tab's camera frames to the server.

    python clients/web_gateway.py [--host 127.0.0.1] [--port 8080] [--url 127.0.0.1:8001] [--record-dir DIR]

    GET /         the page (clients/web/: plain HTML, CSS and JavaScript; nothing to build)
    GET /ws       a tab's WebSocket: frames in (clients/web_frames.py), JSON messages out (clients/web_messages.py)
    GET /status   JSON: tabs connected, streams open on the server, frames forwarded

Each tab is one stream on the server (a Triton sequence of the ``gazesam_jpeg`` ensemble, fed the
JPEGs the browser encoded): started by its first frame, ended when the tab closes or sends nothing for
``--idle-timeout`` seconds (its next frame starts a new one). Per tab, at most one frame is at the
server; a frame that arrives meanwhile, or sooner than ``--max-fps`` allows, is dropped, never
queued, and frames over ``--max-frame-bytes`` or ``--max-side`` are refused with the reason.

Binds 127.0.0.1 unless ``--host`` says otherwise. Browsers give a page the camera only on localhost
or over https: to open it from another machine, serve it with ``--host 0.0.0.0 --tls-cert --tls-key``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import ssl
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from clients.backoff import Backoff
from clients.gazesam_client import DEFAULT_URLS, GazeSamClient
from clients.server_options import StreamConnector
from clients.web_frames import FrameLimits, FrameMessage, FrameRefused, RateGate, frame_message
from clients.web_messages import Problem, dropped_message, hello_message, problem_message
from clients.web_stream import FrameRecorder, TabStream

WEB_DIR = Path(__file__).resolve().parent / "web"
DEFAULT_PORT = 8080
SHUTDOWN_TIMEOUT_S = 30.0  # how long a stopping gateway waits for its tabs' last frames and stream ends


@dataclass(frozen=True)
class GatewayConfig:
    connect: Callable[[int], GazeSamClient]  # connect(stream_id): a new client (one per tab's worker thread)
    server_url: str
    backoff: Backoff
    limits: FrameLimits
    send_width: int  # the width the page scales its camera frames to before encoding them
    idle_timeout_s: float
    recorder: FrameRecorder | None


def log(message: str) -> None:
    print(message, flush=True)


def same_origin(origin: str | None, host: str | None) -> bool:
    """True when a WebSocket's ``Origin`` is this gateway's own page (or absent: not a browser).

    Refusing other origins keeps a page on another site from using the camera stream of this one's server.
    """
    if origin is None:
        return True
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


class TabSession:
    """One WebSocket: its frames go through one worker thread (its TabStream) to the server, one at a time."""

    def __init__(self, number: int, ws: web.WebSocketResponse, config: GatewayConfig):
        self.number, self._ws, self._config = number, ws, config
        self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"tab{number}")
        self.stream = TabStream(config.connect, config.backoff, config.server_url, config.recorder,
                                on_event=lambda m: log(f"tab {number}: {m}"))
        self._gate = RateGate(config.limits.max_fps)
        self._in_flight: asyncio.Task | None = None
        self._last_frame_s = time.monotonic()
        self.frames_forwarded = 0

    async def run(self) -> None:
        served = await self._call(self.stream.served_now)
        await self._send({**hello_message(self._config.limits, served, self._config.server_url),
                          "send_width": self._config.send_width})
        if served is None:
            await self._send(problem_message(Problem.SERVER_DOWN, "", self._config.server_url))
        idle = asyncio.create_task(self._end_when_idle())
        try:
            async for message in self._ws:
                if message.type == WSMsgType.BINARY:
                    await self._on_frame(message.data)
        finally:
            idle.cancel()
            if self._in_flight is not None:
                await asyncio.gather(self._in_flight, return_exceptions=True)
            await self._end_stream("tab closed")
            await self._call(self.stream.close)
            self._worker.shutdown(wait=False)

    async def close(self) -> None:
        """Close the tab's WebSocket (the gateway is stopping); :meth:`run` then ends the stream."""
        await self._ws.close(code=WSCloseCode.GOING_AWAY, message=b"the gateway is stopping")

    async def _call(self, function: Callable, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._worker, function, *args)

    async def _send(self, message: dict) -> None:
        if not self._ws.closed:
            await self._ws.send_json(message)

    async def _on_frame(self, data: bytes) -> None:
        now = time.monotonic()
        if self._in_flight is not None and not self._in_flight.done():
            await self._send(dropped_message("busy"))  # one frame in flight: drop, never queue
            return
        if not self._gate.admit(now):
            await self._send(dropped_message("rate", self._gate.wait_s(now)))
            return
        try:
            frame = frame_message(data, self._config.limits)
        except FrameRefused as exc:
            await self._send(problem_message(Problem.BAD_FRAME, str(exc), self._config.server_url))
            return
        self._last_frame_s = now
        self._in_flight = asyncio.create_task(self._forward(frame))

    async def _forward(self, frame: FrameMessage) -> None:
        try:
            messages = await self._call(self.stream.send, frame)
        except Exception as exc:  # a bug here must not leave the page waiting for an answer
            log(f"tab {self.number}: frame failed in the gateway: {exc!r}")
            messages = [problem_message(Problem.SERVER_ERROR, f"gateway error: {exc}", self._config.server_url)]
        self.frames_forwarded += 1
        for message in messages:
            if message.get("stream_start"):
                log(f"tab {self.number}: stream {message['stream_id']} started")
            await self._send(message)

    async def _end_when_idle(self) -> None:
        idle_s = self._config.idle_timeout_s
        while True:
            await asyncio.sleep(min(1.0, idle_s / 4))
            busy = self._in_flight is not None and not self._in_flight.done()
            if self.stream.running and not busy and time.monotonic() - self._last_frame_s >= idle_s:
                await self._end_stream(f"no frame for {idle_s:g} s")

    async def _end_stream(self, why: str) -> None:
        stream = self.stream.stream_id
        ended = await self._call(self.stream.end)
        if ended is not None:
            log(f"tab {self.number}: stream {stream} ended ({why})" + ("" if ended else
                "; the server could not be told, it drops the stream when idle"))


CONFIG = web.AppKey("config", GatewayConfig)
SESSIONS = web.AppKey("sessions", set)


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-store"})


async def websocket(request: web.Request) -> web.StreamResponse:
    if not same_origin(request.headers.get("Origin"), request.host):
        raise web.HTTPForbidden(text="this WebSocket serves only the gateway's own page")
    config = request.app[CONFIG]
    ws = web.WebSocketResponse(max_msg_size=config.limits.message_bytes, heartbeat=30)
    await ws.prepare(request)
    sessions = request.app[SESSIONS]
    session = TabSession(max((s.number for s in sessions), default=0) + 1, ws, config)
    sessions.add(session)
    log(f"tab {session.number} connected from {request.remote}")
    try:
        await session.run()
    finally:
        sessions.discard(session)
        log(f"tab {session.number} disconnected")
    return ws


async def status(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS]
    return web.json_response({
        "tabs": len(sessions),
        "streams_open": sum(s.stream.running for s in sessions),
        "frames_forwarded": sum(s.frames_forwarded for s in sessions),
    })


async def close_tabs(app: web.Application) -> None:
    await asyncio.gather(*(session.close() for session in list(app[SESSIONS])))


def make_app(config: GatewayConfig) -> web.Application:
    app = web.Application()
    app[CONFIG], app[SESSIONS] = config, set()
    app.on_shutdown.append(close_tabs)
    app.router.add_get("/", page)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/status", status)
    app.router.add_static("/static", WEB_DIR)
    return app


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clients/web_gateway.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    parser.add_argument("--tls-cert", type=Path, help="serve https with this certificate (PEM) ...")
    parser.add_argument("--tls-key", type=Path, help="... and this private key (PEM)")
    server = parser.add_argument_group("server")
    server.add_argument("--url", help=f"server address (default: {DEFAULT_URLS['grpc']} for grpc, "
                                      f"{DEFAULT_URLS['http']} for http)")
    server.add_argument("--protocol", choices=("grpc", "http"), default="grpc", help="default: %(default)s")
    server.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, s (default: %(default)s)")
    server.add_argument("--retries", type=int, default=2,
                        help="retries of a frame the server does not answer before the page is told it is down "
                             "(default: %(default)s)")
    tab = parser.add_argument_group("per tab")
    defaults = FrameLimits()
    tab.add_argument("--max-frame-bytes", type=int, default=defaults.max_bytes, help="default: %(default)s")
    tab.add_argument("--max-side", type=int, default=defaults.max_side,
                     help="longest frame side accepted, px (default: %(default)s)")
    tab.add_argument("--max-fps", type=float, default=defaults.max_fps, help="default: %(default)s")
    tab.add_argument("--send-width", type=int, default=640,
                     help="the page scales camera frames to this width before sending (default: %(default)s)")
    tab.add_argument("--idle-timeout", type=float, default=10.0,
                     help="end a tab's stream after this many seconds without a frame (default: %(default)s)")
    parser.add_argument("--record-dir", type=Path,
                        help="keep every forwarded JPEG and its stream, index and time here (frames.jsonl); for tests "
                             "and debugging: it grows with every frame")
    return parser


def config_from(args: argparse.Namespace) -> GatewayConfig:
    """The gateway's settings from its options; ValueError says which option is wrong."""
    limits = FrameLimits(args.max_frame_bytes, args.max_side, args.max_fps)
    if not 0 < args.send_width <= limits.max_side:
        raise ValueError(f"--send-width must be 1..--max-side ({limits.max_side}), not {args.send_width}")
    if args.idle_timeout <= 0:
        raise ValueError(f"--idle-timeout must be positive, not {args.idle_timeout}")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError("give --tls-cert and --tls-key together")
    url = args.url or DEFAULT_URLS[args.protocol]
    return GatewayConfig(
        connect=StreamConnector([url], functools.partial(GazeSamClient, protocol=args.protocol, timeout_s=args.timeout,
                                                         transport="jpeg")),
        server_url=url, backoff=Backoff(args.retries, 0.5, 2.0), limits=limits, send_width=args.send_width,
        idle_timeout_s=args.idle_timeout, recorder=FrameRecorder(args.record_dir) if args.record_dir else None,
    )


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from(args)
        context = tls_context(args.tls_cert, args.tls_key)
    except (ValueError, OSError, ssl.SSLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    address = f"{'https' if context else 'http'}://{f'[{args.host}]' if ':' in args.host else args.host}:{args.port}/"
    announce = f"gazesam web gateway: open {address} in a browser (server {config.server_url}, {args.protocol}; " \
               "Ctrl+C stops)"
    try:  # on SIGINT/SIGTERM, open tabs are closed and their streams ended before the process exits
        web.run_app(make_app(config), host=args.host, port=args.port, ssl_context=context,
                    shutdown_timeout=SHUTDOWN_TIMEOUT_S, print=lambda _: log(announce))
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    log("gazesam web gateway stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
