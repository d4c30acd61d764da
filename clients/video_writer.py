"""Writing a video on a background thread, so drawing and encoding overlap the next frame's inference.

    writer = BackgroundVideoWriter(path, fps=25.0, size=(1280, 720))
    writer.put(functools.partial(annotate, frame, result, banner))   # drawn and encoded in order
    writer.close()                                                   # the file is complete and playable

MPEG-4 (mp4v) needs even sides: OpenCV would silently crop an odd-sized video (641x479 -> 640x478), so a
frame with an odd side is written padded by one pixel (its last column or row repeated), never cropped;
``output_size`` says what the file holds.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

_END = object()


class VideoOutputError(RuntimeError):
    """The output video cannot be written (bad folder, codec)."""


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """``size`` (width, height) with each odd side one pixel larger."""
    return size[0] + size[0] % 2, size[1] + size[1] % 2


def pad_to_even(image: np.ndarray) -> np.ndarray:
    """``image`` with its last column / row repeated where its width / height is odd (every pixel kept)."""
    height, width = image.shape[:2]
    if not (height % 2 or width % 2):
        return image
    return cv2.copyMakeBorder(image, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)


def open_writer(path: Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    """An mp4v writer of ``size`` (width, height) frames at ``fps``; its folder is created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise VideoOutputError(f"cannot write video {path}")
    return writer


class BackgroundVideoWriter:
    """Writes the images that ``put`` callables make, in order; ``close`` waits for all of them."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], queue_size: int = 4):
        """``size``: the frames' (width, height); the file's is :attr:`output_size` (even sides)."""
        self.path = path
        self.frames_written = 0
        self.output_size = even_size(size)
        self._writer = open_writer(path, fps, self.output_size)
        self._size = size
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"writer-{path.name}", daemon=True)
        self._thread.start()

    def put(self, make_image: Callable[[], np.ndarray]) -> None:
        """Queue one frame: ``make_image()`` returns its H×W×3 uint8 BGR image (run on the writer thread)."""
        if self._error is not None:
            raise VideoOutputError(f"writing {self.path} failed: {self._error}") from self._error
        self._queue.put(make_image)

    def close(self) -> int:
        """Finish writing, release the file (complete and playable) and return the frames written."""
        self._queue.put(_END)
        self._thread.join()
        self._writer.release()
        if self._error is not None:
            raise VideoOutputError(f"writing {self.path} failed: {self._error}") from self._error
        return self.frames_written

    def _run(self) -> None:
        while (make_image := self._queue.get()) is not _END:
            if self._error is not None:
                continue  # keep draining so put() never blocks forever
            try:
                image = make_image()
                if image.shape[1::-1] != self._size:  # OpenCV would drop it silently
                    raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, the video "
                                     f"{self._size[0]}x{self._size[1]}")
                self._writer.write(pad_to_even(image))
                self.frames_written += 1
            except Exception as exc:  # reported by the next put() or close()
                self._error = exc
