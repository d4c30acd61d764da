"""The CPU ``optimized`` precision (int8) against fp32: accuracy on the harness frames and the speed-up.

    python perf/evaluate_precision.py        # builds perf/out/repository-optimized, compares, writes perf/out/evaluate_precision.md

The fp32 repository is ``model_repository/`` (the offline set); the optimized one is the same set written
with ``python -m build_engines repository --precision-mode optimized``, which quantizes the networks the
registry marks (``CpuPlan.optimized``; ONNX Runtime dynamic int8, ``build_engines.cpu_quantization``).
On the 46 hand-annotated frames of ``perf/evaluate_accuracy.py`` it reports, for both: the harness's
scores (outcome, target hit rate, gaze error, masks); between them: frames with the same outcome, the
angle between their gaze directions and the IoU of their masks; per network, the largest output
difference on the very inputs the fp32 pipeline gave it, and the median time per call of each.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from build_engines.accuracy import NetworkAccuracy
from build_engines.calibration import NetworkWrapper
from gazesam.contracts import PROMPT_MASKS, Status
from gazesam.pipeline import InProcessPipeline
from perf.evaluate_accuracy import (
    ANNOTATIONS,
    TABLE_HEADER,
    Score,
    _outcome,
    load_annotations,
    mask_iou,
    read_frames,
)

ROOT = Path(__file__).resolve().parents[1]


class TimedNetwork(NetworkWrapper):
    """A pipeline network that keeps each call's inputs, outputs and seconds (skipped frames are not calls)."""

    def __init__(self, network):
        super().__init__(network)
        self.calls: list[tuple[dict, dict, float]] = []

    def __call__(self, **inputs):
        began = time.perf_counter()
        outputs = self.network(**inputs)
        self.calls.append((inputs, outputs, time.perf_counter() - began))
        return outputs


def gaze_vector(yaw_pitch: np.ndarray) -> np.ndarray:
    yaw, pitch = (float(v) for v in yaw_pitch[:2])
    return np.array([-math.sin(yaw) * math.cos(pitch), math.sin(pitch), -math.cos(yaw) * math.cos(pitch)])


def run(repository: Path, frames: list[np.ndarray]) -> tuple[list[dict], dict[str, TimedNetwork], float]:
    pipeline = InProcessPipeline(repository)
    timed = pipeline.wrap_networks(TimedNetwork)
    outputs, began = [], time.perf_counter()
    for index, frame in enumerate(tqdm(frames, desc=repository.name, unit="frame")):
        outputs.append(pipeline(frame, 0.0, stream_id=index + 1, start=True, end=True))
    return outputs, timed, (time.perf_counter() - began) / len(frames)


def compare(fp32: Path, optimized: Path, annotations_path: Path = ANNOTATIONS) -> list[str]:
    annotations = load_annotations(annotations_path)
    frames = read_frames(annotations)
    (ref, ref_nets, ref_s), (got, got_nets, got_s) = run(fp32, frames), run(optimized, frames)
    scores = [Score(f"fp32 ({fp32.name})"), Score(f"optimized ({optimized.name})")]
    same, angles, ious = 0, [], []
    for annotation, a, b in zip(annotations, ref, got):
        scores[0].add(annotation, _outcome(a))
        scores[1].add(annotation, _outcome(b))
        same += int(a["STATUS"][0]) == int(b["STATUS"][0]) and np.array_equal(a["TARGET_BOX"], b["TARGET_BOX"])
        if a["FACE_SCORE"][0] > 0 and b["FACE_SCORE"][0] > 0:
            cos = float(np.clip(gaze_vector(a["GAZE_YAW_PITCH"]) @ gaze_vector(b["GAZE_YAW_PITCH"]), -1, 1))
            angles.append(math.degrees(math.acos(cos)))
        with_mask = (Status.OK, Status.HELD)
        if int(a["STATUS"][0]) in with_mask and int(b["STATUS"][0]) in with_mask:
            ious.append(mask_iou(a["MASK"] > 0, b["MASK"] > 0))
    lines = [
        "## CPU optimized precision (int8) against fp32",
        "",
        f"`python perf/evaluate_precision.py` on the {len(frames)} annotated frames; `{optimized.name}` is the offline "
        "set written with `--precision-mode optimized` (ONNX Runtime dynamic int8 of the MatMul/Gemm weights of the "
        "networks the registry marks: `CpuPlan.optimized`).",
        "",
        TABLE_HEADER,
        *(score.row() for score in scores),
        "",
        f"Between the two: same outcome on {same}/{len(frames)} frames; gaze direction differs by "
        f"{np.mean(angles):.2f}° on average, at most {max(angles):.2f}° (n={len(angles)}); masks where both "
        f"chose one: IoU {np.mean(ious):.3f} on average, at least {min(ious):.3f} (n={len(ious)})." if angles and ious
        else f"Between the two: same outcome on {same}/{len(frames)} frames.",
        f"Whole frame, in process: {ref_s * 1000:.0f} ms fp32, {got_s * 1000:.0f} ms optimized "
        f"({ref_s / got_s:.2f}x).",
        "",
        "| network | precision | calls | median ms fp32 | median ms optimized | speed-up | largest output difference |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for key, reference in ref_nets.items():
        candidate = got_nets[key]
        accuracy = NetworkAccuracy(key, candidate.network.contract.key)
        for inputs, outputs, _ in reference.calls:
            accuracy.add(outputs, candidate.network(**inputs), PROMPT_MASKS.name if key == "sam_decoder" else None)
        worst = ", ".join(f"{name} {stats.max_abs:.3g} (of {stats.max_ref:.3g})" for name, stats in accuracy.errors.items())
        if accuracy.mask_ious:
            worst += f"; mask IoU mean {np.mean(accuracy.mask_ious):.3f}, min {min(accuracy.mask_ious):.3f}"
        a_ms = statistics.median(t for *_, t in reference.calls) * 1000 if reference.calls else float("nan")
        b_ms = statistics.median(t for *_, t in candidate.calls) * 1000 if candidate.calls else float("nan")
        precision = precision_of(optimized, key)
        lines.append(f"| {key} | {precision} | {len(reference.calls)} | {a_ms:.1f} | {b_ms:.1f} | {a_ms / b_ms:.2f}x | {worst} |")
    return lines


def precision_of(repository: Path, network_key: str) -> str:
    from gazesam.pipeline import repository_model_set

    model = repository_model_set(repository).network(network_key).model
    text = (repository / model / "config.pbtxt").read_text()
    return text.split('key: "precision" value { string_value: "', 1)[1].split('"', 1)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perf/evaluate_precision.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fp32", type=Path, default=ROOT / "model_repository", help="default: %(default)s")
    parser.add_argument("--optimized", type=Path, default=ROOT / "perf" / "out" / "repository-optimized",
                        help="written first with --precision-mode optimized (default: %(default)s)")
    args = parser.parse_args(argv)
    if not (args.fp32 / "gazesam" / "config.pbtxt").is_file():
        print(f"error: {args.fp32} is not generated: run 'make setup'", file=sys.stderr)
        return 2
    from gazesam.pipeline import repository_model_set

    served = repository_model_set(args.fp32)
    families = [arg for role, name in served.choice.items() for arg in ("--family", f"{role}={name}")]
    subprocess.run([sys.executable, "-m", "build_engines", "repository", "--models", served.name, *families,
                    "--precision-mode", "optimized", "--out", str(args.optimized)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    lines = compare(args.fp32, args.optimized)
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "perf" / "out" / "evaluate_precision.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
