"""Repository profiles: which runtime serves the networks. The ensemble never changes.

Every profile is one strategy object with the same methods (``preflight``, ``network_model``) and one
property the rest of the project reads, ``gates``: whether its networks take the ``GATE`` input that
lets them skip frames whose result cannot matter (the repository writes it, the in-process pipeline
follows it through ``model_set.json``).

- ``cpu`` (the default): each network is a Python-backend model running ONNX Runtime on the CPU; it is
  what the embedded Triton here can serve. The others need the NGC ``tritonserver`` container (native
  backends) and a GPU:

- ``onnx``: the native ``onnxruntime`` backend on ``model.onnx`` (CUDA; ``--onnx-tensorrt`` adds
  ONNX Runtime's TensorRT accelerator with upstream's default precisions, explicit shape profiles and
  its engine cache on disk);
- ``tensorrt``: ``tensorrt_plan`` models from ``python -m build_engines engines`` (see engine_manifest);
- ``pytorch``: Python-backend models running the network in PyTorch: ``KIND_GPU`` instances on the GPU
  Triton assigns, refusing to load without CUDA (``--torch-device cpu`` for a CPU-only server).

A profile changes only the network models (config, model file, adapter); Python steps, the ensemble
and every tensor name stay as generated. Each network config states ``profile``, ``precision`` and
``runtime`` in its parameters, beside ``provenance``, so a running server tells what it serves. Every
GPU-profile network has ``model_warmup`` at each shape of its profile (frame batch 1 and the batcher's
largest; the decoder's fewest, usual and most prompts), so Triton reports it ready only once engines,
kernels and CUDA contexts exist. ``gpu_memory_gib`` (``--gpu-memory-gib``) lowers the GPU instance counts
until their estimated memory fits that GPU (:mod:`build_engines.gpu_memory`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gazesam.contracts import FRAME_IMAGE, FRAME_SIZE, GATE, MAX_PROMPTS, NetworkContract, TensorSpec
from gazesam.model_files import ContractError
from gazesam.networks import Family, ModelSet, Network
from gazesam.serving import PACKAGED, ServingConfig
from gazesam.onnx_network import ORT_THREADS_PARAMETER

from .config_text import Scheduling, WarmupSample, network_config, python_model_config, warmup_block
from .cpu_quantization import int8_file
from .engine_host import check_plan_host, probe_plan_host
from .engine_manifest import EngineManifest, plan_for, read_manifest
from .gpu_memory import InstanceRequest, fit_instances
from .graph_ops import tensorrt_plugin_ops
from .precision import PRECISION_MODES
from .manifest import choose_model_file
from .shapes import FRAME_HW_LEVELS, InputProfile, frame_batch_limit, input_profiles, is_prompt_input, onnx_dynamic_inputs, shape_levels

PROFILES = ("cpu", "onnx", "tensorrt", "pytorch")

ORDER_NOTE = (
    "count > 1 may reorder one stream's frames between steps unless each stream has one frame in flight "
    "(the clients send one at a time, so the stateful steps still see frames in order)"
)

BATCHED_ENCODER_INSTANCES = (1, "one instance: dynamic batching already fills the GPU with several streams' frames")

ORT_GPU_MEM_LIMIT_BYTES = 2 * 1024**3
"""Cap of each ONNX Runtime session's CUDA arena (about ten sessions share one GPU; unlimited by default)."""

ORT_CUDA_PARAMETERS = {
    # HEURISTIC: no exhaustive cuDNN search at every new input shape (each new decoder prompt count)
    "cudnn_conv_algo_search": "1",
    "gpu_mem_limit": str(ORT_GPU_MEM_LIMIT_BYTES),
    "arena_extend_strategy": "1",  # kSameAsRequested: the arena grows by what is asked, not to the next power of 2
}

TORCH_DEVICES = ("cuda", "cpu")

WARMUP_WHY = ("Warm-up: Triton reports this model ready only after these requests ran, one per shape of its "
              "profile (engines built, kernels chosen, CUDA context made before real frames arrive).")


def batching_reason(contract: NetworkContract, max_batch: int, queue_delay_us: int) -> str:
    """One line: why this network does or does not use Triton's dynamic batcher."""
    if max_batch > 0:
        return (
            f"dynamic batching up to {max_batch} frames of different streams, waiting at most "
            f"{queue_delay_us} us (serving config [batching]): every tensor of this network has a dynamic frame axis"
        )
    if FRAME_IMAGE in contract.inputs:
        return ("no dynamic batching: it takes the frame itself (frame [H, W, 3]), and frames of different streams "
                "need not share a size; tensors keep their own batch axis (max_batch_size 0)")
    prompt_axes = [s.name for s in contract.inputs if is_prompt_input(contract, s)]
    fixed = [s.name for s in contract.inputs if s.shape[0] != -1]
    why = f"{', '.join(fixed)} has a fixed leading axis of 1" if fixed else "its model file has a fixed batch axis"
    if prompt_axes:
        why += f" and {prompt_axes[0]}'s leading axis counts one frame's prompts, not frames"
    return f"no dynamic batching: {why}; tensors keep their own batch axis (max_batch_size 0)"


def instance_override(network: Network, serving: ServingConfig) -> tuple[int, str] | None:
    """The serving config's ``[instances]`` count for ``network``'s model, with its reason, if it sets one."""
    count = serving.instances.get(network.model)
    return None if count is None else (count, f"{count} instance(s): set in the serving config [instances]")


def requested_instances(network: Network, max_batch: int, serving: ServingConfig) -> tuple[int, str]:
    """``network``'s GPU instance count and its reason: from its registry ``GpuPlan`` unless the serving config
    sets it (one for a network the dynamic batcher fills)."""
    count, reason = BATCHED_ENCODER_INSTANCES if max_batch > 0 else (network.gpu.instances, network.gpu.why)
    return instance_override(network, serving) or (count, reason)


def gpu_scheduling(network: Network, max_batch: int, serving: ServingConfig, kind: str = "KIND_GPU",
                   instances: tuple[int, str] | None = None) -> Scheduling:
    """Scheduling of ``network`` for several streams on one GPU: ``instances`` (count, reason) where given (sized
    to GPU memory), else :func:`requested_instances`; the batcher's queue delay from the serving config."""
    count, reason = instances or requested_instances(network, max_batch, serving)
    if count > 1:
        reason = f"{reason}; {ORDER_NOTE}"
    delay = serving.queue_delay_us
    return Scheduling(max_batch, batching_reason(network.contract, max_batch, delay), count, kind, reason, delay)


def _unbatched(specs: tuple[TensorSpec, ...]) -> tuple[TensorSpec, ...]:
    """Specs without their leading frame axis, as Triton wants dims when max_batch_size > 0."""
    return tuple(replace(spec, shape=spec.shape[1:]) for spec in specs)


def scheduled_config(
    name: str,
    doc: str,
    runtime_line: str,
    contract: NetworkContract,
    scheduling: Scheduling,
    params: dict[str, str],
    extra: tuple[str, ...] = (),
) -> str:
    """``config.pbtxt`` of one network under a GPU profile (dims without the frame axis when batched)."""
    batched = scheduling.max_batch_size > 0
    inputs = _unbatched(contract.inputs) if batched else contract.inputs
    outputs = _unbatched(contract.outputs) if batched else contract.outputs
    return network_config(name, doc, runtime_line, inputs, outputs, scheduling, params, extra)


def place_model_file(src: Path, dest: Path) -> None:
    """Hard-link ``src`` to ``dest`` (no copy of big files), falling back to a copy across devices."""
    if dest.exists() or dest.is_symlink():
        dest.unlink()
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def network_warmup(contract: NetworkContract, max_batch: int, model_dir: Path, max_prompts: int = MAX_PROMPTS) -> str:
    """``model_warmup`` with one request per distinct shape level of the network's input profile.

    Inputs get random data, except ``frame_hw``: the size of the level's frame, from a file written under
    ``model_dir/warmup`` (a random size would ask the graph for outputs of any size).
    """
    samples = []
    for level, shapes in shape_levels(input_profiles(contract, max_batch, max_prompts)).items():
        batch = next(iter(shapes.values()))[0] if max_batch > 0 else 1
        inputs = []
        for name, shape in shapes.items():
            spec, data_file = contract.input(name), None
            if spec == FRAME_SIZE:
                data_file = f"{name}_{level}"
                (model_dir / "warmup").mkdir(parents=True, exist_ok=True)
                sizes = np.tile(np.array(FRAME_HW_LEVELS[level], spec.np_dtype), (batch, 1) if max_batch > 0 else 1)
                (model_dir / "warmup" / data_file).write_bytes(sizes.tobytes())
            inputs.append((spec, shape[1:] if max_batch > 0 else shape, data_file))
        samples.append(WarmupSample(level, batch, tuple(inputs)))
    return warmup_block(WARMUP_WHY, tuple(samples))


def _shape_list(profiles: list[InputProfile], level: str) -> str:
    return ",".join(f"{p.name}:{'x'.join(map(str, getattr(p, level)))}" for p in profiles)


def onnx_tensorrt_accelerator(precision: str, profiles: tuple[InputProfile, ...], dynamic: frozenset[str],
                              cache_dir: Path) -> str:
    """ONNX Runtime's TensorRT accelerator block.

    Every dynamic input of the file gets an explicit shape profile (without one, ONNX Runtime rebuilds
    the engine inside a live request whenever a larger batch or prompt count arrives); engines and
    timing caches go to ``cache_dir`` (a volume in the container), built one instance at a time so the
    second instance loads the first one's engine.
    """
    dynamic_profiles = [p for p in profiles if p.name in dynamic]
    params = {
        "precision_mode": precision.upper(),
        "max_workspace_size_bytes": "1073741824",
        "trt_engine_cache_enable": "1",
        "trt_engine_cache_path": str(cache_dir),
        "trt_timing_cache_enable": "1",
        "trt_timing_cache_path": str(cache_dir),
        "trt_force_sequential_engine_build": "1",
    }
    for level in ("min", "opt", "max") if dynamic_profiles else ():
        params[f"trt_profile_{level}_shapes"] = _shape_list(dynamic_profiles, level)
    return "\n".join(
        [
            "# TensorRT accelerator inside ONNX Runtime; unsupported nodes fall back to CUDA.",
            "optimization { execution_accelerators { gpu_execution_accelerator : [ {",
            '  name : "tensorrt"',
            *(f'  parameters {{ key: "{key}" value: "{value}" }}' for key, value in params.items()),
            "} ] } }",
        ]
    )


@dataclass(frozen=True)
class NetworkModel:
    """What a profile writes for one network: its config, and the Python adapter line (None: native backend);
    ``threads``: the intra-op threads its CPU session uses (0: the runtime's default), for the in-process pipeline."""

    config: str
    adapter: str | None
    threads: int = 0


CORES_PER_HEAVY_INSTANCE = 8
"""A heavy network gets one instance per this many cores (at most MAX_HEAVY_INSTANCES): below it, one
session's threads already fill the machine; above it, a second instance lets streams overlap, where a
single session's threads stop scaling (perf/sweep_threads.py)."""
MAX_HEAVY_INSTANCES = 4


@dataclass(frozen=True)
class CpuScheduling:
    """One network's ONNX Runtime intra-op threads and Triton instances on a machine, with the reasons."""

    threads: int
    instances: int
    why: tuple[str, ...]


def cpu_scheduling(network: Network, cores: int, serving: ServingConfig = PACKAGED) -> CpuScheduling:
    """Threads and instances of ``network`` on ``cores`` cores, from its registry ``CpuPlan``.

    Heavy networks: ``cores // instances`` threads each, one instance per CORES_PER_HEAVY_INSTANCE cores.
    Light ones: one thread and one instance: a few ms on one core, where more threads synchronise more than
    they save and take cores from the heavy branch running beside them.
    """
    override = instance_override(network, serving)
    if override is not None:
        count, reason = override
        threads = max(1, cores // count) if network.cpu.heavy else 1
        return CpuScheduling(threads, count, (f"{threads} intra-op thread(s) x {reason}.",)
                             + ((ORDER_NOTE + ".",) if count > 1 else ()))
    if not network.cpu.heavy:
        return CpuScheduling(1, 1, (f"1 intra-op thread, 1 instance: {network.cpu.why}; more threads would take cores "
                                    "from the heavy branches running beside it.",))
    instances = max(1, min(MAX_HEAVY_INSTANCES, cores // CORES_PER_HEAVY_INSTANCE))
    threads = max(1, cores // instances)
    return CpuScheduling(threads, instances, (
        f"{threads} intra-op threads x {instances} instance(s) on {cores} cores: a heavy network ({network.cpu.why}),",
        f"so its session uses the cores; one instance per {CORES_PER_HEAVY_INSTANCE} cores lets streams overlap where "
        "one session's threads stop scaling.",
    ) + ((ORDER_NOTE + ".",) if instances > 1 else ()))


class CpuProfile:
    """Python-backend models running ONNX Runtime on the CPU (``gazesam_triton.onnx_model``): the default.

    Its networks take ``GATE``: a frame with no face skips every later network, one with no prompt the
    SAM decoder (outputs are zeros of the contract's shapes). Intra-op threads and instances come from
    the machine's core count (``cores``, default: this machine's), stated in each config.
    """

    name = "cpu"
    gates = True
    serving: ServingConfig = PACKAGED  # queue delay and instance overrides (make_profile sets another)
    adapter = "from gazesam_triton.onnx_model import TritonPythonModel  # noqa: F401"

    def __init__(self, cores: int | None = None, precision_mode: str = "default"):
        if precision_mode not in PRECISION_MODES:
            raise ValueError(f"unknown precision mode {precision_mode!r}; choose one of {', '.join(PRECISION_MODES)}")
        self.cores = cores or os.cpu_count() or 1
        self.precision_mode = precision_mode

    def preflight(self, models_dir: Path, model_set: ModelSet, standin_size: str) -> None:
        """ONNX Runtime can run every network file (no TensorRT plugin operators)."""
        refuse_tensorrt_only_files(models_dir, model_set, standin_size, "ONNX Runtime (cpu profile)")

    def network_model(
        self, model: str, model_file: Path, network: Network, params: dict[str, str], doc: str, version_dir: Path,
        gated: bool,
    ) -> NetworkModel:
        precision = network.cpu.optimized if self.precision_mode == "optimized" else "fp32"
        place_model_file(int8_file(model_file) if precision == "int8" else model_file, version_dir / "model.onnx")
        plan = cpu_scheduling(network, self.cores, self.serving)
        params = params | {"runtime": "onnxruntime-cpu (python backend)", "profile": self.name, "precision": precision,
                           "precision_mode": self.precision_mode, ORT_THREADS_PARAMETER: str(plan.threads),
                           "cpu_cores": str(self.cores)}
        inputs = network.contract.inputs + ((GATE,) if gated else ())
        why = plan.why + ((f"Precision {precision} ({self.precision_mode} mode): {network.cpu.optimized_why}.",)
                          if self.precision_mode == "optimized" else ())
        config = python_model_config(model, doc, inputs, network.contract.outputs, params, instances=(plan.instances, why))
        return NetworkModel(config, self.adapter, plan.threads)


def refuse_tensorrt_only_files(models_dir: Path, model_set: ModelSet, standin_size: str, runtime: str) -> None:
    """ContractError, in one line, when a network file of ``model_set`` uses TensorRT plugin operators, which only
    TensorRT runs (``runtime`` names the profile's runtime that cannot)."""
    for network in model_set.networks:
        path = choose_model_file(models_dir, network, model_set, standin_size)
        plugins = tensorrt_plugin_ops(path)
        if plugins:
            raise ContractError(tensorrt_only_refusal(model_set.family_of(network), network, path, plugins, runtime))


def tensorrt_only_refusal(family: Family, network: Network, path: Path, plugins: list[str], runtime: str) -> str:
    """Why ``runtime`` refuses ``network``'s file, which profile serves it and what to choose instead."""
    text = (f"{network.key} ({path.name}) uses the TensorRT plugin(s) {', '.join(plugins)}, which {runtime} cannot "
            f"run: only the {TensorRtProfile.name} profile serves it")
    if not family.plan_only:
        return text
    flavour = f"--family {family.role}={family.onnx_runtime_flavour}"
    others = ", ".join(name for name in PROFILES if name != TensorRtProfile.name)
    return (f"{text} (plans from 'build_engines engines --family {family.role}={family.name}' on a CPU repository "
            f"written with {flavour}); the {others} profiles serve {flavour}")


class GpuProfile:
    """What the GPU profiles share: no ``GATE``, and instance counts sized to ``gpu_memory_gib`` where it is set
    (``repository --gpu-memory-gib``; :mod:`build_engines.gpu_memory`), else the requested ones."""

    gates = False
    serving: ServingConfig = PACKAGED  # queue delay and instance overrides (make_profile sets another)
    gpu_memory_gib: float | None = None  # make_profile sets it
    fitted: dict[str, tuple[int, str]] = {}  # model -> (count, reason) sized to gpu_memory_gib, set by preflight

    def served_file(self, network: Network, model_file: Path) -> tuple[Path, int]:
        """The file Triton loads for ``network`` (from its ONNX ``model_file``) and its frame batch limit."""
        raise NotImplementedError

    def fit_to_gpu_memory(self, models_dir: Path, model_set: ModelSet, standin_size: str) -> None:
        """Size every network's instance count to ``gpu_memory_gib`` (GpuMemoryError when one each does not fit)."""
        if self.gpu_memory_gib is None:
            return
        requests = []
        for network in model_set.networks:
            served, max_batch = self.served_file(network, choose_model_file(models_dir, network, model_set, standin_size))
            count, reason = requested_instances(network, max_batch, self.serving)
            requests.append(InstanceRequest(network.model, count, reason, served.stat().st_size))
        self.fitted = fit_instances(requests, self.gpu_memory_gib)

    def scheduling(self, network: Network, max_batch: int, kind: str = "KIND_GPU") -> Scheduling:
        return gpu_scheduling(network, max_batch, self.serving, kind, self.fitted.get(network.model))


class OnnxProfile(GpuProfile):
    """Native ``onnxruntime`` backend on the GPU, optionally with its TensorRT accelerator.

    ``ort_trt_cache``: folder of the accelerator's engine and timing caches (default: ``<models>/ort_trt_cache``).
    """

    name = "onnx"

    def __init__(self, tensorrt_accelerator: bool = False, ort_trt_cache: Path | None = None):
        self.tensorrt_accelerator = tensorrt_accelerator
        self.ort_trt_cache = ort_trt_cache

    def preflight(self, models_dir: Path, model_set: ModelSet, standin_size: str) -> None:
        """ONNX Runtime can run every network file (no TensorRT plugin operators)."""
        refuse_tensorrt_only_files(models_dir, model_set, standin_size, "the onnxruntime backend (onnx profile)")
        if self.ort_trt_cache is None:
            self.ort_trt_cache = models_dir / "ort_trt_cache"
        self.ort_trt_cache = Path(self.ort_trt_cache).resolve()
        if self.tensorrt_accelerator:
            self.ort_trt_cache.mkdir(parents=True, exist_ok=True)
        self.fit_to_gpu_memory(models_dir, model_set, standin_size)

    def served_file(self, network: Network, model_file: Path) -> tuple[Path, int]:
        return model_file, frame_batch_limit(network.contract, model_file)

    def network_model(
        self, model: str, model_file: Path, network: Network, params: dict[str, str], doc: str, version_dir: Path,
        gated: bool,
    ) -> NetworkModel:
        contract = network.contract
        place_model_file(model_file, version_dir / "model.onnx")
        _, max_batch = self.served_file(network, model_file)
        scheduling = self.scheduling(network, max_batch)
        profiles = input_profiles(contract, max_batch)
        if self.tensorrt_accelerator:
            precision = network.gpu.precision("default")
            runtime = "onnxruntime backend, TensorRT accelerator (CUDA fallback)"
            accelerator = onnx_tensorrt_accelerator(precision, profiles, onnx_dynamic_inputs(model_file),
                                                    self.ort_trt_cache)
            extra: tuple[str, ...] = (accelerator,)
        else:
            precision, runtime, extra = "fp32", "onnxruntime backend, CUDA", ()
        params = params | {"profile": self.name, "precision": precision, "runtime": runtime} | ORT_CUDA_PARAMETERS
        extra += (network_warmup(contract, max_batch, version_dir.parent),)
        config = scheduled_config(model, doc, 'backend: "onnxruntime"', contract, scheduling, params, extra)
        return NetworkModel(config, None)


class TensorRtProfile(GpuProfile):
    """Native ``tensorrt`` backend on plans built by ``python -m build_engines engines``."""

    name = "tensorrt"

    def __init__(self, engines_dir: Path):
        self.engines_dir = Path(engines_dir)
        self.manifest: EngineManifest = read_manifest(self.engines_dir)

    def preflight(self, models_dir: Path, model_set: ModelSet, standin_size: str) -> None:
        """Every network has a plan built from the very ONNX file it would serve, by the TensorRT and on the
        GPU model of this machine (where it has them: ``engine_host``); checked before writing."""
        here = probe_plan_host()
        if here is not None:
            check_plan_host(self.manifest.host, here, self.engines_dir)
        if self.manifest.families != model_set.describe():
            raise FileNotFoundError(
                f"the plans in {self.engines_dir} are for the families {self.manifest.families!r}, "
                f"not {model_set.describe()!r}: rebuild them with 'python -m build_engines engines'"
            )
        for network in model_set.networks:
            plan_for(self.engines_dir, self.manifest, network.key,
                     choose_model_file(models_dir, network, model_set, standin_size))
        self.fit_to_gpu_memory(models_dir, model_set, standin_size)

    def served_file(self, network: Network, model_file: Path) -> tuple[Path, int]:
        plan, record = plan_for(self.engines_dir, self.manifest, network.key, model_file)
        return plan, record.max_batch

    def network_model(
        self, model: str, model_file: Path, network: Network, params: dict[str, str], doc: str, version_dir: Path,
        gated: bool,
    ) -> NetworkModel:
        contract = network.contract
        plan, record = plan_for(self.engines_dir, self.manifest, contract.key, model_file)
        place_model_file(plan, version_dir / "model.plan")
        scheduling = self.scheduling(network, record.max_batch)
        host = self.manifest.host
        params = params | {
            "profile": self.name,
            "precision": record.precision,
            "tf32": "on" if record.tf32 else "off",
            "runtime": f"tensorrt {host.tensorrt} plan ({self.manifest.precision_mode} mode)",
            "built_on": f"{host.gpu} (compute capability {host.compute_capability})",
        }
        warmup = network_warmup(contract, record.max_batch, version_dir.parent, self.manifest.max_prompts)
        config = scheduled_config(model, doc, 'platform: "tensorrt_plan"', contract, scheduling, params, (warmup,))
        return NetworkModel(config, None)


class PyTorchProfile(GpuProfile):
    """Python-backend models running the network in PyTorch (``gazesam_triton.torch_model``).

    ``device="cuda"`` (the GPU deployment): ``KIND_GPU`` instances, each on the GPU Triton assigns it
    (``model_instance_device_id``), and ``require_cuda`` so an instance that finds no CUDA refuses to load
    instead of serving on the CPU; TF32 on for FP32 matmuls and convolutions (stated as ``tf32``).
    ``device="cpu"``: ``KIND_CPU`` instances on the CPU, for a server without a GPU (the embedded one here).
    """

    name = "pytorch"
    adapter = "from gazesam_triton.torch_model import TritonPythonModel  # noqa: F401"

    def __init__(self, device: str = "cuda"):
        if device not in TORCH_DEVICES:
            raise ValueError(f"unknown PyTorch device {device!r}; choose one of {', '.join(TORCH_DEVICES)}")
        self.device = device

    def preflight(self, models_dir: Path, model_set: ModelSet, standin_size: str) -> None:
        """Every operator of every network file has a PyTorch implementation (needs PyTorch here)."""
        refuse_tensorrt_only_files(models_dir, model_set, standin_size, "PyTorch (pytorch profile)")
        try:
            from gazesam.onnx_torch import unsupported_nodes
        except ImportError as exc:
            raise ContractError(f"the pytorch profile needs PyTorch to check the graphs it will serve ({exc.name} "
                                "is missing): 'make pytorch' or 'pip install -r requirements-pytorch.txt'") from None
        for network in model_set.networks:
            path = choose_model_file(models_dir, network, model_set, standin_size)
            missing = unsupported_nodes(path)
            if missing:
                raise ContractError(f"{network.key} ({path.name}) cannot be served by the pytorch profile: "
                                    + "; ".join(missing))
        self.fit_to_gpu_memory(models_dir, model_set, standin_size)

    def served_file(self, network: Network, model_file: Path) -> tuple[Path, int]:
        return model_file, frame_batch_limit(network.contract, model_file)

    def network_model(
        self, model: str, model_file: Path, network: Network, params: dict[str, str], doc: str, version_dir: Path,
        gated: bool,
    ) -> NetworkModel:
        contract = network.contract
        place_model_file(model_file, version_dir / "model.onnx")
        _, max_batch = self.served_file(network, model_file)
        on_gpu = self.device == "cuda"
        scheduling = self.scheduling(network, max_batch, kind="KIND_GPU" if on_gpu else "KIND_CPU")
        where = ("KIND_GPU: each instance runs on the GPU Triton assigns it" if on_gpu
                 else "KIND_CPU: a server without a GPU")
        scheduling = replace(scheduling, count_reason=f"{scheduling.count_reason}; {where}")
        params = params | {
            "profile": self.name,
            "precision": "fp32",
            "tf32": "on" if on_gpu else "off",
            "require_cuda": "1" if on_gpu else "0",
            "runtime": "pytorch (python backend, CUDA)" if on_gpu else "pytorch (python backend, CPU)",
        }
        warmup = network_warmup(contract, max_batch, version_dir.parent)
        config = scheduled_config(model, doc, 'backend: "python"', contract, scheduling, params, (warmup,))
        return NetworkModel(config, self.adapter)


NetworkProfile = CpuProfile | OnnxProfile | TensorRtProfile | PyTorchProfile


def make_profile(name: str, engines_dir: Path | None = None, onnx_tensorrt: bool = False, *,
                 ort_trt_cache: Path | None = None, torch_device: str = "cuda",
                 cpu_cores: int | None = None, precision_mode: str = "default",
                 serving: ServingConfig | None = None, gpu_memory_gib: float | None = None) -> NetworkProfile:
    """The profile called ``name`` (``cpu_cores``, ``precision_mode``: the CPU profile's machine, default this
    one's, and precision mode; the GPU profiles take theirs from their plans or upstream's defaults;
    ``gpu_memory_gib``: the GPU profiles' instance counts sized to that much GPU memory)."""
    if name == "cpu":
        profile = CpuProfile(cpu_cores, precision_mode)
    elif name == "onnx":
        profile = OnnxProfile(onnx_tensorrt, ort_trt_cache)
    elif name == "tensorrt":
        if engines_dir is None:
            raise ValueError("the tensorrt profile needs the engines folder (--engines)")
        profile = TensorRtProfile(engines_dir)
    elif name == "pytorch":
        profile = PyTorchProfile(torch_device)
    else:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    if serving is not None:
        profile.serving = serving
    if gpu_memory_gib is not None:
        if not isinstance(profile, GpuProfile) or isinstance(profile, PyTorchProfile) and profile.device != "cuda":
            raise ValueError("--gpu-memory-gib sizes GPU instances: it applies to the onnx, tensorrt and pytorch "
                             "(--torch-device cuda) profiles only")
        if gpu_memory_gib <= 0:
            raise ValueError(f"--gpu-memory-gib must be positive, not {gpu_memory_gib:g}")
        profile.gpu_memory_gib = gpu_memory_gib
    return profile

