"""The accuracy harness (perf/evaluate_accuracy.py): its annotations, its metrics, and the offline set
beating the stand-in set on the hand-annotated real frames."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import OFFLINE_REPOSITORY, STANDIN_REPOSITORY, generated, shared_path

_SCRIPT = Path(__file__).resolve().parents[1] / "perf" / "evaluate_accuracy.py"
_SPEC = importlib.util.spec_from_file_location("evaluate_accuracy", _SCRIPT)  # a perf/ script, not a package
harness = sys.modules[_SPEC.name] = importlib.util.module_from_spec(_SPEC)  # dataclasses look themselves up
_SPEC.loader.exec_module(harness)


@pytest.fixture(scope="module")
def annotated():
    shared_path("media")
    annotations = harness.load_annotations()
    return annotations, harness.read_frames(annotations)


def test_annotations_cover_every_photo_and_both_videos(annotated):
    annotations, frames = annotated
    assert len(annotations) >= 40
    media = {a.media for a in annotations}
    assert {p.relative_to(shared_path("media")).as_posix() for p in shared_path("media", "images").glob("*.jpg")} <= media
    assert {"videos/woman_cup_shelf.mp4", "videos/father_daughter_toys.mp4"} <= media
    assert sum(a.polygon is not None for a in annotations) >= 10
    for a, frame in zip(annotations, frames):
        h, w = frame.shape[:2]
        for box in (a.viewer_face, a.target):
            if box is not None:
                assert 0 <= box[0] < box[2] <= w and 0 <= box[1] < box[3] <= h, a.name


def test_metrics():
    box = np.array([0, 0, 10, 10], np.float32)
    assert harness.box_iou(box, box) == 1.0
    assert harness.box_iou(box, np.array([5, 0, 15, 10], np.float32)) == pytest.approx(1 / 3)
    mask = np.zeros((20, 20), bool)
    mask[0:10, 0:5] = True
    assert harness.box_fill(mask, box) == pytest.approx(0.5)
    square = harness.polygon_mask(np.array([[0, 0], [9, 0], [9, 9], [0, 9]], np.float32), (20, 20))
    assert square.sum() == 100 and harness.mask_iou(mask, square) == pytest.approx(0.5)
    ray = np.array([0, 0, 10, 0], np.float32)
    assert harness.gaze_error_deg(ray, box, np.array([10, 10, 20, 20], np.float32)) == pytest.approx(45.0)
    assert harness.gaze_error_deg(np.zeros(4, np.float32), box, box) is None  # no direction, no angle


def test_the_score_counts_hits_nothings_and_misses():
    face = np.array([0, 0, 10, 10], np.float32)
    target = np.array([50, 50, 80, 80], np.float32)
    with_target = harness.Annotation("images/a.jpg", 0, face, target, "cup", None)
    nothing = harness.Annotation("images/b.jpg", 0, face, None, None, None)
    score = harness.Score("s")
    mask = np.zeros((100, 100), bool)
    mask[55:75, 55:75] = True
    score.add(with_target, harness.Outcome(target + 2, mask, face, np.array([5, 5, 99, 99], np.float32)))
    score.add(nothing, harness.Outcome(target, mask, face, None))  # chose something where nothing was to find
    score.add(nothing, harness.Outcome(None, None, face, None))
    assert (score.hits, score.with_target, score.correct_nothing, score.without_target) == (1, 1, 1, 2)
    assert score.outcome_accuracy == pytest.approx(2 / 3) and score.misses == ["b.jpg#0"]
    assert score.gaze_errors == [pytest.approx(0.0, abs=1e-6)]


def test_offline_set_beats_the_standin_set_by_a_wide_margin(annotated):
    """The harness on the in-process pipelines: real networks find the looked-at object, random ones never do."""
    annotations, frames = annotated
    from gazesam.pipeline import InProcessPipeline

    offline = harness.evaluate("offline", harness.pipeline_runner(InProcessPipeline(generated(OFFLINE_REPOSITORY))),
                               annotations, frames, progress=False)
    standin = harness.evaluate("standin", harness.pipeline_runner(InProcessPipeline(generated(STANDIN_REPOSITORY))),
                               annotations, frames, progress=False)
    print("\n" + "\n".join([harness.TABLE_HEADER, offline.row(), standin.row()]))
    assert offline.hits >= standin.hits + 4, (offline.row(), standin.row())
    assert offline.outcome_accuracy >= standin.outcome_accuracy + 0.1
    assert offline.fills and np.mean(offline.fills) < 0.8  # masks follow outlines ...
    assert not standin.fills or np.mean(standin.fills) > 0.9  # ... where random decoders fill their boxes
