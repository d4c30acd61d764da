"""Reading a ``cv2.VideoCapture`` on a background thread, a few frames ahead of the consumer.

Decoding (or waiting for a camera) then overlaps the consumer's inference. The queue is bounded, so
nothing is dropped: a file is read completely and in order.

    reader = FrameReader(cv2.VideoCapture(path)).start()
    for index, captured, last in frames_with_last_flag(reader):   # look-ahead: the last frame is known
        ...
    reader.stop()
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

_FAILED_READ_PAUSE_S = 0.02
_STOP_POLL_S = 0.1


@dataclass(frozen=True)
class CapturedFrame:
    image: np.ndarray  # H×W×3 uint8 BGR
    captured_s: float  # time.monotonic() when the capture delivered it


class SourceStalled(Exception):
    """No frame arrived within the consumer's timeout (the capture may be stuck inside read())."""


_END = object()


class FrameReader:
    """Reads ``capture`` until it fails for ``stall_s`` seconds, ``max_frames`` frames (0: no limit) or stop()."""

    def __init__(self, capture: cv2.VideoCapture, max_frames: int = 0, stall_s: float = 0.0, queue_size: int = 4):
        self._capture, self._max_frames, self._stall_s = capture, max_frames, stall_s
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="frame-reader", daemon=True)
        self.read_failed = False  # the source stopped delivering (a file's end, a camera that went away)

    def start(self) -> "FrameReader":
        self._thread.start()
        return self

    def next(self, timeout: float | None = None) -> CapturedFrame | None:
        """The next frame, or None when the source has ended; SourceStalled after ``timeout`` seconds."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise SourceStalled(f"no frame for {timeout:g} s") from None
        if item is _END:
            self._queue.put(_END)  # later calls see the end too
            return None
        return item

    def stop(self, join_timeout_s: float = 2.0) -> bool:
        """Stop reading; True when the thread has finished (only then may the capture be released)."""
        self._stop.set()
        self._thread.join(join_timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        count, last_frame_s = 0, time.monotonic()
        try:
            while not self._stop.is_set() and (not self._max_frames or count < self._max_frames):
                ok, image = self._capture.read()
                now = time.monotonic()
                if ok:
                    count, last_frame_s = count + 1, now
                    self._put(CapturedFrame(image, now))
                elif now - last_frame_s >= self._stall_s:
                    self.read_failed = True
                    break
                else:
                    time.sleep(_FAILED_READ_PAUSE_S)
        finally:
            self._put(_END)

    def _put(self, item: object) -> None:
        """Wait for room in the queue, but give up when stop() is called (nobody reads any more)."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_STOP_POLL_S)
                return
            except queue.Full:
                continue


def frames_with_last_flag(reader: FrameReader) -> Iterator[tuple[int, CapturedFrame, bool]]:
    """(index, frame, is_last) for every frame of ``reader``, reading one ahead to know the last."""
    current = reader.next()
    index = 0
    while current is not None:
        following = reader.next()
        yield index, current, following is None
        current, index = following, index + 1
