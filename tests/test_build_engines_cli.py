"""The model-sources commands from a clean models folder: fetch from ../shared/models, stand-ins for
the rest, generated repositories of each model set, and every detector family behind the one pipeline."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from build_engines.__main__ import main as build_engines
from build_engines.fetch import fetch_one
from build_engines.manifest import choose_model_file, published_networks, real_file, standin_networks
from gazesam.contracts import Status
from gazesam.model_files import ModelFileError, load_checked, read_provenance
from gazesam.networks import FAMILIES, MODEL_SETS, ModelFile, all_networks, family, model_set
from gazesam.pipeline import InProcessPipeline

from conftest import shared_path


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """A models folder made the documented way: fetch --from ../shared/models && standins."""
    models = tmp_path_factory.mktemp("models")
    assert build_engines(["--models-dir", str(models), "fetch", "--from", str(shared_path("models"))]) == 0
    assert build_engines(["--models-dir", str(models), "standins", "--size", "tiny"]) == 0
    return models


def test_fetch_and_standins_leave_a_complete_contract_checked_set(models_dir, capsys):
    standin_set = model_set("standin")  # allows a stand-in wherever no real file exists
    for network in published_networks():
        real = real_file(models_dir, network)
        path = choose_model_file(models_dir, network, standin_set, "tiny")  # the served form of a real file
        load_checked(path, network.contract)
        assert read_provenance(path).standin == (not real.is_file())
    # the real files we have offline are real; sha256 recorded
    sums = (models_dir / "real" / "SHA256SUMS").read_text()
    face, yolox = family("face", "proxyless").networks[0], family("detector", "yolox").networks[0]
    assert face.file.sha256 in sums and yolox.file.sha256 in sums
    for network in model_set("offline").networks:  # the offline set is all real here, each digest known
        assert real_file(models_dir, network).is_file()
        assert network.file.sha256 and network.file.sha256 in sums


def test_fetch_reports_missing_files_with_the_fix(tmp_path, capsys):
    assert build_engines(["--models-dir", str(tmp_path), "fetch", "--from", str(shared_path("models"))]) == 0
    out = capsys.readouterr().out
    assert "gaze_estimation.onnx" in out and "missing" in out and "STAND-INS" in out


def test_fetch_rejects_a_file_with_the_wrong_digest(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    face = family("face", "proxyless").networks[0]
    (src / face.file.name).write_bytes(shared_path("models", face.file.name).read_bytes() + b"tampered")
    with pytest.raises(ModelFileError, match="sha256"):
        fetch_one(face, tmp_path, src, timeout=1)


def test_fetch_without_network_fails_softly(tmp_path):
    """Here no upstream host is reachable: the file is reported missing, nothing half-written remains."""
    gaze = family("gaze", "l2cs").networks[0]
    result = fetch_one(gaze, tmp_path, None, timeout=3)
    assert result.status == "missing" and "download" in result.detail
    assert not (tmp_path / gaze.file.name).exists()


def test_repository_serves_real_files_where_present(models_dir, tmp_path):
    """The stand-in set serves the real file where one exists and a stand-in only where none does."""
    out = tmp_path / "repo"
    assert build_engines(["--models-dir", str(models_dir), "repository", "--models", "standin",
                          "--out", str(out)]) == 0
    config = (out / "face_detector" / "config.pbtxt").read_text()
    assert 'key: "provenance" value { string_value: "real" }' in config
    assert 'key: "model_set" value { string_value: "standin" }' in config
    assert 'string_value: "stand-in (tiny)"' in (out / "gaze_estimator" / "config.pbtxt").read_text()
    assert 'key: "provenance" value { string_value: "real" }' in (out / "object_detector" / "config.pbtxt").read_text()
    assert {p.name for p in out.iterdir()} >= {"gazesam", "face_detector", "sam_decoder", "mask_select"}


def test_default_repository_is_the_all_real_offline_set(models_dir, tmp_path):
    out = tmp_path / "repo"
    assert build_engines(["--models-dir", str(models_dir), "repository", "--out", str(out)]) == 0
    offline = model_set("offline")
    for network in offline.networks:
        config = (out / network.model / "config.pbtxt").read_text()
        assert 'key: "provenance" value { string_value: "real" }' in config, network.model
        assert f'key: "families" value {{ string_value: "{offline.describe()}" }}' in config
    assert InProcessPipeline(out).model_set == offline


def test_repository_without_models_names_the_fix(tmp_path, capsys):
    assert build_engines(["--models-dir", str(tmp_path / "none"), "repository", "--out", str(tmp_path / "r")]) == 1
    assert "build_engines fetch" in capsys.readouterr().err


def test_yolo_nas_family_runs_through_the_same_pipeline(models_dir, tmp_path, monkeypatch):
    """The detector family is configuration: choose it for the model set, regenerate, and the pipeline still runs."""
    out = tmp_path / "repo"
    assert build_engines(["--models-dir", str(models_dir), "repository", "--out", str(out),
                          "--models", "standin", "--family", "detector=yolo_nas_ort"]) == 0
    pipeline = InProcessPipeline(out)
    assert pipeline.model_set.family("detector").name == "yolo_nas_ort"
    assert 'string_value: "yolo_nas_ort"' in (out / "object_detector" / "config.pbtxt").read_text()
    assert pipeline.provenance["object_detector"].standin
    frame = cv2.imread(str(shared_path("media", "images", "kitchen_table_cups.jpg")))
    outputs = pipeline(frame, 0.0, start=True, end=True)
    assert Status(int(outputs["STATUS"][0])) in (Status.OK, Status.NO_TARGET)
    assert outputs["MASK"].shape == frame.shape[:2]


def test_an_unknown_family_is_refused_with_the_choices(models_dir, tmp_path, capsys):
    assert build_engines(["--models-dir", str(models_dir), "repository", "--out", str(tmp_path / "r"),
                          "--family", "detector=yolo_v9"]) == 2
    assert "yolox" in capsys.readouterr().err


def test_every_network_has_a_source(shared_dir):
    """Every network of every family has a published ModelFile, and a stand-in or a real file here."""
    published = {n.file.name for n in published_networks()}
    standins = {n.standin for n in standin_networks()}
    for network in all_networks():
        assert isinstance(network.file, ModelFile) and network.file.name in published
        assert network.standin in standins or (shared_dir / "models" / network.file.name).is_file(), network
    for chosen in MODEL_SETS.values():  # every role of every set is filled
        assert {f.role for f in chosen.families} == {f.role for f in FAMILIES}
