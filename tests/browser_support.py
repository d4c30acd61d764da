"""Helpers for the browser tests: Debian's headless Chromium driven by selenium, a fake camera made from
a real video, and the web gateway as a child process.

Chromium is ``/usr/bin/chromium`` with ``/usr/bin/chromedriver`` (``make browser`` installs both from
Debian); selenium is given both paths, so it never looks for or downloads a browser of its own. Firefox
is Debian's ``/usr/bin/firefox-esr``, driven over its own Marionette protocol (Mozilla's
marionette-driver); its fake camera is Firefox's own generated test picture.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path
from typing import Callable

import cv2
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from gazesam_triton.server_process import free_port

with warnings.catch_warnings():  # marionette-driver 3.7.1's helpers import deprecated modules (distro, telnetlib)
    warnings.simplefilter("ignore", DeprecationWarning)
    from marionette_driver.marionette import Marionette

from conftest import ROOT, shared_path

FIREFOX = Path("/usr/bin/firefox-esr")
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# No network here: without these, Chromium waits on connections it tries to open by itself.
QUIET_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-default-apps", "--window-size=1280,720")


def write_fake_camera(path: Path, video: str, frames: int, width: int) -> None:
    """The first ``frames`` frames of real video ``video``, ``width`` px wide, as an MJPEG file (JPEGs back
    to back): what Chromium's ``--use-file-for-fake-video-capture`` plays, in a loop, as the camera."""
    capture = cv2.VideoCapture(str(shared_path("media", "videos", video)))
    with path.open("wb") as out:
        for _ in range(frames):
            ok, frame = capture.read()
            assert ok, f"{video} has fewer than {frames} frames"
            height = round(frame.shape[0] * width / frame.shape[1] / 2) * 2
            ok, jpeg = cv2.imencode(".jpg", cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
            out.write(jpeg.tobytes())
    capture.release()


def chromium(profile: Path, camera: Path, allow_camera: bool = True) -> webdriver.Chrome:
    """Headless Chromium with a fresh profile; ``camera``: an MJPEG file played as the camera, which a page
    is given at once (``allow_camera``) or refused, as when a person answers the browser's question "Block"."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run 'make browser' (Debian's chromium and chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    answer = "--use-fake-ui-for-media-stream" if allow_camera else "--deny-permission-prompts"
    for flag in (*QUIET_FLAGS, f"--user-data-dir={profile}", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={camera}", answer):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 30 s."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# A fresh profile: a fake camera given to any page, and nothing that would reach for the network.
FIREFOX_PREFS = {
    "media.navigator.streams.fake": True, "media.navigator.permission.disabled": True,
    "browser.shell.checkDefaultBrowser": False, "app.update.auto": False, "app.normandy.enabled": False,
    "browser.startup.homepage_override.mstone": "ignore", "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False, "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False, "messaging-system.rsexperimentloader.enabled": False,
    "browser.safebrowsing.malware.enabled": False, "browser.safebrowsing.phishing.enabled": False,
    "extensions.update.enabled": False, "app.shield.optoutstudies.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/",  # remote settings: a closed local port, at once
}


class Firefox:
    """Headless Firefox with a fresh profile in ``profile``, a Marionette session to it, until :meth:`quit`."""

    def __init__(self, profile: Path):
        if not FIREFOX.exists():
            pytest.fail(f"{FIREFOX} missing: run 'make browser' (Debian's firefox-esr)")
        port = free_port()
        profile.mkdir(parents=True, exist_ok=True)
        prefs = {**FIREFOX_PREFS, "marionette.port": port}
        (profile / "user.js").write_text("".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n"
                                                 for k, v in prefs.items()))
        self.log = profile.parent / "firefox.log"
        self._process = subprocess.Popen([str(FIREFOX), "--marionette", "--headless", "--no-remote", "--profile",
                                          str(profile)], stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        try:
            self.session = Marionette(host="127.0.0.1", port=port, startup_timeout=90)
            self.session.start_session()
        except Exception:
            self.quit()
            raise

    def execute(self, script: str):
        """Run ``script`` (a function body) in the page's own scope, as selenium's execute_script does."""
        return self.session.execute_script(script, sandbox=None)

    def quit(self) -> None:
        stop_process(self._process)


def wait_for(what: str, check: Callable[[], object], timeout_s: float, every_s: float = 0.2) -> object:
    """``check()``'s first truthy value within ``timeout_s``; fails the test naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what} (last: {value!r})")
        time.sleep(every_s)


class Gateway:
    """``clients/web_gateway.py`` as a child process on a free 127.0.0.1 port; its output goes to ``log``."""

    def __init__(self, server_url: str, folder: Path, *options: str, scheme: str = "http"):
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}/"
        self.record_dir = folder / "forwarded"
        self.log = folder / "gateway.log"
        self._context = ssl._create_unverified_context() if scheme == "https" else None  # a test's own certificate
        command = [*self.command(server_url), "--port", str(self.port), "--record-dir", str(self.record_dir), *options]
        self._process = subprocess.Popen(command, stdout=self.log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
        wait_for(f"the gateway at {self.url} (log {self.log})", self._answers, 60)

    @staticmethod
    def command(server_url: str) -> list[str]:
        return [sys.executable, str(ROOT / "clients" / "web_gateway.py"), "--url", server_url]

    def _answers(self) -> bool:
        if self._process.poll() is not None:
            pytest.fail(f"the gateway exited with {self._process.returncode}:\n{self.log.read_text()}")
        try:
            return self.status() is not None
        except OSError:
            return False

    def status(self) -> dict:
        with urllib.request.urlopen(self.url + "status", timeout=5, context=self._context) as response:
            return json.load(response)

    def forwarded(self) -> list[dict]:
        """Every frame the gateway forwarded (clients.web_stream.FrameRecorder's index), in order."""
        lines = (self.record_dir / "frames.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def stop(self) -> None:
        stop_process(self._process)
