"""The one loop that sends a source's frames to the server as one stream: video files (``clients.video``)
and cameras (``clients.webcam``) alike.

Each frame goes out through a :class:`~clients.stream_sender.StreamSender` (start flag, retries,
restarts); its outcome is counted in the run's summary, each distinct error is named once, and the
frame with its outcome goes to the caller (write it, show it). Whatever stops the loop, the stream ends
on the server: by the last frame's end flag, or by the last frame sent going out again with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from clients.notices import notice
from clients.run_summary import RunSummary
from clients.stream_sender import SendOutcome, StreamSender


@dataclass(frozen=True)
class StreamFrame:
    """One frame of a source: its image, its time on the stream's clock, and whether it is the last."""

    image: np.ndarray
    time_s: float
    last: bool = False


def send_stream(frames: Iterable[StreamFrame], sender: StreamSender, summary: RunSummary, label: str,
                stop: threading.Event, use: Callable[[StreamFrame, SendOutcome], None], bar: tqdm,
                stop_reason: str | None = None) -> None:
    """Send ``frames`` until they end or ``stop`` is set (then ``stop_reason``, if any, is why the summary
    says the run stopped); ``use(frame, outcome)`` for each frame sent."""
    sent: StreamFrame | None = None
    for frame in frames:
        if stop.is_set():
            summary.stopped_because = summary.stopped_because or stop_reason
            break
        outcome = sender.send(frame.image, frame.time_s, frame.last)
        summary.record(outcome)
        if outcome.error and summary.errors[outcome.error] == 1:  # each distinct error once
            notice(f"{label}: frame {summary.frames - 1}: {outcome.error}")
        use(frame, outcome)
        sent = frame
        bar.update(1)
    if sent is not None and not sent.last:
        sender.end_stream(sent.image, sent.time_s)
