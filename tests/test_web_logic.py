"""The web gateway's pure logic: frame messages and caps, the rate gate, the stream clock, what the page is
told for each kind of trouble (from the real errors' texts), masks as run lengths, origins, options."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from clients.gazesam_client import FrameResult
from clients.stream_sender import UNREACHABLE, SendOutcome
from clients.web_frames import (
    HEADER_BYTES, FrameLimits, FrameRefused, RateGate, StreamClock, encode_frame_message, frame_message,
)
from clients.web_gateway import build_parser, config_from, same_origin
from clients.web_messages import (
    OVERLAY_COLORS, Problem, mask_from_runs, mask_runs, outcome_problem, problem_kind, result_message,
)
from clients import overlay
from gazesam.contracts import ENSEMBLE, MAX_JPEG_BYTES
from gazesam.frame_check import FrameError
from gazesam.jpeg_frame import decode_jpeg_frame
from gazesam.admission import AdmissionPolicy, StreamAdmission, StreamLimitError



def jpeg_of(height: int, width: int) -> bytes:
    return cv2.imencode(".jpg", np.full((height, width, 3), 100, np.uint8))[1].tobytes()


def test_a_frame_message_is_a_capture_time_then_the_jpeg():
    jpeg = jpeg_of(48, 64)
    frame = frame_message(encode_frame_message(1234.5, jpeg), FrameLimits())
    assert (frame.capture_ms, frame.jpeg, frame.height, frame.width) == (1234.5, jpeg, 48, 64)
    assert HEADER_BYTES == 8 and FrameLimits(max_bytes=1000).message_bytes == 1008


@pytest.mark.parametrize("data, reason", [
    (b"\x00" * HEADER_BYTES, "an 8-byte capture time and a JPEG; got 8 bytes"),
    (encode_frame_message(math.nan, jpeg_of(48, 64)), "capture time is nan"),
    (encode_frame_message(math.inf, jpeg_of(48, 64)), "capture time is inf"),
    (encode_frame_message(0.0, b"GIF89a..."), "not a JPEG"),
    (encode_frame_message(0.0, jpeg_of(48, 64)[:20]), "no frame header"),
    (encode_frame_message(0.0, jpeg_of(48, 400)), "the frame is 400x48; this gateway takes 32 to 320 px a side"),
    (encode_frame_message(0.0, jpeg_of(16, 64)), "the frame is 64x16"),
    (encode_frame_message(0.0, jpeg_of(300, 300) + bytes(5000)), "this gateway takes at most 5000"),
])
def test_a_frame_that_breaks_a_rule_is_refused_with_the_reason(data, reason):
    with pytest.raises(FrameRefused, match=reason.replace("(", r"\(")):
        frame_message(data, FrameLimits(max_bytes=5000, max_side=320))


def test_limits_are_checked_against_the_servers_own():
    for bad in (dict(max_bytes=0), dict(max_bytes=MAX_JPEG_BYTES + 1), dict(max_side=10), dict(max_side=5000),
                dict(max_fps=0), dict(max_fps=math.nan)):
        with pytest.raises(ValueError):
            FrameLimits(**bad)


def test_the_rate_gate_drops_frames_sooner_than_its_interval_and_says_how_long_to_wait():
    gate = RateGate(max_fps=4)  # 0.25 s apart
    assert gate.wait_s(10.0) == 0 and gate.admit(10.0)
    assert not gate.admit(10.1) and gate.wait_s(10.1) == pytest.approx(0.15)
    assert not gate.admit(10.2)  # a dropped frame does not move the gate
    assert gate.admit(10.25) and not gate.admit(10.3) and gate.admit(10.6)


def test_the_stream_clock_counts_seconds_from_the_streams_first_frame():
    clock = StreamClock()
    assert [clock.frame_time_s(ms) for ms in (5000.0, 5040.0, 6000.0, 5990.0)] == [0.0, 0.04, 1.0, 0.99]


def _stream_limit_text() -> str:
    admission = StreamAdmission(AdmissionPolicy(max_streams=1))
    admission.admit(1, start=True, now=0.0)
    with pytest.raises(StreamLimitError) as refused:
        admission.admit(2, start=True, now=0.0)
    return f"[StatusCode.UNAVAILABLE] in ensemble 'gazesam_jpeg', frame_check: {refused.value}"


def _frame_error_text(data: bytes) -> str:
    with pytest.raises(FrameError) as refused:
        decode_jpeg_frame(np.frombuffer(data, np.uint8))
    return f"[StatusCode.INVALID_ARGUMENT] in ensemble 'gazesam_jpeg', frame_check: {refused.value}"


def test_each_kind_of_trouble_is_named_from_the_real_errors_text():
    assert problem_kind(UNREACHABLE) is Problem.SERVER_DOWN
    assert problem_kind(_stream_limit_text()) is Problem.STREAM_LIMIT
    assert problem_kind(_frame_error_text(b"not a jpeg")) is Problem.BAD_FRAME
    assert problem_kind(_frame_error_text(jpeg_of(64, 64)[:300])) is Problem.BAD_FRAME
    assert problem_kind("[StatusCode.INTERNAL] onnxruntime failed") is Problem.SERVER_ERROR


def test_the_page_is_told_what_to_do_and_when_to_try_again():
    down = outcome_problem(SendOutcome(None, error=UNREACHABLE), "127.0.0.1:8001")
    assert down["kind"] == "server_down" and "server at 127.0.0.1:8001 does not answer" in down["text"]
    assert down["retry_after_s"] > 0
    full = outcome_problem(SendOutcome(None, error=_stream_limit_text()), "x")
    assert full["kind"] == "stream_limit" and "running all the streams it takes" in full["text"]
    assert full["retry_after_s"] >= 1
    other = outcome_problem(SendOutcome(None, error="boom"), "x")
    assert other == {"type": "problem", "kind": "server_error", "text": "The server could not process a frame: boom",
                     "retry_after_s": 0.0}


@pytest.mark.parametrize("mask", [
    np.zeros((3, 4), np.uint8), np.full((3, 4), 255, np.uint8),
    np.array([[255, 0, 0, 255], [255, 255, 0, 0], [0, 0, 0, 255]], np.uint8),
    (np.random.default_rng(0).random((37, 53)) > 0.6).astype(np.uint8) * 255,
])
def test_a_mask_survives_run_lengths(mask):
    runs = mask_runs(mask)
    assert sum(runs) == mask.size and all(r > 0 for r in runs[1:])
    np.testing.assert_array_equal(mask_from_runs(runs, *mask.shape), mask)


def test_run_lengths_start_with_the_background():
    assert mask_runs(np.array([[255, 255, 0]], np.uint8)) == [0, 2, 1]
    assert mask_runs(np.array([[0, 255, 0]], np.uint8)) == [1, 1, 1]
    with pytest.raises(ValueError, match="cover 3 pixels"):
        mask_from_runs([1, 2], 2, 2)


def test_a_result_message_carries_the_record_the_label_and_the_mask():
    outputs = {spec.name: np.zeros([d if d > 0 else 4 for d in spec.shape], spec.np_dtype) for spec in ENSEMBLE.outputs}
    outputs["MASK"] = np.zeros((4, 6), np.uint8)
    outputs["MASK"][1:3, 2:5] = 255
    outputs["TARGET_CLASS"][0], outputs["TARGET_SCORE"][0] = 41, np.float32(0.75)  # OK status (0): a cup
    message = result_message(2**62 + 1, 3, 0.12, SendOutcome(FrameResult.from_outputs(outputs), 17.06), (4, 6))
    assert message["stream_id"] == str(2**62 + 1)  # as text: JavaScript numbers hold 53 bits
    assert (message["index"], message["frame_time"], message["status"], message["label"]) == (3, 0.12, "OK", "cup 0.75")
    assert message["frame_size"] == [4, 6] and message["mask_pixels"] == 6 and message["server_ms"] == 17.1
    np.testing.assert_array_equal(mask_from_runs(message["mask_runs"], 4, 6), outputs["MASK"])


def test_the_page_draws_in_the_overlays_colours():
    assert OVERLAY_COLORS["mask"] == list(overlay.MASK_COLOR[::-1])  # RGB for the page, BGR in OpenCV
    assert OVERLAY_COLORS["face"] == list(overlay.FACE_COLOR[::-1])


def test_only_the_gateways_own_page_may_open_a_websocket():
    assert same_origin(None, "127.0.0.1:8080")  # not a browser
    assert same_origin("http://127.0.0.1:8080", "127.0.0.1:8080")
    assert same_origin("https://Cam.Local:8443", "cam.local:8443")
    assert not same_origin("http://evil.example", "127.0.0.1:8080")
    assert not same_origin("http://127.0.0.1:9999", "127.0.0.1:8080")
    assert not same_origin("http://127.0.0.1:8080", None)


def test_the_gateway_binds_localhost_by_default_and_checks_its_options():
    args = build_parser().parse_args([])
    assert args.host == "127.0.0.1"
    config = config_from(args)
    assert config.server_url == "127.0.0.1:8001" and config.limits == FrameLimits() and config.recorder is None
    for bad, match in ((["--send-width", "4000"], "--send-width"), (["--idle-timeout", "0"], "--idle-timeout"),
                       (["--tls-cert", "c.pem"], "together"), (["--max-fps", "-1"], "max fps")):
        with pytest.raises(ValueError, match=match):
            config_from(build_parser().parse_args(bad))

