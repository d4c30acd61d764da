"""How a client hands a frame to the server: raw bytes in the request, system shared memory, or JPEG.

    raw  FRAME travels inside the gRPC/HTTP request (H*W*3 bytes per frame); works across machines.
    shm  FRAME and MASK live in POSIX shared memory regions registered with a server on the same host;
         the request carries only their names (tritonclient.utils.shared_memory).
    jpeg the frame is JPEG-encoded and sent to the ``gazesam_jpeg`` ensemble, which decodes it on the
         server (a few % of the raw size; costs an encode on the client and a decode on the server).
         A frame that already is a JPEG file's bytes (a browser's camera frame) is sent as it is.

Each transport builds the request's inputs and requested outputs and reads the outputs back; one
instance per client connection (a shared-memory transport owns its regions; call ``close``).
"""

from __future__ import annotations

import time
import uuid
import warnings
from typing import Any

import cv2
import numpy as np
from tritonclient.utils import np_to_triton_dtype

with warnings.catch_warnings():  # tritonclient 2.51's shared_memory imports the deprecated pkg_resources
    warnings.simplefilter("ignore", UserWarning)
    import tritonclient.utils.shared_memory as shm

from gazesam.contracts import ENSEMBLE, JPEG_ENSEMBLE, TensorSpec
from gazesam.jpeg_frame import jpeg_size
from gazesam_triton.admin_key import admin_headers

TRANSPORTS = ("raw", "shm", "jpeg")
_MASK = next(spec for spec in ENSEMBLE.outputs if spec.name == "MASK")

Frame = np.ndarray | bytes
"""An H×W×3 uint8 BGR frame, or (``jpeg`` transport only) the bytes of a JPEG file, sent unchanged."""


def frame_size(frame: Frame) -> tuple[int, int]:
    """(height, width) of ``frame``; a JPEG's from its header (gazesam.frame_check.FrameError if unreadable)."""
    return jpeg_size(frame) if isinstance(frame, bytes) else frame.shape[:2]


def _pixels(frame: Frame) -> np.ndarray:
    if isinstance(frame, bytes):
        raise TypeError("a frame given as JPEG bytes can only be sent with the jpeg transport")
    return np.ascontiguousarray(frame)


def _tensor(module: Any, spec: TensorSpec, value: np.ndarray) -> Any:
    tensor = module.InferInput(spec.name, list(value.shape), np_to_triton_dtype(spec.np_dtype))
    tensor.set_data_from_numpy(value)
    return tensor


def _time_tensor(module: Any, frame_time_s: float) -> Any:
    return _tensor(module, ENSEMBLE.inputs[1], np.array([frame_time_s], np.float64))


class RawTransport:
    """FRAME inside the request."""

    model_name = ENSEMBLE.key

    def __init__(self, module: Any, client: Any):
        self._module = module

    def inputs(self, frame: Frame, frame_time_s: float) -> list:
        return [_tensor(self._module, ENSEMBLE.inputs[0], _pixels(frame)),
                _time_tensor(self._module, frame_time_s)]

    def outputs(self, frame_hw: tuple[int, int]) -> list:
        return [self._module.InferRequestedOutput(spec.name) for spec in ENSEMBLE.outputs]

    def read(self, response: Any, frame_hw: tuple[int, int]) -> dict[str, np.ndarray]:
        return {spec.name: response.as_numpy(spec.name) for spec in ENSEMBLE.outputs}

    def close(self) -> None:
        pass


class JpegTransport(RawTransport):
    """The frame JPEG-encoded (``quality`` 1..100) for the ``gazesam_jpeg`` ensemble."""

    model_name = JPEG_ENSEMBLE.key

    def __init__(self, module: Any, client: Any, quality: int = 90):
        super().__init__(module, client)
        self.quality = quality

    def inputs(self, frame: Frame, frame_time_s: float) -> list:
        if isinstance(frame, bytes):
            data = np.frombuffer(frame, np.uint8)
        else:
            ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if not ok:
                raise ValueError(f"cannot JPEG-encode a frame of shape {frame.shape}")
        return [_tensor(self._module, JPEG_ENSEMBLE.inputs[0], data.reshape(-1)), _time_tensor(self._module, frame_time_s)]


UNREGISTER_WAIT_S = 5.0
"""How long a region may stay in use on the server after the last answer before it is left registered."""


class _Region:
    """One registered system shared-memory region of ``size`` bytes (``headers``: the admin key the
    server's shared-memory API requires, gazesam_triton.admin_key)."""

    def __init__(self, client: Any, size: int, role: str, headers: dict[str, str]):
        self.name = f"gazesam-{role}-{uuid.uuid4().hex[:12]}"
        self.size, self.headers = size, headers
        self.handle = shm.create_shared_memory_region(self.name, f"/{self.name}", size)
        try:
            client.register_system_shared_memory(self.name, f"/{self.name}", size, headers=headers)
        except Exception:
            shm.destroy_shared_memory_region(self.handle)
            raise

    def release(self, client: Any) -> None:
        try:
            self._unregister(client)
        finally:
            shm.destroy_shared_memory_region(self.handle)

    def _unregister(self, client: Any) -> None:
        """Unregister, waiting while the server still holds the region: Triton lets go of a request's input
        regions a moment after it answered, and refuses to unregister one in use until then."""
        deadline = time.monotonic() + UNREGISTER_WAIT_S
        while True:
            try:
                client.unregister_system_shared_memory(self.name, headers=self.headers)
                return
            except Exception as exc:  # the server is gone (its registrations with it): nothing left to undo
                if "in use" not in str(exc) or time.monotonic() > deadline:
                    return
            time.sleep(0.01)


class SharedMemoryTransport(RawTransport):
    """FRAME in and MASK out through shared memory; the server must run on this host."""

    def __init__(self, module: Any, client: Any):
        super().__init__(module, client)
        self._client = client
        self._headers = admin_headers("grpc" if module.__name__.endswith("grpc") else "http")
        self._frame: _Region | None = None
        self._mask: _Region | None = None

    def _regions_for(self, frame_hw: tuple[int, int]) -> tuple[_Region, _Region]:
        frame_bytes, mask_bytes = frame_hw[0] * frame_hw[1] * 3, frame_hw[0] * frame_hw[1]
        if self._frame is None or self._frame.size != frame_bytes:
            self.close()
            frame_region = _Region(self._client, frame_bytes, "frame", self._headers)
            try:
                mask_region = _Region(self._client, mask_bytes, "mask", self._headers)
            except Exception:
                frame_region.release(self._client)
                raise
            self._frame, self._mask = frame_region, mask_region  # both or neither
        return self._frame, self._mask

    def inputs(self, frame: Frame, frame_time_s: float) -> list:
        pixels = _pixels(frame)
        region, _ = self._regions_for(pixels.shape[:2])
        shm.set_shared_memory_region(region.handle, [pixels])
        tensor = self._module.InferInput(ENSEMBLE.inputs[0].name, list(frame.shape),
                                         np_to_triton_dtype(ENSEMBLE.inputs[0].np_dtype))
        tensor.set_shared_memory(region.name, region.size)
        return [tensor, _time_tensor(self._module, frame_time_s)]

    def outputs(self, frame_hw: tuple[int, int]) -> list:
        _, mask = self._regions_for(frame_hw)
        requested = super().outputs(frame_hw)
        for output in requested:
            if output.name() == _MASK.name:
                output.set_shared_memory(mask.name, mask.size)
        return requested

    def read(self, response: Any, frame_hw: tuple[int, int]) -> dict[str, np.ndarray]:
        values = {spec.name: response.as_numpy(spec.name) for spec in ENSEMBLE.outputs if spec.name != _MASK.name}
        values[_MASK.name] = shm.get_contents_as_numpy(self._mask.handle, np.uint8, list(frame_hw)).copy()
        return values

    def close(self) -> None:
        regions, self._frame, self._mask = [r for r in (self._frame, self._mask) if r], None, None
        for region in regions:
            region.release(self._client)


def make_transport(kind: str, module: Any, client: Any) -> RawTransport:
    """The transport named ``kind`` (one of :data:`TRANSPORTS`) for a tritonclient ``client`` of ``module``."""
    classes = {"raw": RawTransport, "shm": SharedMemoryTransport, "jpeg": JpegTransport}
    if kind not in classes:
        raise ValueError(f"transport must be one of {TRANSPORTS}, not {kind!r}")
    return classes[kind](module, client)
