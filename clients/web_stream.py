"""One browser tab's stream on the server, the synchronous half of the web gateway.

    tab = TabStream(connect, Backoff(2, 0.5, 2.0), server_url)
    tab.served_now()                  # the server's model set, or None when it does not answer
    messages = tab.send(frame)        # a checked clients.web_frames.FrameMessage -> the page's messages
    tab.end()                         # the stream's end flag (tab closed or idle); the next frame starts anew

The tab's frames go to the ``gazesam_jpeg`` ensemble as the browser encoded them, one at a time, as one
stream (clients.stream_sender.StreamSender: start flag, restarts, retries). Use an instance from one
thread only (its tritonclient connections are not shared). A :class:`FrameRecorder` keeps every JPEG
forwarded and its stream, index, time and flags, so a test can replay exactly what the server saw.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Callable

from clients.backoff import Backoff
from clients.gazesam_client import GazeSamClient, ServedModels
from clients.stream_sender import SendOutcome, StreamSender
from clients.web_frames import FrameMessage, StreamClock
from clients.web_messages import outcome_problem, result_message, served_message

RECORD_INDEX = "frames.jsonl"


class FrameRecorder:
    """Writes each forwarded frame to ``<folder>/<stream>_<index>.jpg`` and a line to ``<folder>/frames.jsonl``."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # every tab's worker appends to the one index

    def record(self, stream_id: int, index: int, frame_time_s: float, outcome: SendOutcome, jpeg: bytes) -> None:
        name = f"{stream_id}_{index:06d}.jpg"
        (self.folder / name).write_bytes(jpeg)
        row = {"stream_id": stream_id, "index": index, "frame_time": frame_time_s, "file": name,
               "start": outcome.started_stream, "answered": outcome.result is not None}
        with self._lock, (self.folder / RECORD_INDEX).open("a") as index_file:
            index_file.write(json.dumps(row) + "\n")


class TabStream:
    """The server side of one tab: its stream (started on its first frame) and what the server serves."""

    def __init__(self, connect: Callable[[int], GazeSamClient], backoff: Backoff, server_url: str,
                 recorder: FrameRecorder | None = None, on_event: Callable[[str], None] = print):
        self._connect, self._backoff, self._server_url = connect, backoff, server_url
        self._recorder, self._on_event = recorder, on_event
        self._probe: GazeSamClient | None = None
        self._sender: StreamSender | None = None
        self._open = False  # the server runs the tab's stream (a start was answered, no end sent yet)
        self._clock = StreamClock()
        self._index = 0
        self._last: tuple[bytes, float] | None = None  # the last frame sent and its time, for the end flag
        self.served: ServedModels | None = None

    @property
    def running(self) -> bool:
        """The server runs the tab's stream: a frame was answered since the tab connected or the last :meth:`end`."""
        return self._open

    @property
    def stream_id(self) -> int | None:
        return None if self._sender is None else self._sender.stream_id

    def served_now(self) -> ServedModels | None:
        """The server's model set (remembered in :attr:`served`), or None when it does not answer."""
        try:
            if self._probe is None:
                self._probe = self._connect(0)  # any stream's server: this tab has one
            self.served = self._probe.served_models() if self._probe.is_ready() else None
        except Exception:  # down, restarting: the page says so; the next frame asks again
            self._close_probe()
            self.served = None
        return self.served

    def send(self, frame: FrameMessage) -> list[dict]:
        """Forward one frame; the messages for the page (a changed model set first, then the frame's answer)."""
        if self._sender is None:
            # slot_wait_s=0: on a full server the page shows why at once and sends again itself
            self._sender = StreamSender(self._connect, self._backoff, on_event=self._on_event, slot_wait_s=0.0)
            self._clock, self._index = StreamClock(), 0
        frame_time_s = self._clock.frame_time_s(frame.capture_ms)
        outcome = self._sender.send(frame.jpeg, frame_time_s)
        index, self._index = self._index, self._index + 1
        self._last = (frame.jpeg, frame_time_s)
        if self._recorder is not None:
            self._recorder.record(self._sender.stream_id, index, frame_time_s, outcome, frame.jpeg)
        if outcome.result is None:
            return [outcome_problem(outcome, self._server_url)]
        self._open = True
        messages = []
        if outcome.started_stream:
            known = self.served
            if self.served_now() is not None and self.served != known:
                messages.append(served_message(self.served))
        return [*messages, result_message(self._sender.stream_id, index, frame_time_s, outcome,
                                         (frame.height, frame.width))]

    def end(self) -> bool | None:
        """End the stream on the server (its last frame again, with the end flag).

        True: the server took it; False: it could not be told (it drops the stream when idle); None: no stream ran.
        """
        if self._sender is None:
            return None
        sender, self._sender = self._sender, None
        was_open, self._open = self._open, False
        try:
            ended = self._last is not None and sender.end_stream(*self._last)
        finally:
            sender.close()
        return ended if was_open else None

    def close(self) -> None:
        self.end()
        self._close_probe()

    def _close_probe(self) -> None:
        if self._probe is not None:
            probe, self._probe = self._probe, None
            try:
                probe.close()
            except Exception:  # a connection to a server that went away
                pass
