"""Model files on disk: where each network's published, stand-in and served files live in the model store.

Every network, its contract and its source come from the registry (:mod:`gazesam.networks`); this
module only adds the model store's layout::

    models/real/<file>                  published files (fetch; sha256 in SHA256SUMS)
    models/standins/<size>/<file>       random-weight stand-ins (standins)
    models/derived/<file>               served forms of published files (derived_files), made by `repository`
    models/derived/standins/<size>/<file>   served forms of the stand-ins
"""

from __future__ import annotations

from pathlib import Path

from gazesam.networks import ModelSet, Network, all_networks

from .derived_files import derived_file


def published_networks() -> tuple[Network, ...]:
    """One network per published file name, over every family (what ``fetch`` looks for)."""
    seen: dict[str, Network] = {}
    for network in all_networks():
        seen.setdefault(network.file.name, network)
    return tuple(seen.values())


def standin_networks() -> tuple[Network, ...]:
    """One network per stand-in builder, over every family (what ``standins --all`` writes)."""
    return tuple(n for n in published_networks() if n.standin is not None)


def real_file(models_dir: Path, network: Network) -> Path:
    return models_dir / "real" / network.file.name


def standin_file(models_dir: Path, network: Network, size: str) -> Path:
    return models_dir / "standins" / size / network.file.name


def choose_model_file(models_dir: Path, network: Network, model_set: ModelSet, standin_size: str) -> Path:
    """The file that serves ``network`` in ``model_set``: its real (served form of the) published file, else,
    where the set allows stand-ins, its stand-in; an error naming the fix otherwise."""
    real = real_file(models_dir, network)
    if real.is_file():
        return derived_file(models_dir, network, real) if network.derived else real
    fetch = "python -m build_engines fetch --from ../shared/models"
    if not model_set.standins:
        raise FileNotFoundError(
            f"model set {model_set.name!r} needs the real file {network.file.name} ({network.model}) and {real} "
            f"does not exist. Run '{fetch}' (or '--from DIR' with your copy) first, or choose '--models standin'."
        )
    standin = standin_file(models_dir, network, standin_size)
    if network.standin is not None and standin.is_file():
        return derived_file(models_dir, network, standin, f"derived/standins/{standin_size}") if network.derived else standin
    raise FileNotFoundError(
        f"no model file for {network.model} ({network.file.name}): neither {real} nor {standin} exists. "
        f"Run '{fetch}' and 'python -m build_engines standins --size {standin_size}' first."
    )
