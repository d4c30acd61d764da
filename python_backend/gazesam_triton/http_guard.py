"""The HTTP endpoint's guard: checks every request's size and declared tensor shapes before Triton parses it.

Triton 2.51's HTTP JSON parser allocates each input by its declared shape before it looks at the data,
so one 227-byte request declaring ``[1000000, 1000000, 3]`` aborts the server (``std::bad_alloc``);
it has no ``--http-max-input-size`` (later releases do). The launcher therefore puts this guard on the
public HTTP port and Triton's own HTTP service on a loopback port whose every API needs a key only the
guard sends (:data:`gazesam_triton.admin_key.GUARD_HEADER`). The guard refuses, without forwarding:

- a body over :data:`MAX_BODY_BYTES` (the largest documented frame plus 1 MiB) with 413, before reading it;
- a chunked body (411: Content-Length is required, so the size is known first);
- an infer request whose JSON header does not parse (duplicate keys included: Triton's parser takes the
  first, Python's the last), or declares an input whose shape is not a list of non-negative integers, or
  whose declared size exceeds the largest tensor any model takes (:data:`gazesam.input_limits.MAX_FRAME_BYTES`),
  with 400.

Everything else is forwarded as it came (HTTP/1.1 keep-alive, one upstream connection per client
connection). While Triton is down (restarting) the guard answers 503, which clients retry; the server's
and every model's readiness is 503 until the supervisor watches a fully started server.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from gazesam.input_limits import MAX_FRAME_BYTES

from .admin_key import GUARD_HEADER

MAX_BODY_BYTES = MAX_FRAME_BYTES + 2**20
MAX_HEAD_BYTES = 64 * 1024
_INFER_PATH = re.compile(r"^/v2/models/[^/?]+(/versions/[^/?]+)?/infer/?(\?.*)?$")
_READY_PATH = re.compile(r"^/v2/(health/ready|models/[^/?]+(/versions/[^/?]+)?/ready)/?(\?.*)?$")
_ELEMENT_BYTES = {"BOOL": 1, "UINT8": 1, "INT8": 1, "UINT16": 2, "INT16": 2, "FP16": 2, "BF16": 2, "UINT32": 4,
                  "INT32": 4, "FP32": 4, "UINT64": 8, "INT64": 8, "FP64": 8, "BYTES": 1}
_HOP_HEADERS = {"expect", GUARD_HEADER}


class Refused(Exception):
    """A request the guard answers itself: ``status`` and the reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise Refused(400, f"failed to parse the request JSON buffer: duplicate key in {sorted(keys)}")
    return dict(pairs)


def check_infer_header(header: bytes) -> None:
    """Raise :class:`Refused` unless every input of an infer request's JSON header declares a sane shape."""
    try:
        document = json.loads(header, object_pairs_hook=_unique_keys)
    except Refused:
        raise
    except ValueError as exc:
        raise Refused(400, f"failed to parse the request JSON buffer: {exc}") from None
    inputs = document.get("inputs") if isinstance(document, dict) else None
    if not isinstance(inputs, list):
        raise Refused(400, "the request JSON must hold an 'inputs' list")
    for tensor in inputs:
        name = tensor.get("name") if isinstance(tensor, dict) else None
        shape = tensor.get("shape") if isinstance(tensor, dict) else None
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise Refused(400, f"input {name!r}: 'shape' must be a list of non-negative integers, got {shape!r}")
        size = math.prod(shape) * _ELEMENT_BYTES.get(str(tensor.get("datatype")), 8)
        if size > MAX_FRAME_BYTES:
            raise Refused(400, f"input {name!r}: shape {shape} declares {size} bytes, over the limit "
                               f"{MAX_FRAME_BYTES} (the largest documented frame)")


@dataclass
class _Request:
    head: bytes  # request line and headers, as forwarded
    body: bytes
    keep_alive: bool


def _parse_head(raw: bytes) -> tuple[str, str, dict[str, str], list[str]]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise Refused(400, "malformed request line")
    headers, kept = {}, [lines[0]]
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
        if name.strip().lower() not in _HOP_HEADERS:
            kept.append(line)
    return parts[0].upper(), parts[1], headers, kept


async def _read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, guard_key: str,
                        serving: Callable[[], bool]) -> _Request | None:
    """The next request on the connection (None at its end); :class:`Refused` for one the guard answers."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise Refused(431, f"request headers over {MAX_HEAD_BYTES} bytes") from None
    method, path, headers, kept = _parse_head(raw[:-4])
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise Refused(411, "send the body with a Content-Length (chunked bodies are not accepted)")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise Refused(400, "malformed Content-Length") from None
    if not 0 <= length <= MAX_BODY_BYTES:
        raise Refused(413, f"request body of {length} bytes is over the limit {MAX_BODY_BYTES} "
                           "(the largest documented frame, sent as binary tensor data, plus 1 MiB)")
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = await reader.readexactly(length)
    if _READY_PATH.match(path) and not serving():
        raise Refused(503, "not ready: the server is starting or restarting")
    if method == "POST" and _INFER_PATH.match(path):
        header_length = headers.get("inference-header-content-length")
        check_infer_header(body[: int(header_length)] if header_length and header_length.isdigit() else body)
    head = ("\r\n".join([*kept, f"{GUARD_HEADER}: {guard_key}"]) + "\r\n\r\n").encode("latin-1")
    return _Request(head, body, headers.get("connection", "").lower() != "close")


async def _relay_response(upstream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one response (Content-Length or chunked body) from Triton to the client."""
    raw = await upstream.readuntil(b"\r\n\r\n")
    writer.write(raw)
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in raw.decode("latin-1").split("\r\n")[1:] if line)}
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = await upstream.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            writer.write(size_line + await upstream.readexactly(size + 2))
            if size == 0:
                break
    else:
        writer.write(await upstream.readexactly(int(headers.get("content-length", "0"))))
    await writer.drain()


def _answer(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    body = json.dumps({"error": reason}).encode()
    writer.write(f"HTTP/1.1 {status} {_STATUS_TEXT.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)


_STATUS_TEXT = {400: "Bad Request", 411: "Length Required", 413: "Payload Too Large",
                431: "Request Header Fields Too Large", 503: "Service Unavailable"}


class HttpGuard:
    """Listens on ``host:port`` and forwards checked requests to Triton's HTTP service on 127.0.0.1:``upstream_port``."""

    def __init__(self, host: str, port: int, upstream_port: int, guard_key: str, serving: Callable[[], bool]):
        """``serving``: whether the supervisor watches a started server (readiness is 503 otherwise)."""
        self.host, self.port, self.upstream_port, self.guard_key = host, port, upstream_port, guard_key
        self.serving = serving
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="http-guard", daemon=True)

    def start(self) -> "HttpGuard":
        """Start serving on a background thread; OSError when the port cannot be bound."""
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, self.host, self.port, limit=MAX_HEAD_BYTES))
        except OSError as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while (request := await _read_request(reader, writer, self.guard_key, self.serving)) is not None:
                if upstream is None:
                    upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                upstream[1].write(request.head + request.body)
                await upstream[1].drain()
                await _relay_response(upstream[0], writer)
                if not request.keep_alive:
                    break
        except Refused as refused:
            _answer(writer, refused.status, str(refused))
        except (OSError, asyncio.IncompleteReadError):  # Triton is down or restarting, or the client left
            _answer(writer, 503, "the server is not available (starting or restarting); retry")
        finally:
            for stream_writer in [writer] + ([upstream[1]] if upstream else []):
                try:
                    await stream_writer.drain()
                    stream_writer.close()
                except OSError:
                    pass
