"""Pipeline settings: thresholds and target-class policy, read from ``settings.toml``.

The server's Python models and the in-process pipeline read the same file, so both make the same
decisions. ``GAZESAM_SETTINGS`` names another file to use instead of the packaged default.
"""

from __future__ import annotations

import functools
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

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
    family: str
    score_threshold: float
    nms_iou: float
    allowed_class_ids: frozenset[int]


@dataclass(frozen=True)
class FusionSettings:
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


def _allowed_class_ids(targets: str | list[str], excluded: list[str]) -> frozenset[int]:
    names = coco_class_names()
    index = {name: i for i, name in enumerate(names)}
    unknown = [n for n in ([] if targets == "all" else list(targets)) + list(excluded) if n not in index]
    if unknown:
        raise ValueError(f"unknown COCO class names in settings: {unknown}; see {COCO_CLASSES_PATH}")
    allowed = set(range(len(names))) if targets == "all" else {index[n] for n in targets}
    return frozenset(allowed - {index[n] for n in excluded})


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Read settings from ``path``, else ``$GAZESAM_SETTINGS``, else the packaged default."""
    path = Path(path or os.environ.get("GAZESAM_SETTINGS") or DEFAULT_SETTINGS_PATH)
    with path.open("rb") as f:
        raw = tomllib.load(f)
    det = raw["detector"]
    return Settings(
        face=FaceSettings(**raw["face"]),
        detector=DetectorSettings(
            family=det["family"],
            score_threshold=det["score_threshold"],
            nms_iou=det["nms_iou"],
            allowed_class_ids=_allowed_class_ids(det["target_classes"], det["exclude_classes"]),
        ),
        fusion=FusionSettings(**raw["fusion"]),
        viewer=ViewerSettings(**raw["viewer"]),
        smoothing=SmoothingSettings(**raw["smoothing"]),
        mask_hold=MaskHoldSettings(**raw["mask_hold"]),
    )
