"""A small client for the ``gazesam`` ensemble over gRPC or HTTP (tritonclient).

    client = GazeSamClient("127.0.0.1:8001", "grpc")
    stream = new_stream_id()
    result = client.infer(frame, frame_time_s=0.0, stream_id=stream, start=True)   # FrameResult
    result = client.infer(next_frame, frame_time_s=0.033, stream_id=stream)
    client.infer(last_frame, frame_time_s=t_last, stream_id=stream, end=True)     # frees the server's slot
    client.served_models()                # the model set: each network's family and provenance, stand-ins

Every request belongs to a stream (a Triton sequence): send a stream's frames one at a time, in order,
with their own timestamps (video position or capture time), ``start`` on the first and ``end`` on the last.
Each request also carries the stream ID in the ``gazesam-stream-id`` header (gRPC metadata), on which a
proxy's consistent hash routes every frame of a stream to one replica (deploy/README.md).
"""

from __future__ import annotations

import http.client
import secrets
from dataclasses import dataclass

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from clients.frame_transport import Frame, frame_size, make_transport
from gazesam.admission import SERVER_FULL_TEXT, START_REQUIRED_TEXT
from gazesam.contracts import ENSEMBLE, STREAM_ID_HEADER, Status
from gazesam.settings import coco_class_names

DEFAULT_URLS = {"grpc": "127.0.0.1:8001", "http": "127.0.0.1:8000"}


def new_stream_id() -> int:
    """A random non-zero 63-bit correlation ID: independent clients do not collide on one server."""
    return secrets.randbits(63) | 1


# gRPC codes and HTTP statuses that mean "no answer from a working server" (down, restarting, stopping,
# overloaded past the deadline), as opposed to the server's answer refusing this one request. A full
# server also answers unavailable (503), with gazesam.admission.SERVER_FULL_TEXT: see is_server_full.
_CONNECTION_STATUSES = {"StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED", "502", "503", "504"}


def is_server_full(exc: BaseException) -> bool:
    """True when the server answered that every stream slot is in use: wait for one, then start the stream."""
    return isinstance(exc, InferenceServerException) and SERVER_FULL_TEXT in str(exc)


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` means the server was not reached or the connection broke mid-request.

    The request may or may not have been processed, so the server's view of the stream is unknown.
    False for a server's answer that refuses this one request (a bad frame, a full stream table).
    """
    if isinstance(exc, InferenceServerException):
        return exc.status() in _CONNECTION_STATUSES and not is_server_full(exc)
    # HTTP (geventhttpclient): refused, reset, timed out (OSError) or closed mid-response (HTTPException)
    return isinstance(exc, (OSError, http.client.HTTPException))


def is_unknown_stream_error(exc: BaseException) -> bool:
    """True when the server does not know the stream this request continues: start it again."""
    return isinstance(exc, InferenceServerException) and START_REQUIRED_TEXT in str(exc)


@dataclass(frozen=True)
class FrameResult:
    """The ensemble's answer for one frame (see gazesam.contracts.ENSEMBLE.outputs)."""

    status: Status
    mask: np.ndarray  # (H, W) uint8, 0 or MASK_ON
    target_box: np.ndarray  # (4,) float32
    target_class: int
    target_score: float
    face_box: np.ndarray  # (4,) float32
    face_score: float
    face_track_id: int  # the viewer's identity within the stream; 0 = no face
    gaze_yaw_pitch: np.ndarray  # (2,) radians
    gaze_ray: np.ndarray  # (4,) x0, y0, x1, y1

    @classmethod
    def from_outputs(cls, outputs: dict[str, np.ndarray]) -> "FrameResult":
        return cls(
            status=Status(int(outputs["STATUS"][0])),
            mask=outputs["MASK"],
            target_box=outputs["TARGET_BOX"],
            target_class=int(outputs["TARGET_CLASS"][0]),
            target_score=float(outputs["TARGET_SCORE"][0]),
            face_box=outputs["FACE_BOX"],
            face_score=float(outputs["FACE_SCORE"][0]),
            face_track_id=int(outputs["FACE_TRACK_ID"][0]),
            gaze_yaw_pitch=outputs["GAZE_YAW_PITCH"],
            gaze_ray=outputs["GAZE_RAY"],
        )

    def to_outputs(self) -> dict[str, np.ndarray]:
        """The ensemble's outputs by name, as the server sent them (the inverse of :meth:`from_outputs`)."""
        values = {
            "STATUS": [self.status], "MASK": self.mask, "TARGET_BOX": self.target_box,
            "TARGET_CLASS": [self.target_class], "TARGET_SCORE": [self.target_score], "FACE_BOX": self.face_box,
            "FACE_SCORE": [self.face_score], "FACE_TRACK_ID": [self.face_track_id],
            "GAZE_YAW_PITCH": self.gaze_yaw_pitch, "GAZE_RAY": self.gaze_ray,
        }
        return {spec.name: np.asarray(values[spec.name], spec.np_dtype) for spec in ENSEMBLE.outputs}

    @property
    def has_target(self) -> bool:
        """True when MASK and TARGET_* hold a target: this frame's (OK) or the stream's last one (HELD)."""
        return self.status in (Status.OK, Status.HELD)

    @property
    def has_face(self) -> bool:
        """True when FACE_BOX and GAZE_RAY describe a viewer seen in this frame."""
        return self.face_score > 0

    @property
    def target_label(self) -> str | None:
        if not self.has_target:
            return None
        names = coco_class_names()
        name = names[self.target_class] if 0 <= self.target_class < len(names) else f"class {self.target_class}"
        return f"{name} {self.target_score:.2f}"


class GazeSamClient:
    """Synchronous client; one instance per thread (tritonclient clients are not thread-safe for HTTP)."""

    def __init__(
        self, url: str | None = None, protocol: str = "grpc", timeout_s: float = 60.0, transport: str = "raw"
    ):
        """``transport``: how frames travel, ``raw`` | ``shm`` | ``jpeg`` (see clients/frame_transport.py)."""
        if protocol not in DEFAULT_URLS:
            raise ValueError(f"protocol must be grpc or http, not {protocol!r}")
        self.protocol = protocol
        self.url = url or DEFAULT_URLS[protocol]
        self.timeout_s = timeout_s
        module = grpcclient if protocol == "grpc" else httpclient
        if protocol == "grpc":
            self._client = grpcclient.InferenceServerClient(self.url)
        else:
            self._client = httpclient.InferenceServerClient(self.url, network_timeout=timeout_s)
        self._transport = make_transport(transport, module, self._client)

    def is_ready(self) -> bool:
        try:
            return bool(self._client.is_model_ready(ENSEMBLE.key))
        except Exception:  # connection refused, server starting: not ready
            return False

    def infer(
        self, frame: Frame, frame_time_s: float, stream_id: int, start: bool = False, end: bool = False
    ) -> FrameResult:
        """Process one H×W×3 uint8 BGR frame of stream ``stream_id`` taken at ``frame_time_s`` seconds.

        With the ``jpeg`` transport ``frame`` may also be a JPEG file's bytes, sent to the server unchanged.
        """
        frame_hw = frame_size(frame)
        kwargs = {"client_timeout": self.timeout_s} if self.protocol == "grpc" else {}
        response = self._client.infer(
            self._transport.model_name, self._transport.inputs(frame, frame_time_s),
            outputs=self._transport.outputs(frame_hw), sequence_id=stream_id, sequence_start=start,
            sequence_end=end, headers={STREAM_ID_HEADER: str(stream_id)}, **kwargs,
        )
        return FrameResult.from_outputs(self._transport.read(response, frame_hw))

    def _config(self, model: str) -> tuple[dict[str, str], list[str]]:
        """A served model's config: its string parameters and, for an ensemble, the models it runs."""
        config = self._client.get_model_config(model)
        if self.protocol == "grpc":
            config = config.config
            params = {k: v.string_value for k, v in config.parameters.items()}
            steps = [step.model_name for step in config.ensemble_scheduling.step]
        else:
            params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
            steps = [step["model_name"] for step in config.get("ensemble_scheduling", {}).get("step", [])]
        return params, steps

    def served_models(self) -> ServedModels:
        """What the server's ``gazesam`` ensemble runs, as its model configs state it."""
        params, steps = self._config(ENSEMBLE.key)
        networks, max_streams = {}, 0
        for model in steps:
            model_params, _ = self._config(model)
            if "network" in model_params:
                networks[model] = NetworkInfo(model_params.get("provenance", "unknown"),
                                              model_params.get("substitute", model))
            max_streams = max_streams or int(model_params.get("max_streams", 0))  # the admitting step's
        return ServedModels(params.get("model_set", "unknown"), networks, max_streams)

    def standin_networks(self) -> list[str]:
        return self.served_models().standins

    def close(self) -> None:
        try:
            self._transport.close()
        finally:
            self._client.close()


@dataclass(frozen=True)
class NetworkInfo:
    provenance: str  # "real" or "stand-in (tiny|full)"
    label: str  # its family, e.g. "gaze: OMZ ..., offline substitute for L2CS-Net"


@dataclass(frozen=True)
class ServedModels:
    """The server's model set: Triton model name of each network -> its provenance and family."""

    model_set: str
    networks: dict[str, NetworkInfo]
    max_streams: int = 0  # concurrent streams the server (or all the servers together) runs; 0: not stated

    @property
    def standins(self) -> list[str]:
        return [model for model, info in self.networks.items() if info.provenance != "real"]

    @property
    def banner(self) -> str | None:
        """The red overlay banner, or None when every network is real."""
        return standin_banner(self.standins)

    @property
    def families(self) -> list[str]:
        """One line per role the server fills (each family once), in the ensemble's order."""
        return list(dict.fromkeys(info.label for info in self.networks.values()))

    def caption(self) -> str:
        """The model set in one line per role, for overlays and logs."""
        return "\n".join([f"model set: {self.model_set}", *self.families])

    def to_json(self) -> dict:
        return {"model_set": self.model_set, "families": self.families, "stand_ins": self.standins,
                "networks": {model: info.provenance for model, info in self.networks.items()}}


def standin_banner(standins: list[str]) -> str | None:
    """The overlay banner text, or None when every network is real."""
    return f"STAND-IN MODELS: {', '.join(standins)} (random weights, not real results)" if standins else None
