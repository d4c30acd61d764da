"""serving.toml: the deployment knobs the repository generator reads."""

import json
from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from build_engines.__main__ import main as build_engines
from gazesam.networks import MODEL_SETS
from gazesam.pipeline import InProcessPipeline
from gazesam.serving import DEFAULT_SERVING_PATH, ServingConfigError, load_serving

from conftest import ROOT


def test_the_packaged_file_loads_with_sensible_defaults():
    config = load_serving(DEFAULT_SERVING_PATH)
    assert config.model_set in MODEL_SETS and config.profile == "cpu"
    assert config.max_streams >= 1 and 1 <= config.lease_min_s <= config.lease_max_s and config.queue_delay_us >= 0
    assert config.instances == {}


def test_an_environment_copy_replaces_the_packaged_file(tmp_path, monkeypatch):
    copy = tmp_path / "serving.toml"
    copy.write_text(DEFAULT_SERVING_PATH.read_text().replace("max_streams = 16", "max_streams = 4")
                    + 'depth_estimator = 2\n')
    monkeypatch.setenv("GAZESAM_SERVING", str(copy))
    config = load_serving()
    assert config.max_streams == 4 and config.instances == {"depth_estimator": 2}


@pytest.mark.parametrize("old, new, named", [
    ("max_streams = 16", "max_streams = 0", "max_streams"),
    ("max_streams = 16", "max_streams = 2.5", "max_streams"),
    ("lease_min_s = 15.0", 'lease_min_s = "soon"', "lease_min_s"),
    ("lease_max_s = 60.0", "lease_max_s = 10.0", "lease_max_s"),  # below lease_min_s
    ("queue_delay_us = 2000", "queue_delay_us = -1", "queue_delay_us"),
    ("# depth_estimator = 2", "depth_estimator = 0", "depth_estimator"),
])
def test_a_bad_value_is_refused_by_name(tmp_path: Path, old, new, named):
    copy = tmp_path / "serving.toml"
    copy.write_text(DEFAULT_SERVING_PATH.read_text().replace(old, new))
    with pytest.raises(ServingConfigError, match=named):
        load_serving(copy)


def small_serving(tmp_path: Path) -> Path:
    """A serving config with 4 streams, leases of 5-20 s and two depth instances."""
    text = DEFAULT_SERVING_PATH.read_text()
    for old, new in (("max_streams = 16", "max_streams = 4"), ("lease_min_s = 15.0", "lease_min_s = 5.0"),
                     ("lease_max_s = 60.0", "lease_max_s = 20.0"), ("# depth_estimator = 2", "depth_estimator = 2")):
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "serving.toml").write_text(text)
    return tmp_path / "serving.toml"


def config(repo: Path, model: str) -> model_config_pb2.ModelConfig:
    return text_format.Parse((repo / model / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())


def test_the_generator_writes_the_serving_config_into_the_configs_and_the_pipeline_reads_it_back(tmp_path, monkeypatch):
    monkeypatch.setenv("GAZESAM_SERVING", str(small_serving(tmp_path)))
    repo = tmp_path / "repo"
    assert build_engines(["--models-dir", str(ROOT / "models"), "repository", "--out", str(repo),
                          "--models", "standin"]) == 0
    params = {k: v.string_value for k, v in config(repo, "frame_check").parameters.items()}
    assert (params["max_streams"], params["lease_min_s"], params["lease_max_s"]) == ("4", "5", "20")
    tracking = config(repo, "face_track").sequence_batching
    assert tracking.oldest.max_candidate_sequences == 32  # 8 per stream
    assert tracking.max_sequence_idle_microseconds == 60_000_000  # 3 longest leases
    assert config(repo, "depth_estimator").instance_group[0].count == 2
    assert "serving config [instances]" in (repo / "depth_estimator" / "config.pbtxt").read_text()
    assert json.loads((repo / "model_set.json").read_text())["admission"]["max_streams"] == "4"
    policy = InProcessPipeline(repo).stream_admission
    assert (policy.max_streams, policy.lease_min_s, policy.lease_max_s) == (4, 5.0, 20.0)


def test_instances_for_a_model_the_set_lacks_are_refused(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "serving.toml"
    copy.write_text(DEFAULT_SERVING_PATH.read_text() + "landmark_detector = 2\n")  # the standin set has no such model
    monkeypatch.setenv("GAZESAM_SERVING", str(copy))
    assert build_engines(["--models-dir", str(ROOT / "models"), "repository", "--out", str(tmp_path / "repo"),
                          "--models", "standin"]) == 2
    assert "landmark_detector" in capsys.readouterr().err
