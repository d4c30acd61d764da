"""End to end, bad input: every malformed request to a real tritonserver gets a clear error of its own,
promptly, and the server serves the next good frame of a running stream.

Each case is sent once, then a good frame of one long-lived stream; a count table (cases sent, errors
received, good frames served) is printed at the end of the module. Encoded frames go to the
``gazesam_jpeg`` ensemble. Cases that Triton itself rejects (dtype, rank, static dims, input
count) are answered before any model runs; frame and time checks are ``frame_check``'s, run once before
the fan-out; the size limits of every Python-backend model (``gazesam.input_limits``) are shown by
calling composing models directly, which any client can do.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException, triton_to_np_dtype

from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam.contracts import (
    ENSEMBLE,
    FRAME_IMAGE,
    FRAME_SIZE,
    JPEG_ENSEMBLE,
    MAX_FRAME_SIDE,
    MAX_JPEG_BYTES,
    MAX_PROMPTS,
    Status,
)
from gazesam.pipeline import repository_model_set
from gazesam_triton.server_process import TritonProcess

from conftest import STANDIN_REPOSITORY, generated, shared_path

ANSWER_WITHIN_S = 10.0
"""A bad request must be answered (with an error) within this; no answer at all is a failure."""

pytestmark = pytest.mark.e2e

FRAME_NAME, FRAME_TIME_NAME = "FRAME", "FRAME_TIME"


@dataclass(frozen=True)
class Case:
    name: str
    send: Callable[["Server"], None]  # sends the bad request; must raise with the server's answer
    expect: str  # a fragment of the error message (any case)


class Server:
    """Raw access to the server under test for malformed requests (the project's client only sends good ones)."""

    def __init__(self, process: TritonProcess):
        self.process = process
        self.grpc = grpcclient.InferenceServerClient(process.grpc_url)

    def infer(self, inputs: list, model: str = ENSEMBLE.key, stream: bool = True, **sequence) -> None:
        """Infer on ``model``; ``stream``: as the one frame of a new stream, unless ``sequence`` gives the flags."""
        if stream and not sequence:
            sequence = {"sequence_id": new_stream_id(), "sequence_start": True, "sequence_end": True}
        self.grpc.infer(model, inputs, client_timeout=ANSWER_WITHIN_S, **sequence)

    def post(self, body: bytes, headers: dict[str, str] | None = None, model: str = ENSEMBLE.key) -> None:
        """POST ``body`` to ``model``'s HTTP infer endpoint; raises RuntimeError with the status and error text."""
        request = urllib.request.Request(
            f"http://{self.process.http_url}/v2/models/{model}/infer", data=body, method="POST",
            headers={"Content-Type": "application/octet-stream", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=ANSWER_WITHIN_S) as response:
                raise AssertionError(f"HTTP {response.status}: the server accepted the request")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"HTTP {exc.code}: {json.loads(exc.read())['error']}") from None


def tensor(name: str, array: np.ndarray, triton_dtype: str) -> grpcclient.InferInput:
    value = grpcclient.InferInput(name, list(array.shape), triton_dtype)
    value.set_data_from_numpy(array)
    return value


def frame(shape: tuple[int, ...], dtype=np.uint8, triton_dtype: str = "UINT8") -> grpcclient.InferInput:
    return tensor(FRAME_NAME, np.full(shape, 90, dtype), triton_dtype)


def frame_time(value, dtype=np.float64, triton_dtype: str = "FP64") -> grpcclient.InferInput:
    return tensor(FRAME_TIME_NAME, np.asarray(value, dtype), triton_dtype)


OK_FRAME = (240, 320, 3)
FRAME_RULE = f"FRAME must be uint8 [H, W, 3] BGR with 32 <= H, W <= {MAX_FRAME_SIDE}"
TIME_RULE = "FRAME_TIME must be one finite float64"


def http_json_body(inputs: list[dict], binary: bytes = b"") -> tuple[bytes, dict[str, str]]:
    header = json.dumps(
        {"inputs": inputs, "parameters": {"sequence_id": new_stream_id(), "sequence_start": True, "sequence_end": True}}
    ).encode()
    return header + binary, {"Inference-Header-Content-Length": str(len(header))}


def _declared_shape_bomb(server: Server, model: str = ENSEMBLE.key) -> None:
    """227 bytes of JSON declaring a 3 TB FRAME: Triton 2.51's HTTP parser allocates by the shape and aborts."""
    body = json.dumps({"inputs": [
        {"name": FRAME_NAME, "shape": [1000000, 1000000, 3], "datatype": "UINT8", "data": [0]},
        {"name": FRAME_TIME_NAME, "shape": [1], "datatype": "FP64", "data": [0.0]}],
        "parameters": {"sequence_id": new_stream_id(), "sequence_start": True, "sequence_end": True}}).encode()
    server.post(body, {"Content-Type": "application/json"}, model=model)


def _smuggled_shape(server: Server) -> None:
    """The huge shape first, a small one second: Triton's parser reads the first, Python's json the last."""
    body = (b'{"inputs":[{"name":"FRAME","shape":[1000000,1000000,3],"shape":[1,1,3],"datatype":"UINT8","data":[0,0,0]},'
            b'{"name":"FRAME_TIME","shape":[1],"datatype":"FP64","data":[0.0]}]}')
    server.post(body, {"Content-Type": "application/json"})


def _raw_http(server: Server, request: bytes) -> None:
    """Send ``request`` as it is on a new connection; raises RuntimeError with the status line and body."""
    host, port = server.process.http_url.split(":")
    with socket.create_connection((host, int(port)), timeout=ANSWER_WITHIN_S) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    raise RuntimeError(f"{head.splitlines()[0].decode()}: {body.decode(errors='replace')}")


def _chunked_body(server: Server) -> None:
    _raw_http(server, f"POST /v2/models/{ENSEMBLE.key}/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      "Connection: close\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n".encode())


def _declared_300mb_body(server: Server) -> None:
    """A Content-Length of 300 MB, with no body sent: refused from the header, before any of it is read."""
    _raw_http(server, f"POST /v2/models/{ENSEMBLE.key}/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 300000000\r\n"
                      "Connection: close\r\n\r\n".encode())


def _byte_size_mismatch(server: Server) -> None:
    body, headers = http_json_body(
        [
            {"name": FRAME_NAME, "shape": list(OK_FRAME), "datatype": "UINT8", "parameters": {"binary_data_size": 100}},
            {"name": FRAME_TIME_NAME, "shape": [1], "datatype": "FP64", "data": [0.0]},
        ],
        bytes(100),
    )
    server.post(body, headers)


def _element_count_mismatch(server: Server) -> None:
    body, headers = http_json_body(
        [
            {"name": FRAME_NAME, "shape": [32, 32, 3], "datatype": "UINT8", "data": [1, 2, 3]},
            {"name": FRAME_TIME_NAME, "shape": [1], "datatype": "FP64", "data": [0.0]},
        ]
    )
    server.post(body, headers)


def _decoder_call(server: Server, prompt_count: int, frame_hw: tuple[int, int]) -> None:
    """The decoder called directly with ``prompt_count`` box prompts of box (0, 0, 8, 8) for a ``frame_hw`` frame."""
    served = repository_model_set(generated(STANDIN_REPOSITORY))  # the set the server under test serves
    decoder = served.network("sam_decoder")
    prompt_tensors = set(served.hook("segmentation", "prompts").tensors)  # the decoder's box-prompt inputs (global)
    prompts = {s.name: s for s in decoder.contract.inputs if decoder.global_name(s.name) in prompt_tensors}
    assert prompts, f"{decoder.model} has no box-prompt input"
    model = decoder.model
    inputs = []
    for spec in server.grpc.get_model_metadata(model, as_json=True)["inputs"]:  # the contract's, and a GATE if gated
        if spec["name"] in prompts:  # prompts in the family's layout
            shape = [prompt_count, *prompts[spec["name"]].shape[1:]]
            value = np.full(shape, 8.0, triton_to_np_dtype(spec["datatype"]))
        elif spec["name"] == FRAME_SIZE.name:
            value = np.array(frame_hw, np.int32)
        else:
            value = np.ones([int(d) for d in spec["shape"]], triton_to_np_dtype(spec["datatype"]))
        inputs.append(tensor(spec["name"], value, spec["datatype"]))
    server.infer(inputs, model=model, stream=False)


def _decoder_with_too_many_boxes(server: Server) -> None:
    """Tiny input (160 KB of boxes), but the decoder would answer with 10,000 frame-sized masks."""
    _decoder_call(server, 10_000, (480, 640))


def _decoder_for_a_huge_frame(server: Server) -> None:
    """One box, but a 100000 x 100000 frame size: the decoder would answer with a 10 GB mask."""
    _decoder_call(server, 1, (100_000, 100_000))


def _jpeg(server: Server, data: bytes) -> None:
    encoded = JPEG_ENSEMBLE.inputs[0]
    server.infer(
        [tensor(encoded.name, np.frombuffer(data, np.uint8).copy(), "UINT8"), frame_time([0.0])],
        model=JPEG_ENSEMBLE.key,
    )


def _real_jpeg() -> bytes:
    return shared_path("media", "images", "webcam_man_bookshelf.jpg").read_bytes()


def _jpeg_claiming_size(height: int, width: int) -> bytes:
    """A real baseline JPEG whose frame header (SOF0) claims another size; the pixel data stays small."""
    data = bytearray(_real_jpeg())
    sof = data.find(b"\xff\xc0")
    assert sof > 0, "the sample JPEG has no baseline frame header"
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


CASES = [
    # --- FRAME, rejected by Triton against the ensemble config -------------------------------------
    Case("FRAME dtype float32", lambda s: s.infer([frame(OK_FRAME, np.float32, "FP32"), frame_time([0.0])]),
         "data-type is 'FP32', but model 'gazesam' expects 'UINT8'"),
    Case("FRAME rank 2", lambda s: s.infer([frame((240, 320)), frame_time([0.0])]), "unexpected shape for input 'FRAME'"),
    Case("FRAME rank 4", lambda s: s.infer([frame((1, *OK_FRAME)), frame_time([0.0])]),
         "unexpected shape for input 'FRAME'"),
    Case("FRAME 4 channels", lambda s: s.infer([frame((240, 320, 4)), frame_time([0.0])]),
         "unexpected shape for input 'FRAME'"),
    Case("FRAME 1 channel", lambda s: s.infer([frame((240, 320, 1)), frame_time([0.0])]),
         "unexpected shape for input 'FRAME'"),
    # --- FRAME, rejected by frame_check (once, before the fan-out) ------------------------------------
    Case("FRAME zero-sized 0x0", lambda s: s.infer([frame((0, 0, 3)), frame_time([0.0])]), f"{FRAME_RULE}; got 0x0"),
    Case("FRAME zero-sized 0x320", lambda s: s.infer([frame((0, 320, 3)), frame_time([0.0])]),
         f"{FRAME_RULE}; got 0x320"),
    Case("FRAME 1x1", lambda s: s.infer([frame((1, 1, 3)), frame_time([0.0])]), f"{FRAME_RULE}; got 1x1"),
    Case("FRAME 31x320 (under the minimum)", lambda s: s.infer([frame((31, 320, 3)), frame_time([0.0])]),
         f"{FRAME_RULE}; got 31x320"),
    Case("FRAME 40x3841 (over the maximum)", lambda s: s.infer([frame((40, MAX_FRAME_SIDE + 1, 3)), frame_time([0.0])]),
         f"{FRAME_RULE}; got 40x3841"),
    Case("FRAME 4000x4000 (over the byte limit)", lambda s: s.infer([frame((4000, 4000, 3)), frame_time([0.0])]),
         "'FRAME' must be uint8[-1, -1, 3] (-1 = any); got [4000, 4000, 3] = 48000000 bytes, over the limit"),
    # --- FRAME_TIME -------------------------------------------------------------------------------------
    Case("FRAME_TIME NaN", lambda s: s.infer([frame(OK_FRAME), frame_time([np.nan])]), f"{TIME_RULE}"),
    Case("FRAME_TIME +inf", lambda s: s.infer([frame(OK_FRAME), frame_time([np.inf])]), f"{TIME_RULE}"),
    Case("FRAME_TIME -inf", lambda s: s.infer([frame(OK_FRAME), frame_time([-np.inf])]), f"{TIME_RULE}"),
    Case("FRAME_TIME float32", lambda s: s.infer([frame(OK_FRAME), frame_time([0.0], np.float32, "FP32")]),
         "data-type is 'FP32', but model 'gazesam' expects 'FP64'"),
    Case("FRAME_TIME shape [2]", lambda s: s.infer([frame(OK_FRAME), frame_time([0.0, 1.0])]),
         "unexpected shape for input 'FRAME_TIME'"),
    Case("FRAME_TIME shape [1, 1]", lambda s: s.infer([frame(OK_FRAME), frame_time([[0.0]])]),
         "unexpected shape for input 'FRAME_TIME'"),
    # --- the stream: every request must belong to a started stream ------------------------------------
    Case("no correlation ID (sequence_id 0)", lambda s: s.infer([frame(OK_FRAME), frame_time([0.0])], stream=False),
         "correlation"),
    Case("continues a stream never started", lambda s: s.infer(
        [frame(OK_FRAME), frame_time([0.0])], sequence_id=new_stream_id(), sequence_start=False),
         "start"),
    # --- encoded frames (ensemble gazesam_jpeg): refused before or instead of decoding --------------
    Case("JPEG_FRAME not a JPEG", lambda s: _jpeg(s, b"GIF89a not a jpeg"), "not a JPEG"),
    Case("JPEG_FRAME truncated to half", lambda s: _jpeg(s, _real_jpeg()[: len(_real_jpeg()) // 2]),
         "could not be decoded"),
    Case("JPEG_FRAME header only", lambda s: _jpeg(s, _real_jpeg()[:200]), "no frame header"),
    Case("JPEG_FRAME empty", lambda s: _jpeg(s, b""), "JPEG"),
    Case("JPEG_FRAME claims 60000x60000", lambda s: _jpeg(s, _jpeg_claiming_size(60000, 60000)),
         "got 60000x60000"),
    Case("JPEG_FRAME over MAX_JPEG_BYTES", lambda s: _jpeg(s, bytes(MAX_JPEG_BYTES + 1)),
         f"exceeds the limit {MAX_JPEG_BYTES}"),
    # --- missing and extra inputs -------------------------------------------------------------------
    Case("missing FRAME_TIME", lambda s: s.infer([frame(OK_FRAME)]), "missing required input(s) ['FRAME_TIME']"),
    Case("missing FRAME", lambda s: s.infer([frame_time([0.0])]), "missing required input(s) ['FRAME']"),
    Case("no inputs at all", lambda s: s.infer([]), "expected 2 inputs but got 0 inputs"),
    Case("extra input", lambda s: s.infer([frame(OK_FRAME), frame_time([0.0]), tensor("EXTRA", np.zeros(1, np.float32),
                                                                                   "FP32")]),
         "expected 2 inputs but got 3 inputs"),
    Case("unknown model", lambda s: s.infer([frame(OK_FRAME), frame_time([0.0])], model="gazesam_nope"),
         "unknown model"),
    # --- malformed HTTP bodies --------------------------------------------------------------------------
    Case("HTTP body is not JSON", lambda s: s.post(b"{not json", {"Content-Type": "application/json"}),
         "failed to parse the request JSON buffer"),
    Case("HTTP binary FRAME shorter than its shape", _byte_size_mismatch,
         "input byte size mismatch for input 'FRAME' for model 'gazesam'. Expected 230400, got 100"),
    Case("HTTP FRAME data count differs from its shape", _element_count_mismatch,
         "Shape does not match true shape of 'data' field"),
    # --- HTTP requests the guard refuses before Triton parses them (each one aborted Triton 2.51) --------
    Case("HTTP 227-byte JSON declaring FRAME [1000000, 1000000, 3]", _declared_shape_bomb,
         "HTTP 400: input 'FRAME': shape [1000000, 1000000, 3] declares 3000000000000 bytes, over the limit"),
    Case("HTTP the same to frame_check, direct", lambda s: _declared_shape_bomb(s, "frame_check"),
         "HTTP 400: input 'FRAME': shape [1000000, 1000000, 3] declares"),
    Case("HTTP duplicate 'shape' key (huge first, small last)", _smuggled_shape, "HTTP 400: failed to parse the "
         "request JSON buffer: duplicate key"),
    Case("HTTP chunked body (no Content-Length)", _chunked_body, "HTTP/1.1 411 Length Required"),
    Case("HTTP Content-Length 300 MB", _declared_300mb_body, "HTTP/1.1 413 Payload Too Large"),
    # --- frame_check, the shared first step, called directly ---------------------------------------------
    Case("frame_check with FRAME and JPEG_FRAME, direct", lambda s: s.infer(
        [frame(OK_FRAME), frame_time([0.0]), tensor(JPEG_ENSEMBLE.inputs[0].name, np.zeros(10, np.uint8), "UINT8")],
        model="frame_check"), "send exactly one of FRAME (ensemble gazesam) or JPEG_FRAME"),
    Case("frame_check with neither, direct", lambda s: s.infer([frame_time([0.0])], model="frame_check"),
         "send exactly one of FRAME"),
    # --- size limits of the Python-backend models, called directly --------------------------------------
    Case("sam_encoder frame 4000x4000, direct",  # networks read the request's frame once frame_check passed it
         lambda s: s.infer([tensor(FRAME_IMAGE.name, np.full((4000, 4000, 3), 90, np.uint8), "UINT8"),
                            tensor(FRAME_SIZE.name, np.array([4000, 4000], np.int32), "INT32"),
                            tensor("GATE", np.ones(1, np.int32), "INT32")], model="sam_encoder", stream=False),
         "'frame' must be uint8[-1, -1, 3] (-1 = any); got [4000, 4000, 3] = 48000000 bytes, over the limit 44236800"),
    Case("sam_decoder frame_hw 100000x100000, direct", _decoder_for_a_huge_frame,
         "FRAME must be uint8 [H, W, 3] BGR with 32 <= H, W <= 3840; got 100000x100000"),
    Case(f"sam_decoder 10000 boxes, direct (limit {MAX_PROMPTS})", _decoder_with_too_many_boxes,
         f"exceeds the limit {MAX_PROMPTS}"),
]


@dataclass
class Tally:
    sent: int = 0
    errors: int = 0
    good_served: int = 0
    rows: list[str] | None = None


@pytest.fixture(scope="module")
def server(server):
    """The module's server, with raw access for malformed requests."""
    return Server(server)


@pytest.fixture(scope="module")
def good_frame() -> np.ndarray:
    image = cv2.imread(str(shared_path("media", "images", "webcam_man_bookshelf.jpg")))
    return cv2.resize(image, (320, round(image.shape[0] * 320 / image.shape[1])), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def tally(pytestconfig):
    result = Tally(rows=[])
    yield result
    lines = [
        "",
        "bad-input cases against a real tritonserver (each followed by a good frame of a running stream):",
        *result.rows,
        f"cases sent: {result.sent}   errors received: {result.errors}   good frames served: {result.good_served}",
    ]
    with pytestconfig.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print("\n".join(lines))


@pytest.fixture(scope="module")
def good_stream(server, good_frame):
    """One stream kept open across all cases; each call sends its next frame and returns the result."""
    client = GazeSamClient(server.process.grpc_url, "grpc", timeout_s=60)
    stream = new_stream_id()
    sent = [0]

    def send_next():
        result = client.infer(good_frame, sent[0] / 30.0, stream, start=sent[0] == 0)
        sent[0] += 1
        return result

    assert send_next().status != Status.NO_FACE  # the stream is up before the first bad case
    yield send_next
    client.infer(good_frame, sent[0] / 30.0, stream, end=True)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_request_gets_a_clear_error_and_the_server_keeps_serving(server, good_stream, tally, case):
    tally.sent += 1
    started = time.perf_counter()
    with pytest.raises((InferenceServerException, RuntimeError)) as raised:
        case.send(server)
    elapsed = time.perf_counter() - started
    message = raised.value.message() if isinstance(raised.value, InferenceServerException) else str(raised.value)
    answered = "Deadline Exceeded" not in message and "timed out" not in message
    tally.errors += answered
    result = good_stream()
    tally.good_served += 1
    code = raised.value.status() if isinstance(raised.value, InferenceServerException) else "HTTP"
    tally.rows.append(f"  {case.name:56} {elapsed * 1000:6.0f} ms  {str(code).removeprefix('StatusCode.'):17} "
                      f"{message.splitlines()[0][:140]}")
    assert result.status != Status.NO_FACE  # the same real frame each time: the viewer is found
    assert answered and elapsed < ANSWER_WITHIN_S, f"{case.name}: no answer within {ANSWER_WITHIN_S:g} s"
    assert case.expect.lower() in message.lower()


def test_the_largest_documented_frame_is_served(server, good_frame):
    """The limits must not refuse what the contract allows: a MAX_FRAME_SIDE x MAX_FRAME_SIDE frame."""
    client = GazeSamClient(server.process.grpc_url, "grpc", timeout_s=120)
    largest = cv2.resize(good_frame, (MAX_FRAME_SIDE, MAX_FRAME_SIDE), interpolation=cv2.INTER_LINEAR)
    started = time.perf_counter()
    result = client.infer(largest, 0.0, new_stream_id(), start=True, end=True)
    print(f"{MAX_FRAME_SIDE}x{MAX_FRAME_SIDE} frame served in {time.perf_counter() - started:.2f} s: {result.status.name}")
    assert result.mask.shape == (MAX_FRAME_SIDE, MAX_FRAME_SIDE)
