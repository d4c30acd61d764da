"""Building TensorRT plans with polygraphy, INT8 calibration, and the accuracy report (GPU machine only).

    python -m build_engines engines --precision-mode default|optimized --calibration-frames PATH

Sources are the FP32 ONNX files of a CPU-profile repository (``model_repository/<model>/1/model.onnx``),
which is also the pipeline that turns the frames into each network's real inputs (``calibration``).
Each plan is then run on those inputs and compared with the ONNX model under ONNX Runtime; the whole
pipeline is compared too, with every network swapped for its plan.

A plan-only family (its file uses TensorRT plugins, e.g. ``yolo_nas_trt``'s ``EfficientNMS_TRT``) cannot be in
a CPU repository: ``--family detector=yolo_nas_trt`` builds its served file from the model store instead,
on the inputs its ONNX Runtime flavour (``yolo_nas_ort``: same pre-processing, same served tensors) records
in the repository, and compares the plan with that flavour.

TensorRT's Python bindings and polygraphy are installed in the image of ``docker/Dockerfile``, pinned
there beside the NGC tag whose Triton loads the plans; the bindings run on the image's own
``libnvinfer``, and a build is refused when the two releases differ (``engine_host``). Every plan is
built with TF32 allowed for its FP32 layers (TensorRT's and trtexec's default), a bounded builder
workspace (a server may be running beside it) and a timing cache kept with the plans. Everything that
does not need TensorRT lives in plain modules (``frames``, ``calibration``, ``shapes``, ``precision``,
``accuracy``, ``engine_manifest``, ``engine_host``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from tqdm import tqdm

from gazesam.contracts import PROMPT_MASKS
from gazesam.model_files import read_provenance
from gazesam.networks import ModelSet, Network
from gazesam.pipeline import InProcessPipeline, network_file, repository_model_set

from .accuracy import NetworkAccuracy, format_network_rows, format_pipeline_row, pipeline_agreement
from .calibration import (
    Feed,
    NetworkWrapper,
    calibration_cache_path,
    calibration_feeds,
    calibration_key,
    calibrator_feeds,
    record_network_inputs,
    remove_stale_caches,
    run_frames,
)
from .engine_host import PlanHost, TensorRtVersionError, check_tensorrt_version, first_gpu, tensorrt_library_release
from .engine_manifest import EngineManifest, PlanRecord, file_sha256, write_manifest
from .manifest import choose_model_file
from .precision import network_precisions
from .shapes import InputProfile, frame_batch_limit, input_profiles


BUILDER_WORKSPACE_BYTES = 2 * 1024**3
"""Most GPU memory the TensorRT builder may take for tactics (its default is the whole GPU)."""
TIMING_CACHE = "timing.cache"
"""TensorRT's tactic timing cache in the plans folder: rebuilds reuse the measured tactics."""


class EnginesUnavailable(RuntimeError):
    """TensorRT, polygraphy or a CUDA GPU is missing here; the message says what to install or where to run."""


@dataclass(frozen=True)
class TensorRtTools:
    trt: ModuleType
    polygraphy_trt: ModuleType  # polygraphy.backend.trt
    host: PlanHost  # the TensorRT release and GPU the plans are built with


def require_tensorrt() -> TensorRtTools:
    """TensorRT and polygraphy, with a GPU TensorRT can use; :class:`EnginesUnavailable` otherwise."""
    try:
        trt = importlib.import_module("tensorrt")
        polygraphy_trt = importlib.import_module("polygraphy.backend.trt")
    except ImportError as exc:
        raise EnginesUnavailable(
            f"TensorRT/polygraphy are not installed here ({exc.name}): building plans needs an NVIDIA GPU and "
            "the image of docker/Dockerfile, which installs both (see docker/README.md)"
        ) from None
    try:
        check_tensorrt_version(trt.__version__, tensorrt_library_release())
    except TensorRtVersionError as exc:
        raise EnginesUnavailable(str(exc)) from None
    gpu = first_gpu()
    if gpu is None:
        raise EnginesUnavailable("nvidia-smi lists no GPU here: plans are built on the GPU model that serves them")
    try:
        builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
    except Exception as exc:  # TensorRT raises a plain RuntimeError/TypeError when CUDA cannot start
        builder, reason = None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    else:
        reason = "no CUDA device"
    if builder is None:
        raise EnginesUnavailable(f"TensorRT {trt.__version__} cannot use a GPU here ({reason}); run on a GPU machine")
    return TensorRtTools(trt, polygraphy_trt, PlanHost(trt.__version__, *gpu))


def build_plan(
    tools: TensorRtTools,
    onnx_path: Path,
    plan_path: Path,
    precision: str,
    profiles: tuple[InputProfile, ...],
    calibration: list[Feed] | None = None,
    cache_path: Path | None = None,
) -> None:
    """Build ``onnx_path`` into ``plan_path`` at ``precision``; INT8 is calibrated (entropy) on ``calibration``.

    TF32 stays allowed for FP32 layers (polygraphy would otherwise clear TensorRT's default TF32 flag).
    """
    ptrt = tools.polygraphy_trt
    profile = ptrt.Profile()
    for p in profiles:
        profile.add(p.name, min=p.min, opt=p.opt, max=p.max)
    calibrator = None
    if precision == "int8":
        calibrator = ptrt.Calibrator(
            data_loader=calibrator_feeds(calibration or []), cache=str(cache_path),
            BaseClass=tools.trt.IInt8EntropyCalibrator2,
        )
    timing_cache = str(plan_path.parent / TIMING_CACHE)
    config = ptrt.CreateConfig(
        tf32=True, fp16=precision == "fp16", int8=precision == "int8", profiles=[profile], calibrator=calibrator,
        memory_pool_limits={tools.trt.MemoryPoolType.WORKSPACE: BUILDER_WORKSPACE_BYTES},
        load_timing_cache=timing_cache,
    )
    engine = ptrt.engine_from_network(ptrt.network_from_onnx_path(str(onnx_path)), config=config,
                                      save_timing_cache=timing_cache)
    ptrt.save_engine(engine, path=str(plan_path))


class PlanNetwork(NetworkWrapper):
    """A built plan in place of the ONNX network ``like`` (same call, contract and provenance)."""

    def __init__(self, tools: TensorRtTools, plan_path: Path, like: object):
        super().__init__(like)
        ptrt = tools.polygraphy_trt
        self._runner = ptrt.TrtRunner(ptrt.EngineFromBytes(ptrt.BytesFromPath(str(plan_path))))
        self._runner.activate()

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self._runner.infer(feed_dict=inputs)
        return {spec.name: np.array(outputs[spec.name], dtype=spec.np_dtype) for spec in self.contract.outputs}

    def close(self) -> None:
        self._runner.deactivate()


def compare_network(
    network: str, precision: str, reference: object, candidate: PlanNetwork, feeds: list[Feed]
) -> NetworkAccuracy:
    """Run both on every feed and fold the differences into one :class:`NetworkAccuracy`."""
    result = NetworkAccuracy(network, precision)
    masks_output = PROMPT_MASKS.name if network == "sam_decoder" else None
    for feed in feeds:
        result.add(reference(**feed), candidate(**feed), masks_output)
    return result


@dataclass(frozen=True)
class PlanSource:
    """What one plan serves and the ONNX file it is built from; ``recorded_by``: the family whose ONNX Runtime
    run in the CPU repository gives its calibration and accuracy inputs, and the reference it is compared with
    (itself, or a plan-only family's ONNX Runtime flavour)."""

    network: Network
    onnx_path: Path
    family: str
    recorded_by: str


@dataclass(frozen=True)
class PlanSources:
    """Every plan's source: the model set the plans serve (the CPU repository's, plan-only families swapped in)."""

    model_set: ModelSet
    plans: dict[str, PlanSource]  # network key -> source

    def notes(self) -> list[str]:
        """One line per plan whose inputs and reference come from another family."""
        return [f"{key}: plan of {p.family} ({p.onnx_path.name}); inputs recorded by, and compared with, its ONNX "
                f"Runtime flavour {p.recorded_by}" for key, p in self.plans.items() if p.family != p.recorded_by]


def plan_sources(repository: Path, models_dir: Path, plan_families: dict[str, str], standin_size: str) -> PlanSources:
    """The plans' sources: each network's file in the CPU ``repository``, except the roles ``plan_families``
    gives a plan-only family (role -> family, e.g. detector -> yolo_nas_trt), whose served file comes from
    ``models_dir`` while the repository's ONNX Runtime flavour of it records the inputs.

    ValueError when a family named there is not plan-only or the repository does not serve its flavour.
    """
    recorded = repository_model_set(repository)
    served = recorded.with_families(plan_families)
    plans = {}
    for network in served.networks:
        family = served.family_of(network)
        flavour = recorded.family(family.role)
        if family == flavour:
            plans[network.key] = PlanSource(network, network_file(repository, network.model), family.name, family.name)
            continue
        if family.onnx_runtime_flavour != flavour.name:
            raise ValueError(
                f"--family {family.role}={family.name}: plans are built from the CPU repository's own files; only a "
                f"plan-only family replaces its ONNX Runtime flavour, and {repository} serves {family.role}="
                f"{flavour.name}" + (f" (write it with --family {family.role}={family.onnx_runtime_flavour})"
                                     if family.plan_only else ""))
        path = choose_model_file(models_dir, network, served, standin_size)
        plans[network.key] = PlanSource(network, path, family.name, flavour.name)
    return PlanSources(served, plans)


@dataclass(frozen=True)
class BuildRequest:
    repository: Path  # CPU-profile repository: ONNX sources and the calibration pipeline
    out: Path
    precision_mode: str
    frames: list[np.ndarray]
    max_prompts: int
    sources: PlanSources


def build_engines(tools: TensorRtTools, request: BuildRequest) -> tuple[EngineManifest, list[str]]:
    """Build every network's plan, write ``engines.json`` and return it with the report lines.

    A network whose build fails is reported and left out; the others are still built.
    """
    request.out.mkdir(parents=True, exist_ok=True)
    feeds = record_network_inputs(request.repository, request.frames)
    pipeline = InProcessPipeline(request.repository)
    model_set = request.sources.model_set
    precisions = network_precisions(request.precision_mode, model_set.networks)
    onnx_networks = {net.contract.key: net for net in pipeline.networks.values()}
    plans: dict[str, PlanRecord] = {}
    built: dict[str, PlanNetwork] = {}
    results: list[NetworkAccuracy] = []
    failures: list[str] = []
    for network in tqdm(list(precisions), desc=f"TensorRT plans ({request.precision_mode})", unit="plan"):
        source = request.sources.plans[network]
        model, onnx_path, contract = source.network.model, source.onnx_path, source.network.contract
        max_batch = frame_batch_limit(contract, onnx_path)
        precision = precisions[network]
        plan_path = request.out / f"{model}.plan"
        onnx_sha256 = file_sha256(onnx_path)
        cache, key = None, None
        try:
            calibration = calibration_feeds(feeds[network]) if precision == "int8" else None
            if calibration is not None:
                key = calibration_key(onnx_sha256, calibration)
                cache = calibration_cache_path(request.out, model, key)
                remove_stale_caches(request.out, model, keep=cache)
            build_plan(tools, onnx_path, plan_path, precision, input_profiles(contract, max_batch, request.max_prompts),
                       calibration, cache)
        except Exception as exc:  # report and go on: a machine builds what it can
            failures.append(f"{network}: build failed: {exc}")
            continue
        plans[network] = PlanRecord(plan_path.name, precision, max_batch, onnx_sha256, read_provenance(onnx_path).label,
                                    True, cache.name if cache else None, key)
        built[network] = PlanNetwork(tools, plan_path, onnx_networks[network])
        results.append(compare_network(network, precision, onnx_networks[network], built[network], feeds[network]))
    manifest = EngineManifest(request.precision_mode, tools.host, model_set.describe(), request.max_prompts, plans)
    write_manifest(request.out, manifest)
    lines = format_network_rows(results) + request.sources.notes()
    if len(built) == len(precisions):
        reference = run_frames(InProcessPipeline(request.repository), request.frames, "pipeline (ONNX FP32)")
        pipeline.wrap_networks(lambda net: built[net.contract.key])
        lines.append(format_pipeline_row(pipeline_agreement(reference, run_frames(pipeline, request.frames, "pipeline (plans)"))))
    for plan in built.values():
        plan.close()
    return manifest, lines + failures
