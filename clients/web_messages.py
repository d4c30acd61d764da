"""What the web gateway tells a browser tab: JSON messages, one per WebSocket text message.

    hello    on connecting: the frame limits, the overlay colours, the server's model set (or None), ready or not
    served   the model set again, after a stream (re)started on the server (it may have been restarted)
    result   one frame's answer (clients.annotation.result_record, the label, the mask as run lengths)
    problem  a frame got no answer: ``kind`` (:class:`Problem`), the text to show, when to send again
    dropped  a frame was not forwarded: sooner than the rate cap allows, or one is already at the server

Every frame the page sends gets exactly one ``result``, ``problem`` or ``dropped`` back.
"""

from __future__ import annotations

import enum

import numpy as np

from clients.annotation import result_record, status_text
from clients.gazesam_client import ServedModels
from clients.stream_sender import UNREACHABLE, SendOutcome
from clients.web_frames import FrameLimits
from clients import overlay
from gazesam.admission import SERVER_FULL_TEXT

STREAM_LIMIT_RETRY_S = 5.0
SERVER_DOWN_RETRY_S = 2.0
_STREAMS_FULL_TEXT = SERVER_FULL_TEXT  # gazesam.admission.StreamLimitError
_BAD_FRAME_TEXTS = ("JPEG_FRAME", "FRAME must be")  # gazesam.jpeg_frame / gazesam.frame_check refusals


class Problem(str, enum.Enum):
    """Why a frame got no result; the page shows each kind in its own words."""

    SERVER_DOWN = "server_down"
    STREAM_LIMIT = "stream_limit"
    BAD_FRAME = "bad_frame"
    SERVER_ERROR = "server_error"


def problem_kind(error: str) -> Problem:
    """The kind of a :class:`~clients.stream_sender.SendOutcome` error."""
    if error == UNREACHABLE:
        return Problem.SERVER_DOWN
    if _STREAMS_FULL_TEXT in error:
        return Problem.STREAM_LIMIT
    if any(text in error for text in _BAD_FRAME_TEXTS):
        return Problem.BAD_FRAME
    return Problem.SERVER_ERROR


def problem_message(kind: Problem, detail: str, server_url: str) -> dict:
    """The ``problem`` message: what went wrong, in words a person at the page can act on."""
    texts = {
        Problem.SERVER_DOWN: (f"The gazesam server at {server_url} does not answer. Start it (make web, or make "
                              "serve); this page carries on by itself once it answers.", SERVER_DOWN_RETRY_S),
        Problem.STREAM_LIMIT: ("The server is already running all the streams it takes (other tabs or cameras). "
                               f"Close one of them; this page tries again every {STREAM_LIMIT_RETRY_S:g} s.",
                               STREAM_LIMIT_RETRY_S),
        Problem.BAD_FRAME: (f"A camera frame was refused: {detail}", 0.0),
        Problem.SERVER_ERROR: (f"The server could not process a frame: {detail}", 0.0),
    }
    text, retry_after_s = texts[kind]
    return {"type": "problem", "kind": kind.value, "text": text, "retry_after_s": retry_after_s}


def outcome_problem(outcome: SendOutcome, server_url: str) -> dict:
    """The ``problem`` message of an outcome without a result."""
    error = outcome.error or "no answer"
    return problem_message(problem_kind(error), error, server_url)


def dropped_message(reason: str, retry_after_s: float = 0.0) -> dict:
    """``reason``: ``rate`` (send again after ``retry_after_s``) or ``busy`` (a frame is already in flight)."""
    return {"type": "dropped", "reason": reason, "retry_after_s": retry_after_s}


def mask_runs(mask: np.ndarray) -> list[int]:
    """Run lengths of ``mask`` (H, W) read row by row, alternating off, on, off, ... (the first may be 0)."""
    flat = np.ascontiguousarray(mask).reshape(-1) != 0
    if flat.size == 0:
        return []
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], edges, [flat.size]))).tolist()
    return [0, *runs] if flat[0] else runs


def mask_from_runs(runs: list[int], height: int, width: int) -> np.ndarray:
    """The (H, W) uint8 mask (0 / MASK_ON) that :func:`mask_runs` describes; ValueError if they do not fit."""
    if sum(runs) != height * width or any(r < 0 for r in runs):
        raise ValueError(f"runs cover {sum(runs)} pixels, the frame {height}x{width} has {height * width}")
    values = np.resize(np.array([0, 255], np.uint8), len(runs))
    return np.repeat(values, runs).reshape(height, width)


def result_message(stream_id: int, index: int, frame_time_s: float, outcome: SendOutcome,
                   frame_hw: tuple[int, int]) -> dict:
    """The ``result`` message of frame ``index`` of the tab's stream (``outcome.result`` is not None)."""
    result = outcome.result
    return {
        "type": "result", "stream_id": str(stream_id), **result_record(index, frame_time_s, outcome),
        "frame_size": list(frame_hw),
        "status_text": status_text(result),
        "has_face": result.has_face,
        "has_target": result.has_target,
        "label": result.target_label,
        "server_ms": round(outcome.latency_ms, 1),
        "mask_runs": mask_runs(result.mask),
    }


def served_json(served: ServedModels | None) -> dict | None:
    """The model set for the page: its name, one line per family, the stand-ins and their banner."""
    return None if served is None else served.to_json() | {"banner": served.banner}


def _css(bgr: tuple[int, int, int]) -> list[int]:
    return list(bgr[::-1])


OVERLAY_COLORS = {
    "mask": _css(overlay.MASK_COLOR), "gaze": _css(overlay.GAZE_COLOR), "face": _css(overlay.FACE_COLOR),
    "target": _css(overlay.TARGET_COLOR),
}
"""RGB of each overlay element: the same colours as the clients' drawn overlay (clients.overlay)."""


def hello_message(limits: FrameLimits, served: ServedModels | None, server_url: str) -> dict:
    """The first message of a connection; ``served`` None: the server did not answer."""
    return {"type": "hello", "limits": limits.to_json(), "colors": OVERLAY_COLORS, "server_url": server_url,
            "server_ready": served is not None, "served": served_json(served)}


def served_message(served: ServedModels) -> dict:
    return {"type": "served", "served": served_json(served)}
