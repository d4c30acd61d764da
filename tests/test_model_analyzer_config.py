"""deploy/model_analyzer/gazesam.yaml, checked statically (model_analyzer needs a GPU to run): every key
is one that model_analyzer 1.46.0 defines, read from its own code (``make deploy-check`` unpacks it, without
its dependencies, into .venv/model_analyzer: option names from its profile command's source, perf_analyzer
and tritonserver flags and the metric tags from its own classes), and what the config names exists here."""

from __future__ import annotations

import ast
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from gazesam.contracts import ENSEMBLE
from gazesam.graph import pipeline_graph
from gazesam.networks import model_set

from conftest import STREAMS

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "model_analyzer" / "gazesam.yaml"
UNPACKED = Path(sys.prefix) / "model_analyzer"
PROFILE_SOURCE = "model_analyzer/config/input/config_command_profile.py"


@lru_cache(maxsize=1)
def unpacked() -> Path:
    if not (UNPACKED / "triton_model_analyzer-1.46.0.dist-info").is_dir():
        pytest.fail(f"model_analyzer 1.46.0 is not unpacked in {UNPACKED}: run 'make deploy-check'")
    return UNPACKED


@lru_cache(maxsize=1)
def profile_tree() -> ast.Module:
    return ast.parse((unpacked() / PROFILE_SOURCE).read_text())


def option_names() -> set[str]:
    """Every ``ConfigField("name", ...)`` of model_analyzer's profile command."""
    return {call.args[0].value for call in ast.walk(profile_tree())
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "ConfigField"
            and call.args and isinstance(call.args[0], ast.Constant)}


def schema_keys(marker: str) -> dict[str, ast.expr]:
    """The keys of the largest schema dict literal in the profile command's source that has key ``marker``."""
    schemas = [{k.value: v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)}
               for node in ast.walk(profile_tree()) if isinstance(node, ast.Dict)]
    found = [schema for schema in schemas if marker in schema]
    assert found, f"no schema with {marker!r} in {PROFILE_SOURCE}"
    return max(found, key=len)


def constraint_bounds() -> dict[str, set[str]]:
    """Constraint metric -> its bound keys (min / max), as the profile command defines them."""
    return {name: {k.value for n in ast.walk(value) if isinstance(n, ast.Dict) for k in n.keys}
            for name, value in schema_keys("perf_latency_p99").items()}


@lru_cache(maxsize=1)
def model_analyzer_classes():
    """PerfAnalyzerConfig, TritonServerConfig and RecordType, imported from model_analyzer (pure Python)."""
    sys.path.insert(0, str(unpacked()))
    from model_analyzer.perf_analyzer.perf_config import PerfAnalyzerConfig
    from model_analyzer.record.record import RecordType
    from model_analyzer.triton.server.server_config import TritonServerConfig

    return PerfAnalyzerConfig, TritonServerConfig, RecordType


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def test_every_option_is_one_model_analyzer_defines(config):
    assert set(config) <= option_names(), f"unknown options: {sorted(set(config) - option_names())}"
    per_model = set(schema_keys("cpu_only"))
    for name, spec in config["profile_models"].items():
        assert set(spec) <= per_model, f"{name}: unknown keys {sorted(set(spec) - per_model)}"


def test_an_unknown_option_would_be_caught():
    assert "run_config_search_max_instance_count" in option_names()
    assert "run_config_search_max_instances" not in option_names()


def test_flags_constraints_and_objectives_are_model_analyzers_own(config):
    perf_analyzer, triton_server, record_type = model_analyzer_classes()
    assert set(config["triton_server_flags"]) <= set(triton_server.allowed_keys())
    tags = set(record_type.get_all_record_types())
    bounds = constraint_bounds()
    for spec in config["profile_models"].values():
        assert set(spec["perf_analyzer_flags"]) <= set(perf_analyzer.allowed_keys())
        assert set(spec["objectives"]) <= tags
        for metric, bound in spec["constraints"].items():
            assert set(bound) <= bounds[metric], f"{metric} takes {bounds[metric]}, not {set(bound)}"


def test_it_searches_the_ensembles_composing_models_under_a_latency_budget(config):
    assert config["run_config_search_mode"] == "quick"  # model_analyzer's search mode for ensembles
    assert list(config["profile_models"]) == [ENSEMBLE.key]
    assert config["profile_models"][ENSEMBLE.key]["constraints"]["perf_latency_p99"]["max"] > 0
    assert config["run_config_search_max_instance_count"] > 1 and config["run_config_search_max_model_batch_size"] > 1
    assert config["run_config_search_max_concurrency"] == STREAMS.max_streams


def test_the_cpu_only_models_are_exactly_the_python_steps_of_the_served_ensemble(config):
    steps = {node.model for node in pipeline_graph(model_set("offline")) if node.network is None}
    assert set(config["cpu_only_composing_models"]) == steps


def test_the_input_data_is_what_perf_input_data_writes(config):
    from perf.perf_input_data import DEFAULT_OUTPUT

    flags = config["profile_models"][ENSEMBLE.key]["perf_analyzer_flags"]
    assert ROOT / flags["input-data"] == DEFAULT_OUTPUT
    assert "sequence-length" not in flags  # a longer sequence would loop a stream and send FRAME_TIME backwards
