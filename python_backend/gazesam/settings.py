"""Pipeline settings: thresholds and target-class policy, read from ``settings.toml``.

The server's Python models and the in-process pipeline read the same file, so both make the same
decisions. ``GAZESAM_SETTINGS`` names another file to use instead of the packaged default.

Settings belong to a model set (:mod:`gazesam.networks`): a ``[families.NAME.SECTION]`` table of the
file overrides ``[SECTION]`` values when family ``NAME`` serves (values fitted to that family's outputs),
and a ``[model_sets.NAME.SECTION]`` table when model set ``NAME`` serves.
"""

from __future__ import annotations

import functools
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_SETTINGS_PATH = PACKAGE_DIR / "settings.toml"
COCO_CLASSES_PATH = PACKAGE_DIR / "coco_classes.txt"


@functools.cache
def coco_class_names() -> tuple[str, ...]:
    """The 80 COCO class names, index = class id."""
    return tuple(line.strip() for line in COCO_CLASSES_PATH.read_text().splitlines() if line.strip())


@dataclass(frozen=True)
class FaceSettings:
    score_threshold: float
    nms_iou: float


@dataclass(frozen=True)
class DetectorSettings:
    score_threshold: float
    nms_iou: float
    allowed_class_ids: frozenset[int]


@dataclass(frozen=True)
class FusionSettings:
    rules: str  # "project" | "upstream" (gazesam.fusion.RULES)
    camera_gaze: float  # project rules: image-plane gaze shorter than this = looking into the camera
    cone_deg: float  # project rules: a box whose centre is this close to the ray is a candidate too
    depth_margin: float
    box_near_ratio: float
    face_depth_patch: float
    sam_iou_threshold: float
    mask_near_ratio: float


@dataclass(frozen=True)
class ViewerSettings:
    policy: str
    track_min_iou: float
    lost_after_s: float


@dataclass(frozen=True)
class SmoothingSettings:
    face_min_cutoff: float
    face_beta: float
    gaze_min_cutoff: float
    gaze_beta: float
    d_cutoff: float


@dataclass(frozen=True)
class MaskHoldSettings:
    frames: int
    seconds: float


@dataclass(frozen=True)
class Settings:
    face: FaceSettings
    detector: DetectorSettings
    fusion: FusionSettings
    viewer: ViewerSettings
    smoothing: SmoothingSettings
    mask_hold: MaskHoldSettings
    model_set: Any = None  # the gazesam.networks.ModelSet these settings were fitted to (None: defaults only)


def _allowed_class_ids(targets: str | list[str], excluded: list[str]) -> frozenset[int]:
    names = coco_class_names()
    index = {name: i for i, name in enumerate(names)}
    unknown = [n for n in ([] if targets == "all" else list(targets)) + list(excluded) if n not in index]
    if unknown:
        raise ValueError(f"unknown COCO class names in settings: {unknown}; see {COCO_CLASSES_PATH}")
    allowed = set(range(len(names))) if targets == "all" else {index[n] for n in targets}
    return frozenset(allowed - {index[n] for n in excluded})


def _with_family_overrides(raw: dict, model_set: Any) -> dict:
    """``raw`` with each serving family's ``[families.NAME.SECTION]`` and the model set's
    ``[model_sets.NAME.SECTION]`` values laid over ``[SECTION]``."""
    merged = {key: dict(value) for key, value in raw.items() if key not in ("families", "model_sets")}
    if model_set is None:
        return merged
    layers = [("families", f.name) for f in model_set.families] + [("model_sets", model_set.name)]
    for table, name in layers:
        for section, values in raw.get(table, {}).get(name, {}).items():
            unknown = set(values) - set(merged.get(section, {}))
            if unknown:
                raise ValueError(f"settings [{table}.{name}.{section}] sets unknown keys {sorted(unknown)}")
            merged[section].update(values)
    return merged


def _fusion_settings(raw: dict) -> FusionSettings:
    from .fusion import check_rules  # fusion reads FusionSettings: imported here, not at the top

    check_rules(raw["rules"])
    return FusionSettings(**raw)


def load_settings(path: str | os.PathLike | None = None, model_set: Any = None) -> Settings:
    """Read settings from ``path``, else ``$GAZESAM_SETTINGS``, else the packaged default.

    ``model_set`` (a :class:`gazesam.networks.ModelSet`) applies its families' overrides and is kept
    in :attr:`Settings.model_set` for the steps' family hooks.
    """
    path = Path(path or os.environ.get("GAZESAM_SETTINGS") or DEFAULT_SETTINGS_PATH)
    with path.open("rb") as f:
        raw = _with_family_overrides(tomllib.load(f), model_set)
    det = raw["detector"]
    return Settings(
        model_set=model_set,
        face=FaceSettings(**raw["face"]),
        detector=DetectorSettings(
            score_threshold=det["score_threshold"],
            nms_iou=det["nms_iou"],
            allowed_class_ids=_allowed_class_ids(det["target_classes"], det["exclude_classes"]),
        ),
        fusion=_fusion_settings(raw["fusion"]),
        viewer=ViewerSettings(**raw["viewer"]),
        smoothing=SmoothingSettings(**raw["smoothing"]),
        mask_hold=MaskHoldSettings(**raw["mask_hold"]),
    )
