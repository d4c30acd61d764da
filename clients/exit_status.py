"""The clients' exit statuses (``clients/video.py``, ``clients/webcam.py``)."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0  # every frame annotated
    UNANNOTATED = 1  # finished, but some frames were written unannotated (server errors, server unreachable),
    # or a video ended before the frame count its container states
    BAD_INPUT = 2  # no such video, unreadable video or camera, frames the server refuses, clashing or unwritable outputs
    SERVER_NOT_READY = 3  # the gazesam ensemble was not ready when the client started
    SOURCE_STOPPED = 4  # webcam: a camera stopped delivering frames (its recording is complete and playable)
    INTERRUPTED = 130  # video: Ctrl+C (webcam: Ctrl+C is the normal way to stop, 0)


HELP = """exit status: 0 every frame annotated (webcam: also after q, Esc or Ctrl+C, or a --source file's end);
1 some frames written unannotated (server errors, server unreachable) or a video shorter than its container
states; 2 bad input (missing or unreadable video or camera, a frame size the server refuses, clashing or
unwritable output names, bad options); 3 the server was not ready at the start; 4 (webcam) a camera stopped delivering
frames, its recording is complete; 130 (video) interrupted by Ctrl+C."""
