"""The model manifest: for each of the six networks, its contract and where its file comes from.

Contracts themselves live in ``gazesam.contracts`` (the single source of truth); this table adds
provenance: upstream file name and address, licence, and any real offline alternative.
"""

from __future__ import annotations

from dataclasses import dataclass

from gazesam.contracts import NetworkContract, network_contract

UPSTREAM_BASE = "https://huggingface.co/mit-han-lab/efficientvit-sam/resolve/main/gazesam/onnx"


@dataclass(frozen=True)
class ModelSource:
    """One file that can serve a network."""

    network: str  # contracts.NETWORK_KEYS entry
    family: str  # the stand-in / contract variant: network key, or the detector family
    file_name: str
    url: str | None  # None: no download address (offline-only file)
    licence: str
    sha256: str | None  # known digest, checked after download when given
    description: str

    @property
    def contract(self) -> NetworkContract:
        return network_contract(self.network, self.family if self.network == "detector" else "yolox")


SOURCES: tuple[ModelSource, ...] = (
    ModelSource(
        "face", "face", "face_detection.onnx", f"{UPSTREAM_BASE}/face_detection.onnx", "MIT",
        "6f34078ef968d8900f315c61d86f32f5c728c6310c1701706a2bf7af6eb86ad0",
        "ProxylessGaze face detector (mit-han-lab/proxylessnas), the exact upstream file",
    ),
    ModelSource(
        "gaze", "gaze", "gaze_estimation.onnx", f"{UPSTREAM_BASE}/gaze_estimation.onnx", "MIT (L2CS-Net)",
        None, "L2CS-Net ResNet-50, Gaze360, PINTO l2cs_net_1x3x448x448 export with post-processing",
    ),
    ModelSource(
        "detector", "yolox", "yolox_nano.onnx", None, "Apache-2.0",
        "d39bee73564e338080378b0ad567fbb40e818b55bbfaf971de82a0267ed16b8a",
        "YOLOX-nano COCO (Megvii weights, exported by hamacom2004jp/iinfer); the offline default detector",
    ),
    ModelSource(
        "detector", "yolo_nas_ort", "yolo_m_ort.onnx", f"{UPSTREAM_BASE}/yolo_m_ort.onnx",
        "super-gradients YOLO-NAS weights licence (non-commercial)", None,
        "YOLO-NAS-M COCO, super-gradients export for ONNX Runtime (NMS in the graph)",
    ),
    ModelSource(
        "detector", "yolo_nas_trt", "yolo_m.onnx", f"{UPSTREAM_BASE}/yolo_m.onnx",
        "super-gradients YOLO-NAS weights licence (non-commercial)", None,
        "YOLO-NAS-M COCO, super-gradients export for TensorRT (EfficientNMS_TRT outputs)",
    ),
    ModelSource(
        "depth", "depth", "depth_m.onnx", f"{UPSTREAM_BASE}/depth_m.onnx", "Apache-2.0 (Depth-Anything-B)",
        None, "Depth-Anything v1 ViT-B/14 at 518×518 (spacewalk01 export)",
    ),
    ModelSource(
        "sam_encoder", "sam_encoder", "evit_encoder_l0.onnx", f"{UPSTREAM_BASE}/evit_encoder_l0.onnx",
        "Apache-2.0", None, "EfficientViT-SAM-L0 image encoder, 512×512",
    ),
    ModelSource(
        "sam_decoder", "sam_decoder", "evit_decoder_l0.onnx", f"{UPSTREAM_BASE}/evit_decoder_l0.onnx",
        "Apache-2.0", None, "EfficientViT-SAM-L0 box-prompt decoder, single mask",
    ),
)


def source_for(network: str, detector_family: str = "yolox") -> ModelSource:
    """The source that serves ``network`` (the detector's depends on the chosen family)."""
    family = detector_family if network == "detector" else network
    for source in SOURCES:
        if source.network == network and source.family == family:
            return source
    raise KeyError(f"no source for network {network!r} family {family!r}")
