"""A small client for the ``gazesam`` ensemble over gRPC or HTTP (tritonclient).

    client = GazeSamClient("127.0.0.1:8001", "grpc")
    stream = new_stream_id()
    result = client.infer(frame, frame_time_s=0.0, stream_id=stream, start=True)   # FrameResult
    result = client.infer(next_frame, frame_time_s=0.033, stream_id=stream)
    client.infer(last_frame, frame_time_s=t_last, stream_id=stream, end=True)     # frees the server's slot
    client.standin_networks()             # networks the server runs with stand-in weights

Every request belongs to a stream (a Triton sequence): send a stream's frames one at a time, in order,
with their own timestamps (video position or capture time), ``start`` on the first and ``end`` on the last.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from gazesam.contracts import ENSEMBLE_INPUTS, ENSEMBLE_NAME, ENSEMBLE_OUTPUTS, Status
from gazesam.graph import NETWORK_MODELS
from gazesam.settings import coco_class_names

DEFAULT_URLS = {"grpc": "127.0.0.1:8001", "http": "127.0.0.1:8000"}
_TRITON_DTYPE = {"uint8": "UINT8", "float64": "FP64"}


def new_stream_id() -> int:
    """A random non-zero 63-bit correlation ID: independent clients do not collide on one server."""
    return secrets.randbits(63) | 1


@dataclass(frozen=True)
class FrameResult:
    """The ensemble's answer for one frame (see gazesam.contracts.ENSEMBLE_OUTPUTS)."""

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

    @property
    def target_label(self) -> str | None:
        if self.status not in (Status.OK, Status.HELD):
            return None
        names = coco_class_names()
        name = names[self.target_class] if 0 <= self.target_class < len(names) else f"class {self.target_class}"
        return f"{name} {self.target_score:.2f}"


class GazeSamClient:
    """Synchronous client; one instance per thread (tritonclient clients are not thread-safe for HTTP)."""

    def __init__(self, url: str | None = None, protocol: str = "grpc", timeout_s: float = 60.0):
        if protocol not in DEFAULT_URLS:
            raise ValueError(f"protocol must be grpc or http, not {protocol!r}")
        self.protocol = protocol
        self.url = url or DEFAULT_URLS[protocol]
        self.timeout_s = timeout_s
        module = grpcclient if protocol == "grpc" else httpclient
        self._module = module
        if protocol == "grpc":
            self._client = grpcclient.InferenceServerClient(self.url)
        else:
            self._client = httpclient.InferenceServerClient(self.url, network_timeout=timeout_s)

    def is_ready(self) -> bool:
        try:
            return bool(self._client.is_model_ready(ENSEMBLE_NAME))
        except Exception:  # connection refused, server starting: not ready
            return False

    def infer(
        self, frame: np.ndarray, frame_time_s: float, stream_id: int, start: bool = False, end: bool = False
    ) -> FrameResult:
        """Process one H×W×3 uint8 BGR frame of stream ``stream_id`` taken at ``frame_time_s`` seconds."""
        values = {"FRAME": np.ascontiguousarray(frame), "FRAME_TIME": np.array([frame_time_s], np.float64)}
        tensors = []
        for spec in ENSEMBLE_INPUTS:
            tensor = self._module.InferInput(spec.name, list(values[spec.name].shape), _TRITON_DTYPE[spec.dtype])
            tensor.set_data_from_numpy(values[spec.name])
            tensors.append(tensor)
        outputs = [self._module.InferRequestedOutput(s.name) for s in ENSEMBLE_OUTPUTS]
        kwargs = {"client_timeout": self.timeout_s} if self.protocol == "grpc" else {}
        response = self._client.infer(
            ENSEMBLE_NAME, tensors, outputs=outputs, sequence_id=stream_id, sequence_start=start,
            sequence_end=end, **kwargs,
        )
        return FrameResult.from_outputs({s.name: response.as_numpy(s.name) for s in ENSEMBLE_OUTPUTS})

    def network_provenance(self) -> dict[str, str]:
        """Network key -> provenance label as the server's model configs state it."""
        provenance = {}
        for network, model in NETWORK_MODELS.items():
            config = self._client.get_model_config(model)
            if self.protocol == "grpc":
                params = {k: v.string_value for k, v in config.config.parameters.items()}
            else:
                params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
            provenance[network] = params.get("provenance", "unknown")
        return provenance

    def standin_networks(self) -> list[str]:
        return [n for n, label in self.network_provenance().items() if label != "real"]

    def close(self) -> None:
        self._client.close()


def standin_banner(standins: list[str]) -> str | None:
    """The overlay banner text, or None when every network is real."""
    return f"STAND-IN MODELS: {', '.join(standins)} (random weights, not real results)" if standins else None
