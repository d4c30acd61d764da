"""``engines.json``: what ``python -m build_engines engines`` built, read by the ``tensorrt`` profile.

One record per network: the plan file, its precision (and whether FP32 layers may use TF32), its
frame-batch limit (0 = one frame per call), the sha256 of the ONNX file it was built from, so a
repository never pairs a plan with other weights, and for INT8 plans the calibration cache with the key
of what it was made from. The manifest also names the TensorRT release and GPU that built the plans
(:mod:`build_engines.engine_host`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gazesam.model_files import file_sha256

from .engine_host import PlanHost

MANIFEST_NAME = "engines.json"
BUILD_HINT = "python -m build_engines engines --precision-mode default --calibration-frames PATH"


@dataclass(frozen=True)
class PlanRecord:
    """One built plan: ``plan`` is a file name inside the engines folder."""

    plan: str
    precision: str
    max_batch: int
    onnx_sha256: str
    provenance: str
    tf32: bool = False  # FP32 layers may run as TF32 (Ampere and later), as TensorRT and trtexec default to
    calibration_cache: str | None = None
    calibration_key: str | None = None  # sha256 of the ONNX file and the calibration feeds the cache came from


@dataclass(frozen=True)
class EngineManifest:
    precision_mode: str
    host: PlanHost  # TensorRT release and GPU the plans were built with; they load only there
    families: str  # gazesam.networks.ModelSet.describe() of the repository the plans were built from
    max_prompts: int
    plans: dict[str, PlanRecord] = field(default_factory=dict)  # network key -> record


def write_manifest(engines_dir: Path, manifest: EngineManifest) -> Path:
    path = engines_dir / MANIFEST_NAME
    path.write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return path


def read_manifest(engines_dir: Path) -> EngineManifest:
    """The manifest in ``engines_dir``; FileNotFoundError naming the build command when there is none."""
    path = engines_dir / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no TensorRT plans in {engines_dir} ({MANIFEST_NAME} missing): build them on the GPU machine "
            f"with '{BUILD_HINT}' (--out {engines_dir})"
        )
    raw = json.loads(path.read_text())
    plans = {key: PlanRecord(**record) for key, record in raw.pop("plans").items()}
    return EngineManifest(**raw | {"host": PlanHost(**raw["host"])}, plans=plans)


def plan_for(engines_dir: Path, manifest: EngineManifest, network: str, onnx_file: Path) -> tuple[Path, PlanRecord]:
    """The plan of ``network`` built from exactly ``onnx_file``; FileNotFoundError naming the fix otherwise."""
    record = manifest.plans.get(network)
    if record is None or not (engines_dir / record.plan).is_file():
        raise FileNotFoundError(
            f"no TensorRT plan for {network!r} in {engines_dir}: run '{BUILD_HINT}' (--out {engines_dir})"
        )
    if record.onnx_sha256 != file_sha256(onnx_file):
        raise FileNotFoundError(
            f"the {network!r} plan in {engines_dir} was built from another ONNX file than {onnx_file}: "
            f"rebuild with '{BUILD_HINT}'"
        )
    return engines_dir / record.plan, record
