"""The model-sources commands from a clean models folder: fetch from ../shared/models, stand-ins for
the rest, a generated repository, and every detector family behind the one detector contract."""

from __future__ import annotations

import tomllib
from pathlib import Path

import cv2
import pytest

from build_engines.__main__ import main as build_engines
from build_engines.fetch import fetch_one
from build_engines.manifest import SOURCES, source_for
from gazesam.contracts import NETWORK_KEYS, Status
from gazesam.model_files import ModelFileError, load_checked, read_provenance
from gazesam.pipeline import InProcessPipeline
from gazesam.settings import DEFAULT_SETTINGS_PATH, load_settings

from conftest import shared_path


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """A models folder made the documented way: fetch --from ../shared/models && standins."""
    models = tmp_path_factory.mktemp("models")
    assert build_engines(["--models-dir", str(models), "fetch", "--from", str(shared_path("models"))]) == 0
    assert build_engines(["--models-dir", str(models), "standins", "--size", "tiny"]) == 0
    return models


def test_fetch_and_standins_leave_a_complete_contract_checked_set(models_dir, capsys):
    for source in SOURCES:
        real = models_dir / "real" / source.file_name
        path = real if real.is_file() else models_dir / "standins" / "tiny" / source.file_name
        load_checked(path, source.contract)
        assert read_provenance(path).standin == (not real.is_file())
    # the two real files we have offline are real; sha256 recorded
    sums = (models_dir / "real" / "SHA256SUMS").read_text()
    assert source_for("face").sha256 in sums and source_for("detector", "yolox").sha256 in sums


def test_fetch_reports_missing_files_with_the_fix(tmp_path, capsys):
    assert build_engines(["--models-dir", str(tmp_path), "fetch", "--from", str(shared_path("models"))]) == 0
    out = capsys.readouterr().out
    assert "gaze_estimation.onnx" in out and "missing" in out and "STAND-INS" in out


def test_fetch_rejects_a_file_with_the_wrong_digest(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    face = source_for("face")
    (src / face.file_name).write_bytes(shared_path("models", face.file_name).read_bytes() + b"tampered")
    with pytest.raises(ModelFileError, match="sha256"):
        fetch_one(face, tmp_path, src, timeout=1)


def test_fetch_without_network_fails_softly(tmp_path):
    """Here no upstream host is reachable: the file is reported missing, nothing half-written remains."""
    gaze = source_for("gaze")
    result = fetch_one(gaze, tmp_path, None, timeout=3)
    assert result.status == "missing" and "download" in result.detail
    assert not (tmp_path / gaze.file_name).exists()


def test_repository_serves_real_files_where_present(models_dir, tmp_path):
    out = tmp_path / "repo"
    assert build_engines(["--models-dir", str(models_dir), "repository", "--out", str(out)]) == 0
    config = (out / "face_detector" / "config.pbtxt").read_text()
    assert 'key: "provenance" value { string_value: "real" }' in config
    assert 'string_value: "stand-in (tiny)"' in (out / "gaze_estimator" / "config.pbtxt").read_text()
    assert {p.name for p in out.iterdir()} >= {"gazesam", "face_detector", "sam_decoder", "mask_select"}


def test_repository_without_models_names_the_fix(tmp_path, capsys):
    assert build_engines(["--models-dir", str(tmp_path / "none"), "repository", "--out", str(tmp_path / "r")]) == 1
    assert "build_engines fetch" in capsys.readouterr().err


def test_yolo_nas_family_runs_through_the_same_pipeline(models_dir, tmp_path, monkeypatch):
    """The detector family is configuration: switch settings, regenerate, and the pipeline still runs."""
    raw = DEFAULT_SETTINGS_PATH.read_text().replace('family = "yolox"', 'family = "yolo_nas_ort"')
    settings_path = tmp_path / "settings.toml"
    settings_path.write_text(raw)
    assert tomllib.loads(raw)["detector"]["family"] == "yolo_nas_ort"
    out = tmp_path / "repo"
    assert build_engines(["--models-dir", str(models_dir), "repository", "--out", str(out),
                          "--detector-family", "yolo_nas_ort"]) == 0
    pipeline = InProcessPipeline(out, load_settings(settings_path))
    assert pipeline.provenance["detector"].standin
    frame = cv2.imread(str(shared_path("media", "images", "kitchen_table_cups.jpg")))
    outputs = pipeline(frame, 0.0, start=True, end=True)
    assert Status(int(outputs["STATUS"][0])) in (Status.OK, Status.NO_TARGET)
    assert outputs["MASK"].shape == frame.shape[:2]


def test_every_network_has_a_source():
    assert {s.network for s in SOURCES} == set(NETWORK_KEYS)
