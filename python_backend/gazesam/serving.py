"""Deployment knobs, read from ``serving.toml`` by the repository generator (never at serving time).

Every value ends up in the generated configs, so a repository describes how it serves by itself and
clients learn the limits from the server. ``GAZESAM_SERVING`` names another file instead of the packaged one.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SERVING_PATH = Path(__file__).resolve().parent / "serving.toml"


class ServingConfigError(ValueError):
    """A serving config value is missing or out of range; the message names it and the file."""


@dataclass(frozen=True)
class ServingConfig:
    model_set: str
    families: str  # "role=family,..." overrides (may be empty)
    profile: str
    max_streams: int
    lease_min_s: float
    lease_max_s: float
    lease_gaps: float
    queue_delay_us: int
    instances: dict[str, int] = field(default_factory=dict)  # Triton model -> instance count override


def _number(raw: dict, section: str, key: str, kind: type, low: float, path: Path) -> int | float:
    value = raw.get(section, {}).get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise ServingConfigError(f"{path}: [{section}] {key} must be a {kind.__name__}, got {value!r}")
    if not value >= low:
        raise ServingConfigError(f"{path}: [{section}] {key} must be at least {low}, got {value!r}")
    return kind(value)


def load_serving(path: str | os.PathLike | None = None) -> ServingConfig:
    """Read ``path``, else ``$GAZESAM_SERVING``, else the packaged ``serving.toml``."""
    path = Path(path or os.environ.get("GAZESAM_SERVING") or DEFAULT_SERVING_PATH)
    with path.open("rb") as f:
        raw = tomllib.load(f)
    repository = raw.get("repository", {})
    instances = raw.get("instances", {})
    for model, count in instances.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ServingConfigError(f"{path}: [instances] {model} must be a whole number >= 1, got {count!r}")
    config = ServingConfig(
        model_set=str(repository.get("model_set", "offline")),
        families=str(repository.get("families", "")),
        profile=str(repository.get("profile", "cpu")),
        max_streams=_number(raw, "streams", "max_streams", int, 1, path),
        lease_min_s=_number(raw, "streams", "lease_min_s", float, 1.0, path),
        lease_max_s=_number(raw, "streams", "lease_max_s", float, 1.0, path),
        lease_gaps=_number(raw, "streams", "lease_gaps", float, 1.0, path),
        queue_delay_us=_number(raw, "batching", "queue_delay_us", int, 0, path),
        instances=dict(instances),
    )
    if config.lease_max_s < config.lease_min_s:
        raise ServingConfigError(f"{path}: [streams] lease_max_s ({config.lease_max_s:g}) is below lease_min_s "
                                 f"({config.lease_min_s:g})")
    return config


PACKAGED = load_serving(DEFAULT_SERVING_PATH)
"""The packaged ``serving.toml``: the defaults of the admission (what a repository generated without
another serving config is written with)."""
