"""Command line: ``python -m build_engines {fetch,standins,macs,repository,engines}``.

Typical offline setup (what ``make setup`` runs)::

    python -m build_engines fetch --from ../shared/models    # the real files we have, sha256-checked
    python -m build_engines standins --size tiny              # stand-ins for networks without a real file
    python -m build_engines repository                        # model_repository/: the all-real offline set
    python -m build_engines repository --models standin --out model_repository_standin   # fast stand-in set

Model sets (``--models``): offline (every network real, substitutes where upstream's files cannot be
had offline; the default), upstream (the upstream GazeSAM files, downloaded by fetch where the
internet exists), standin (upstream interfaces, random weights where no real file exists).
``--family ROLE=NAME`` swaps one role's family (e.g. ``--family depth=depth_anything``).

GPU machine (NGC container): ``engines`` builds TensorRT plans, then ``repository --profile tensorrt``
serves them; ``--profile onnx`` / ``pytorch`` need no build step.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gazesam.contracts import MAX_PROMPTS
from gazesam.model_files import ContractError, ModelFileError
from gazesam.networks import MODEL_SETS, ROLES, families_of, model_set, parse_families
from gazesam.admission import AdmissionPolicy
from gazesam.serving import DEFAULT_SERVING_PATH, load_serving

from .precision import PRECISION_MODES
from .profiles import PROFILES

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "models"


def _cmd_fetch(args: argparse.Namespace) -> int:
    from .fetch import fetch_all

    from_dir = Path(args.from_dir).resolve() if args.from_dir else None
    if from_dir is not None and not from_dir.is_dir():
        print(f"error: --from {from_dir} is not a folder", file=sys.stderr)
        return 2
    results = fetch_all(Path(args.models_dir) / "real", from_dir, args.timeout)
    for r in results:
        digest = f"sha256 {r.sha256}" if r.sha256 else ""
        print(f"{r.network.model:20} {r.network.file.name:40} {r.status:10} {r.detail} {digest}")
    missing = {r.network.file.name for r in results if r.status == "missing"}
    if missing:
        print(f"\n{len(missing)} file(s) not available here: {', '.join(sorted(missing))}.")
    for chosen in MODEL_SETS.values():
        lacking = [n.file.name for n in chosen.networks if n.file.name in missing]
        verdict = "complete" if not lacking else (
            f"uses STAND-INS (random weights) for {', '.join(lacking)} ('python -m build_engines standins')"
            if chosen.standins else f"cannot be served here: lacks {', '.join(lacking)}")
        print(f"model set {chosen.name}: {verdict}")
    return 0


def _cmd_standins(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .manifest import real_file, standin_file, standin_networks
    from .standins import write_standin

    models_dir = Path(args.models_dir)
    candidates = standin_networks()
    todo = [n for n in candidates if args.all or not real_file(models_dir, n).is_file()]
    for network in tqdm(todo, desc=f"stand-ins ({args.size})", unit="model"):
        path = write_standin(network.standin, args.size, standin_file(models_dir, network, args.size), seed=args.seed)
        tqdm.write(f"STAND-IN {network.model:20} {path}")
    skipped = [n.file.name for n in candidates if n not in todo]
    if skipped:
        print(f"real files present, no stand-in needed: {', '.join(skipped)}")
    return 0


def _cmd_macs(args: argparse.Namespace) -> int:
    from .macs import print_macs_table

    print_macs_table(args.size)
    return 0


def _cmd_repository(args: argparse.Namespace) -> int:
    from .gpu_memory import GpuMemoryError
    from .profiles import make_profile
    from .repository import write_repository

    try:
        chosen = model_set(args.models, ",".join(args.family))
        serving = load_serving()
        unknown = sorted(set(serving.instances) - {network.model for network in chosen.networks})
        if unknown:
            raise ValueError(f"the serving config's [instances] names {unknown}, which are not network models of "
                             f"this model set ({', '.join(n.model for n in chosen.networks)})")
        cache = Path(args.ort_trt_cache) if args.ort_trt_cache else None
        profile = make_profile(args.profile, Path(args.engines), args.onnx_tensorrt, ort_trt_cache=cache,
                               torch_device=args.torch_device, cpu_cores=args.cpu_cores,
                               precision_mode=args.precision_mode, serving=serving, gpu_memory_gib=args.gpu_memory_gib)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    try:
        provenance = write_repository(Path(args.out), Path(args.models_dir), chosen, args.standin_size, profile,
                                      AdmissionPolicy.of_serving(serving))
    except GpuMemoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({args.profile} profile, model set {chosen.name}: {chosen.describe()})")
    for family in chosen.families:
        print(f"  {family.label}")
    for model, label in provenance.items():
        marker = "  <-- STAND-IN (random weights)" if label.startswith("stand-in") else ""
        print(f"    {model:20} {label}{marker}")
    return 0


def _cmd_engines(args: argparse.Namespace) -> int:
    from .engine_manifest import MANIFEST_NAME
    from gazesam.pipeline import InProcessPipeline

    from .engines import BuildRequest, EnginesUnavailable, build_engines, plan_sources, require_tensorrt
    from .frames import FramesError, load_frames
    from .shapes import check_max_prompts

    repository = Path(args.repository)
    try:
        check_max_prompts(args.max_prompts)
        if not Path(args.calibration_frames).exists():
            raise FramesError(f"no such folder or video: {args.calibration_frames}")
        if not (repository / "gazesam" / "config.pbtxt").is_file():
            raise FileNotFoundError(f"{repository} holds no CPU-profile repository: run "
                                    "'python -m build_engines repository' first (it gives the ONNX sources)")
        sources = plan_sources(repository, Path(args.models_dir), parse_families(",".join(args.family)),
                               args.standin_size)
        tools = require_tensorrt()
        frames = load_frames(args.calibration_frames, args.frames)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except (EnginesUnavailable, FramesError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    request = BuildRequest(repository, Path(args.out), args.precision_mode, frames, args.max_prompts, sources)
    manifest, report = build_engines(tools, request)
    report_path = Path(args.out) / f"accuracy_{args.precision_mode}.txt"
    report_path.write_text("\n".join(report) + "\n")
    print("\n".join(report))
    print(f"wrote {len(manifest.plans)} plan(s), {Path(args.out) / MANIFEST_NAME} and {report_path}")
    return 0 if len(manifest.plans) == len(InProcessPipeline(repository).model_set.networks) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m build_engines", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", default=str(MODELS_DIR), help="model store (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)

    fetch = sub.add_parser("fetch", help="get the real model files (download, or copy with --from)")
    fetch.add_argument("--from", dest="from_dir", help="copy from this folder instead of downloading")
    fetch.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds")
    fetch.set_defaults(func=_cmd_fetch)

    standins = sub.add_parser("standins", help="generate stand-in ONNX models for networks without real files")
    standins.add_argument("--size", choices=("tiny", "full"), default="tiny",
                          help="tiny: fast, for tests; full: upstream-sized compute (default: %(default)s)")
    standins.add_argument("--seed", type=int, default=0)
    standins.add_argument("--all", action="store_true", help="also for networks that have a real file")
    standins.set_defaults(func=_cmd_standins)

    macs = sub.add_parser("macs", help="print each stand-in's MACs beside the upstream figure")
    macs.add_argument("--size", choices=("tiny", "full"), default="full")
    macs.set_defaults(func=_cmd_macs)

    serving = load_serving()
    repo = sub.add_parser("repository", help="write the Triton model repository",
                          description="Write the Triton model repository. Defaults come from the serving config "
                                      f"({os.environ.get('GAZESAM_SERVING') or DEFAULT_SERVING_PATH}: [repository], "
                                      "[streams], [batching], [instances]); the options below override them.")
    repo.add_argument("--out", default=str(ROOT / "model_repository"))
    repo.add_argument("--standin-size", choices=("tiny", "full"), default="tiny",
                      help="which stand-ins to serve where no real file exists (default: %(default)s)")
    repo.add_argument("--models", choices=tuple(MODEL_SETS), default=serving.model_set,
                      help="the model set: " + "; ".join(f"{s.name}: {s.about}" for s in MODEL_SETS.values())
                      + " (default: %(default)s)")
    repo.add_argument("--family", action="append", default=[f for f in serving.families.split(",") if f],
                      metavar="ROLE=NAME",
                      help="replace one role's family in the model set; roles and families: "
                      + "; ".join(f"{role}: {', '.join(families_of(role))}" for role in ROLES))
    repo.add_argument("--profile", choices=PROFILES, default=serving.profile,
                      help="runtime of the six networks: cpu (python backend + ONNX Runtime, what the embedded "
                           "server here runs), onnx (native onnxruntime backend, GPU), tensorrt (plans from the "
                           "'engines' command), pytorch (python backend + PyTorch on the GPU; --torch-device); "
                           "the ensemble and its tensors are the same in all (default: %(default)s)")
    repo.add_argument("--onnx-tensorrt", action="store_true",
                      help="onnx profile: add ONNX Runtime's TensorRT accelerator (upstream default precisions)")
    repo.add_argument("--ort-trt-cache", metavar="DIR",
                      help="--onnx-tensorrt: folder of ONNX Runtime's TensorRT engine and timing caches, kept across "
                           "server restarts (default: MODELS_DIR/ort_trt_cache; a volume in the container)")
    repo.add_argument("--torch-device", choices=("cuda", "cpu"), default="cuda",
                      help="pytorch profile: cuda (KIND_GPU instances on the GPU Triton assigns; an instance without "
                           "CUDA refuses to load) or cpu (KIND_CPU, for a server without a GPU) (default: %(default)s)")
    repo.add_argument("--cpu-cores", type=int, default=None, metavar="N",
                      help="cpu profile: the cores the server will have; each network's ONNX Runtime threads and "
                           "instances follow from it (default: this machine's, %(default)s = os.cpu_count())")
    repo.add_argument("--precision-mode", choices=PRECISION_MODES, default="default",
                      help="cpu profile: default (every network fp32) or optimized (int8 where the registry's "
                           "CpuPlan says it pays: ONNX Runtime dynamic quantization; perf/evaluate_precision.py "
                           "measures it) (default: %(default)s)")
    repo.add_argument("--gpu-memory-gib", type=float, default=None, metavar="N",
                      help="GPU profiles: the GPU's memory; each network's instance count (registry GpuPlan) is lowered "
                           "until all instances' estimate (model file + a per-instance overhead, build_engines."
                           "gpu_memory) fits it with headroom, the reason in each config; refused when one instance "
                           "each does not fit (default: the registry counts)")
    repo.add_argument("--engines", default=str(MODELS_DIR / "engines"),
                      help="tensorrt profile: folder the 'engines' command wrote (default: %(default)s)")
    repo.set_defaults(func=_cmd_repository)

    engines = sub.add_parser(
        "engines", help="build TensorRT plans on a GPU machine (precision mode, INT8 calibration, accuracy report)",
        description="Build one TensorRT plan per network from the CPU repository's FP32 ONNX files. default: "
                    "SAM encoder FP32, the rest FP16; optimized: gaze and detector INT8, calibrated (entropy, "
                    "cache written) on the frames given. Each plan is then compared with its ONNX model on "
                    "those frames (max/mean error; mask IoU for SAM and the whole pipeline). Needs TensorRT and "
                    "a GPU (the image of docker/Dockerfile); elsewhere it says so and exits 2.")
    engines.add_argument("--precision-mode", choices=PRECISION_MODES, default="default")
    engines.add_argument("--calibration-frames", required=True,
                         help="a folder of images/videos or one video: INT8 calibration and accuracy frames")
    engines.add_argument("--frames", type=int, default=64,
                         help="most frames to take from --calibration-frames, spread evenly (default: %(default)s)")
    engines.add_argument("--max-prompts", type=int, default=MAX_PROMPTS,
                         help="K of the SAM decoder's 1..K box profile; at least contracts.MAX_PROMPTS, the most "
                              "the fusion step sends (default: %(default)s)")
    engines.add_argument("--out", default=str(MODELS_DIR / "engines"), help="plans folder (default: %(default)s)")
    engines.add_argument("--repository", default=str(ROOT / "model_repository"),
                         help="CPU-profile repository with the ONNX sources (default: %(default)s)")
    engines.add_argument("--family", action="append", default=[], metavar="ROLE=NAME",
                         help="build a plan-only family (TensorRT plugins, e.g. detector=yolo_nas_trt) in place of its "
                              "ONNX Runtime flavour, which the repository serves and which records its inputs")
    engines.add_argument("--standin-size", choices=("tiny", "full"), default="tiny",
                         help="--family: the stand-in to build where the family has no real file (default: "
                              "%(default)s)")
    engines.set_defaults(func=_cmd_engines)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ModelFileError, ContractError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
