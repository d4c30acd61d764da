"""The live web page in a real browser: Debian's headless Chromium, its camera faked from a real video.

The page (clients/web/) sends camera frames through the web gateway (clients/web_gateway.py) to a real
tritonserver. What the page shows for a frame must be what the in-process pipeline gives for the frames
the gateway forwarded (it records each JPEG it sent and its stream, index, time and flags); the mask it
paints must be the served mask; closing the tab must end the stream on the server. The page also
says so when the server is down, when every stream slot is taken, and when the camera is refused.
Firefox (Debian's firefox-esr) runs the same page once.

Most tests serve the stand-in set (fast: about 50 ms a frame, and the page must show its STAND-IN
banner). One serves the all-real offline set (about 1.5 s a frame on 2 cores) for the screenshot the
README shows, ``output/web_page.png``, and checks the page shows no STAND-IN banner there.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from clients.annotation import result_record
from clients.gazesam_client import FrameResult, GazeSamClient
from clients.stream_sender import SendOutcome
from clients.web_messages import mask_from_runs
from gazesam.jpeg_frame import decode_jpeg_frame
from gazesam.pipeline import InProcessPipeline

from browser_support import Firefox, Gateway, chromium, wait_for, write_fake_camera
from client_support import assert_every_stream_slot_is_free, end_streams, fill_every_slot
from conftest import OFFLINE_REPOSITORY, ROOT, STANDIN_REPOSITORY, generated
from gazesam_triton.server_process import free_port

pytestmark = pytest.mark.e2e

SCREENSHOT = ROOT / "output" / "web_page.png"
"""The offline set's page, as the README shows it."""
STANDIN_SCREENSHOT = ROOT / "output" / "web_page_standin.png"

PAGE_STATE = """
const g = window.gazesam, text = (id) => document.getElementById(id);
const shown = (id) => !text(id).hidden && text(id).getBoundingClientRect().height > 0;
return {drawn: g.drawn, painted: g.drawn ? g.paintedMaskRuns() : null, message: g.message,
        frame_png: g.drawn ? text("frame").toDataURL("image/png") : null,
        message_shown: shown("message"), message_text: text("message").textContent,
        banner_shown: shown("standin"), banner: text("standin").textContent,
        model_set: text("model-set").textContent, families: [...text("families").children].map((li) => li.textContent),
        fps: text("fps").textContent, latency: text("latency").textContent, answered: g.answered};
"""


@pytest.fixture(scope="module")
def camera(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("camera") / "father_daughter_toys.mjpeg"
    write_fake_camera(path, "father_daughter_toys.mp4", 60, 640)
    return path


@pytest.fixture(scope="module")
def browser(camera, tmp_path_factory):
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"), camera)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def gateway(server, tmp_path_factory):
    running = Gateway(server.grpc_url, tmp_path_factory.mktemp("gateway"), "--idle-timeout", "30")
    yield running
    running.stop()


class Tab:
    """The page open in a new tab of ``driver`` until the ``with`` block ends (then the tab is closed)."""

    def __init__(self, driver, url: str):
        self.driver, self.url = driver, url

    def __enter__(self) -> "Tab":
        self._home = self.driver.current_window_handle
        self.driver.switch_to.new_window("tab")
        self.driver.get(self.url)
        return self

    def __exit__(self, *exc_info) -> None:
        self.driver.close()
        self.driver.switch_to.window(self._home)

    def state(self) -> dict:
        return self.driver.execute_script(PAGE_STATE)

    def wait_for_message(self, kind: str, timeout_s: float = 30) -> dict:
        return wait_for(f"the page's {kind} message",
                        lambda: (s := self.state())["message"] and s["message"]["kind"] == kind and s, timeout_s)


def stream_frames(gateway: Gateway, drawn: dict) -> list[tuple[dict, np.ndarray]]:
    """The frames the gateway forwarded for the page's stream and the server answered, up to the page's
    drawn one, each with its row (time, start flag) and decoded as the server decodes it."""
    rows = [r for r in gateway.forwarded() if str(r["stream_id"]) == drawn["stream_id"] and r["answered"]
            and r["index"] <= drawn["index"]]
    assert rows and rows[-1]["index"] == drawn["index"] and rows[0]["start"]
    return [(row, decode_jpeg_frame(np.fromfile(str(gateway.record_dir / row["file"]), np.uint8))) for row in rows]


def served_oracle(repository: Path, frames: list[tuple[dict, np.ndarray]]) -> dict[str, np.ndarray]:
    """The in-process pipeline's outputs for the last of a stream's ``frames``, after the ones before it."""
    pipeline = InProcessPipeline(repository)
    for row, frame in frames:
        outputs = pipeline(frame, row["frame_time"], stream_id=1, start=row["start"])
    return outputs


def assert_shows_its_own_frame(frame_png: str, frames: list[tuple[dict, np.ndarray]]) -> None:
    """The page's frame canvas holds the frame its drawing was computed from: within the JPEG's loss of
    it, and no nearer to any other frame the stream sent (a frame grabbed twice may tie)."""
    shown = cv2.imdecode(np.frombuffer(base64.b64decode(frame_png.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    differences = [np.abs(shown.astype(np.int16) - frame).mean() for _, frame in frames[-10:]]
    assert shown.shape == frames[-1][1].shape and differences[-1] < 3, differences
    assert differences[-1] <= min(differences) + 1e-6, f"the page shows another frame: {differences}"


def assert_page_shows_the_served_result(repository: Path, gateway: Gateway, state: dict) -> None:
    drawn = state["drawn"]
    frames = stream_frames(gateway, drawn)
    assert_shows_its_own_frame(state["frame_png"], frames)
    expected = served_oracle(repository, frames)
    outcome = SendOutcome(FrameResult.from_outputs(expected), started_stream=frames[-1][0]["start"])
    record = result_record(drawn["index"], drawn["frame_time"], outcome)
    assert {key: drawn[key] for key in record} == record
    height, width = drawn["frame_size"]
    mask = expected["MASK"] != 0
    np.testing.assert_array_equal(mask_from_runs(drawn["mask_runs"], height, width) != 0, mask)
    painted = mask_from_runs(state["painted"], height, width) != 0
    assert not (painted & ~mask).any(), "the overlay paints mask colour outside the served mask"
    assert painted.sum() >= 0.9 * mask.sum(), f"painted {painted.sum()} of the mask's {mask.sum()} pixels"
    assert re.fullmatch(r"\d+\.\d fps", state["fps"]), state["fps"]
    assert re.match(r"\d+ ms \(mean of \d+: \d+ ms\)", state["latency"]), state["latency"]


def wait_for_target(tab: Tab, after_index: int, timeout_s: float) -> dict:
    """The page's state once it draws a target for a frame later than ``after_index`` of its stream."""
    def drawn_target():
        state = tab.state()
        drawn = state["drawn"]
        return drawn and drawn["has_target"] and drawn["index"] > after_index and state
    return wait_for("the page to draw a target", drawn_target, timeout_s)


def test_the_page_draws_the_served_result_and_closing_it_frees_the_stream(browser, gateway, server):
    with Tab(browser, gateway.url) as tab:
        state = wait_for_target(tab, after_index=2, timeout_s=60)
        assert state["answered"] >= 3 and not state["message_shown"], state["message_text"]
        standins = GazeSamClient(server.grpc_url).served_models()
        assert state["banner_shown"] and state["banner"] == standins.banner
        counts = f"{len(standins.standins)} of {len(standins.networks)}"
        assert state["model_set"] == f"standin: {counts} networks are STAND-INs"
        assert state["families"] == standins.families
        assert_page_shows_the_served_result(STANDIN_REPOSITORY, gateway, state)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        assert browser.get_screenshot_as_file(str(STANDIN_SCREENSHOT))
        stream = int(state["drawn"]["stream_id"])
        assert gateway.status()["streams_open"] == 1
    assert_the_stream_was_ended(gateway, server, stream)


def assert_the_stream_was_ended(gateway: Gateway, server, stream: int) -> None:
    """The gateway ended the closed page's stream: the server no longer knows it, and every slot is free."""
    wait_for("the gateway to end the closed page's stream", lambda: gateway.status()["streams_open"] == 0, 15)
    last = gateway.record_dir / gateway.forwarded()[-1]["file"]
    with pytest.raises(InferenceServerException, match="must specify the START flag"):
        GazeSamClient(server.grpc_url, transport="jpeg").infer(last.read_bytes(), 99.0, stream)
    assert_every_stream_slot_is_free(server.grpc_url, transport="jpeg")


def test_the_page_works_in_firefox(gateway, server, tmp_path):
    """The same page in Firefox (its own fake camera: a generated picture, so no face): the served result
    drawn on the frame it was computed from, and leaving the page ends the stream."""
    firefox = Firefox(tmp_path / "firefox-profile")
    try:
        firefox.session.navigate(gateway.url)
        state = wait_for("Firefox's page to draw its third answer",
                         lambda: (s := firefox.execute(PAGE_STATE))["drawn"] and s["drawn"]["index"] >= 2 and s, 60)
        assert state["banner_shown"] and not state["message_shown"], state["message_text"]
        assert_page_shows_the_served_result(STANDIN_REPOSITORY, gateway, state)
        firefox.session.navigate("about:blank")  # leaving the page closes its WebSocket
        assert_the_stream_was_ended(gateway, server, int(state["drawn"]["stream_id"]))
    finally:
        firefox.quit()


def test_the_page_says_when_every_stream_slot_is_taken_and_recovers(browser, gateway, server):
    client = GazeSamClient(server.grpc_url, transport="jpeg")
    frame = np.full((64, 64, 3), 90, np.uint8)
    others = fill_every_slot(client, frame)
    try:
        with Tab(browser, gateway.url) as tab:
            state = tab.wait_for_message("stream_limit")
            assert state["message_shown"] and "already running all the streams it takes" in state["message_text"]
            client.infer(frame, 0.04, others.pop(), end=True)
            wait_for("the page to be served once a slot is free", lambda: tab.state()["answered"] > 0, 30)
            assert not tab.state()["message_shown"]
    finally:
        end_streams(client, frame, others)
    wait_for("the gateway to end the closed tab's stream", lambda: gateway.status()["streams_open"] == 0, 15)


def test_the_page_says_when_the_server_is_down(browser, tmp_path):
    nowhere = f"127.0.0.1:{free_port()}"
    down = Gateway(nowhere, tmp_path, "--retries", "1")
    try:
        with Tab(browser, down.url) as tab:
            state = tab.wait_for_message("server_down")
            assert state["message_shown"] and f"server at {nowhere} does not answer" in state["message_text"]
            assert state["model_set"] == "(the server does not answer)" and not state["banner_shown"]
    finally:
        down.stop()


def test_the_page_says_when_the_camera_is_refused(camera, gateway, tmp_path):
    refusing = chromium(tmp_path / "profile", camera, allow_camera=False)
    try:
        with Tab(refusing, gateway.url) as tab:
            state = tab.wait_for_message("camera_refused")
            assert state["message_shown"] and "camera was refused" in state["message_text"]
            assert state["answered"] == 0 and state["model_set"].startswith("standin: ")
    finally:
        refusing.quit()


def test_the_offline_set_in_the_page(camera, tmp_path_factory, offline_server):
    """Real networks: the screenshot the README shows; no STAND-IN banner; the served result drawn."""
    gateway = Gateway(offline_server.grpc_url, tmp_path_factory.mktemp("offline-gateway"))
    driver = chromium(tmp_path_factory.mktemp("offline-profile"), camera)
    try:
        with Tab(driver, gateway.url) as tab:
            state = wait_for_target(tab, after_index=0, timeout_s=180)
            assert not state["banner_shown"] and state["model_set"] == "offline: every network real"
            assert all("STAND-IN" not in family for family in state["families"])
            assert_page_shows_the_served_result(generated(OFFLINE_REPOSITORY), gateway, state)
            SCREENSHOT.parent.mkdir(exist_ok=True)
            assert driver.get_screenshot_as_file(str(SCREENSHOT))
            print(f"screenshot: {SCREENSHOT}")
        wait_for("the gateway to end the closed tab's stream", lambda: gateway.status()["streams_open"] == 0, 60)
    finally:
        driver.quit()
        gateway.stop()
