"""The web gateway's WebSocket, spoken to as the page speaks it (aiohttp's client), over a real tritonserver.

Per connection: one stream on the server, started by the first frame and ended when the connection
closes or idles; one frame in flight (a second is dropped, not queued); the rate, side and size caps;
a clear ``problem`` for frames that are not JPEGs; other origins refused. Serves the stand-in set.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
import urllib.request

import aiohttp
import cv2
import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from clients.gazesam_client import GazeSamClient, new_stream_id
from clients.web_frames import encode_frame_message

from browser_support import Gateway, wait_for
from conftest import STANDIN_REPOSITORY, generated
from gazesam_triton.server_process import TritonProcess
from real_media import video_frame

pytestmark = pytest.mark.e2e

MAX_BYTES = 200_000


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    frame = cv2.resize(video_frame("father_daughter_toys.mp4", 0), (640, 360), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", frame)[1].tobytes()


@pytest.fixture(scope="module")
def gateway(server, jpeg, tmp_path_factory):
    GazeSamClient(server.grpc_url, transport="jpeg").infer(jpeg, 0.0, new_stream_id(), True, True)  # warm, so a
    # frame is answered well within the rate cap's interval (1 s)
    running = Gateway(server.grpc_url, tmp_path_factory.mktemp("gateway"), "--max-fps", "1", "--max-side", "640",
                      "--max-frame-bytes", str(MAX_BYTES), "--idle-timeout", "1.5")
    yield running
    running.stop()


def talk(gateway: Gateway, conversation, headers: dict | None = None):
    """Run ``conversation(ws)`` on a WebSocket to the gateway; returns its result."""
    async def run():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(gateway.url.replace("http", "ws") + "ws", headers=headers) as ws:
                return await conversation(ws)
    return asyncio.run(run())


async def frame_reply(ws, data: bytes) -> dict:
    await ws.send_bytes(data)
    return await ws.receive_json(timeout=60)


def test_a_connection_is_one_stream_one_frame_in_flight_capped_and_ended_on_close(gateway, server, jpeg):
    async def conversation(ws):
        hello = await ws.receive_json(timeout=30)
        first = await frame_reply(ws, encode_frame_message(1000.0, jpeg))
        too_soon = await frame_reply(ws, encode_frame_message(1010.0, jpeg))
        await asyncio.sleep(1.1)
        await ws.send_bytes(encode_frame_message(2200.0, jpeg))
        await ws.send_bytes(encode_frame_message(2210.0, jpeg))  # while the one before is at the server
        busy, second = await ws.receive_json(timeout=60), await ws.receive_json(timeout=60)
        status = gateway.status()
        return hello, first, too_soon, busy, second, status

    hello, first, too_soon, busy, second, status = talk(gateway, conversation)
    assert hello["server_ready"] and hello["served"]["model_set"] == "standin" and hello["served"]["banner"]
    assert hello["limits"] == {"max_bytes": MAX_BYTES, "max_side": 640, "max_fps": 1.0}
    assert first["type"] == "result" and first["index"] == 0 and first["stream_start"] and first["frame_time"] == 0
    assert first["frame_size"] == [360, 640] and first["status"] != "NO_FACE"
    assert too_soon["type"] == "dropped" and too_soon["reason"] == "rate" and 0 < too_soon["retry_after_s"] <= 1
    assert busy["type"] == "dropped" and busy["reason"] == "busy"
    assert second["type"] == "result" and second["index"] == 1 and not second["stream_start"]
    assert second["stream_id"] == first["stream_id"] and second["frame_time"] == pytest.approx(1.2)
    assert status["tabs"] == 1 and status["streams_open"] == 1
    wait_for("the gateway to end the closed connection's stream", lambda: gateway.status()["streams_open"] == 0, 15)
    with pytest.raises(InferenceServerException, match="must specify the START flag"):
        GazeSamClient(server.grpc_url, transport="jpeg").infer(jpeg, 9.0, int(first["stream_id"]))


def test_frames_over_a_cap_or_not_jpeg_are_refused_with_the_reason(gateway, jpeg):
    big = cv2.imencode(".jpg", np.zeros((720, 1280, 3), np.uint8))[1].tobytes()

    async def conversation(ws):
        await ws.receive_json(timeout=30)
        replies = []
        for data in (b"GIF89a", big, jpeg[: len(jpeg) // 2]):  # the last one is refused by the server
            replies.append(await frame_reply(ws, encode_frame_message(0.0, data)))
            await asyncio.sleep(1.1)
        await ws.send_bytes(encode_frame_message(0.0, jpeg + bytes(MAX_BYTES)))  # over the size cap
        closed = await ws.receive(timeout=30)
        return replies, closed

    replies, closed = talk(gateway, conversation)
    assert [r["kind"] for r in replies] == ["bad_frame"] * 3
    assert "not a JPEG" in replies[0]["text"]
    assert "the frame is 1280x720; this gateway takes 32 to 640 px a side" in replies[1]["text"]
    assert "could not be decoded" in replies[2]["text"]
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


def test_an_idle_connection_ends_its_stream_and_its_next_frame_starts_a_new_one(gateway, jpeg):
    async def conversation(ws):
        await ws.receive_json(timeout=30)
        first = await frame_reply(ws, encode_frame_message(0.0, jpeg))
        await asyncio.to_thread(wait_for, "the idle stream to end", lambda: gateway.status()["streams_open"] == 0, 10)
        again = await frame_reply(ws, encode_frame_message(5000.0, jpeg))
        return first, again

    first, again = talk(gateway, conversation)
    assert again["type"] == "result" and again["stream_start"] and again["index"] == 0 and again["frame_time"] == 0
    assert again["stream_id"] != first["stream_id"]
    assert "ended (no frame for 1.5 s)" in gateway.log.read_text()


def test_a_refused_first_frame_leaves_the_server_no_sequence_to_wait_for(tmp_path, jpeg):
    """Triton's sequence batcher keeps a refused start's sequence until an end flag or its idle timeout (60 s),
    and a stopping server waits for it; the gateway ends it when the tab closes, so the server stops at once."""
    with TritonProcess(generated(STANDIN_REPOSITORY), tmp_path / "tritonserver.log") as own:
        gateway = Gateway(own.grpc_url, tmp_path)
        try:
            async def conversation(ws):
                await ws.receive_json(timeout=30)
                return await frame_reply(ws, encode_frame_message(0.0, jpeg[: len(jpeg) // 2]))
            assert talk(gateway, conversation)["kind"] == "bad_frame"
            wait_for("the gateway to close the tab", lambda: gateway.status()["tabs"] == 0, 15)
        finally:
            gateway.stop()
        started = time.monotonic()
        own.stop()
    assert time.monotonic() - started < 15, "the server waited for a sequence left open"


def test_a_websocket_from_another_origin_is_refused(gateway):
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        talk(gateway, lambda ws: ws.receive(), headers={"Origin": "http://elsewhere.example"})
    assert refused.value.status == 403


def test_the_page_is_served_and_over_tls_when_given_a_certificate(server, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    secure = Gateway(server.grpc_url, tmp_path, "--tls-cert", str(cert), "--tls-key", str(key), scheme="https")
    try:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        with urllib.request.urlopen(secure.url, context=context, timeout=10) as response:
            assert response.status == 200 and b'src="static/gazesam.js"' in response.read()
        with urllib.request.urlopen(secure.url + "static/gazesam.js", context=context, timeout=10) as response:
            assert b"window.gazesam" in response.read()
        assert f"open https://127.0.0.1:{secure.port}/" in secure.log.read_text()
    finally:
        secure.stop()


def test_a_taken_port_is_one_clear_line(gateway, server):
    started = time.monotonic()
    result = subprocess.run([*Gateway.command(server.grpc_url), "--port", str(gateway.port)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and time.monotonic() - started < 60
    assert f"error: cannot listen on 127.0.0.1:{gateway.port}" in result.stderr
