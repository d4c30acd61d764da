"""serving.toml: the deployment knobs the repository generator reads."""

from pathlib import Path

import pytest

from gazesam.networks import MODEL_SETS
from gazesam.serving import DEFAULT_SERVING_PATH, ServingConfigError, load_serving


def test_the_packaged_file_loads_with_sensible_defaults():
    config = load_serving(DEFAULT_SERVING_PATH)
    assert config.model_set in MODEL_SETS and config.profile == "cpu"
    assert config.max_streams >= 1 and config.idle_timeout_s >= 1 and config.queue_delay_us >= 0
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
    ("idle_timeout_s = 60.0", 'idle_timeout_s = "soon"', "idle_timeout_s"),
    ("queue_delay_us = 2000", "queue_delay_us = -1", "queue_delay_us"),
    ("# depth_estimator = 2", "depth_estimator = 0", "depth_estimator"),
])
def test_a_bad_value_is_refused_by_name(tmp_path: Path, old, new, named):
    copy = tmp_path / "serving.toml"
    copy.write_text(DEFAULT_SERVING_PATH.read_text().replace(old, new))
    with pytest.raises(ServingConfigError, match=named):
        load_serving(copy)
