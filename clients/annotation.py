"""A frame's result as the clients show it: drawn on the frame, and as a JSON-ready record."""

from __future__ import annotations

import hashlib

import numpy as np

from clients.gazesam_client import FrameResult, ServedModels
from clients.stream_sender import SendOutcome
from clients.overlay import draw_result

NOT_PROCESSED = "not processed (server error)"


def status_text(result: FrameResult) -> str:
    """``ok``, ``no face``, ``no target`` or ``held`` (a held mask: the stream's last target, repeated)."""
    return result.status.name.lower().replace("_", " ")


def annotate(frame: np.ndarray, result: FrameResult | None, served: ServedModels | None) -> np.ndarray:
    """A copy of the H×W×3 BGR ``frame`` with ``result`` drawn (None: labelled as not processed).

    ``served``: the server's models: a red banner names any stand-in, a caption names every family.
    """
    banner = served.banner if served else None
    caption = [f"model set: {served.model_set}", *served.families] if served else None
    if result is None:
        return draw_result(frame, mask=None, face_box=None, target_box=None, target_label=None,
                           gaze_ray=None, status_text=NOT_PROCESSED, banner=banner, caption=caption)
    return draw_result(
        frame,
        mask=result.mask if result.has_target else None,
        face_box=result.face_box if result.has_face else None,
        target_box=result.target_box if result.has_target else None,
        target_label=result.target_label,
        gaze_ray=result.gaze_ray if result.has_face else None,
        status_text=status_text(result),
        banner=banner,
        caption=caption,
    )


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values).reshape(-1)]


def result_record(index: int, frame_time_s: float, outcome: SendOutcome) -> dict:
    """Frame ``index``'s outcome for a JSON sidecar; float32 values survive the round trip exactly.

    ``stream_start``: this frame started the stream on the server (its first, or a restart).
    """
    record: dict = {"index": index, "frame_time": frame_time_s, "stream_start": outcome.started_stream}
    result = outcome.result
    if result is None:
        return record | {"status": None, "error": outcome.error}
    return record | {
        "status": result.status.name,
        "mask_sha256": hashlib.sha256(np.ascontiguousarray(result.mask).tobytes()).hexdigest(),
        "mask_pixels": int(np.count_nonzero(result.mask)),
        "target_box": _floats(result.target_box),
        "target_class": result.target_class,
        "target_score": result.target_score,
        "face_box": _floats(result.face_box),
        "face_score": result.face_score,
        "face_track_id": result.face_track_id,
        "gaze_yaw_pitch": _floats(result.gaze_yaw_pitch),
        "gaze_ray": _floats(result.gaze_ray),
    }
