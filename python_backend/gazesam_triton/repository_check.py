"""Checking a generated model repository before Triton starts: one clear line per problem, no traceback.

Triton would report a missing or corrupt ``model.onnx`` as a failed model load inside a table of its
log, after loading everything else. The launcher (``python -m gazesam_triton.serve``) and
:class:`~gazesam_triton.server_process.TritonProcess` run :func:`check_repository` first, so the user
sees which file is wrong and which command rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from gazesam.contracts import ENSEMBLE, NetworkContract
from gazesam.model_files import ContractError, ModelFileError, Provenance, load_checked, provenance_of
from gazesam.networks import MODEL_SETS, model_set, parse_families

STANDIN_SIZES = ("tiny", "full")


class RepositoryError(RuntimeError):
    """The model repository cannot be served; the message names the file and the command that fixes it."""


@dataclass(frozen=True)
class NetworkModel:
    """A network model of the repository, as its generated ``config.pbtxt`` describes it."""

    name: str  # Triton model name
    network: str  # contracts network key
    contract: NetworkContract
    provenance: str  # Provenance.label the generator recorded
    model_file: Path  # <repository>/<name>/1/model.onnx
    model_set: str = "offline"  # the model set and families the repository serves (config parameters)
    families: str = ""


def read_config(path: Path) -> model_config_pb2.ModelConfig:
    try:
        return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
    except text_format.ParseError as exc:
        raise RepositoryError(
            f"{path} is not a valid Triton model config ({_one_line(str(exc))}). "
            "Fix: run 'python -m build_engines repository' (or 'make setup')"
        ) from None


def network_models(repository: Path) -> list[NetworkModel]:
    """Every model whose config names a network (parameter ``network``), in name order."""
    found = []
    for config_path in sorted(repository.glob("*/config.pbtxt")):
        params = {key: value.string_value for key, value in read_config(config_path).parameters.items()}
        if "network" in params:
            found.append(
                NetworkModel(
                    name=config_path.parent.name,
                    network=params["network"],
                    contract=_contract(params, config_path),
                    provenance=params.get("provenance", ""),
                    model_file=config_path.parent / "1" / "model.onnx",
                    model_set=params.get("model_set", "offline"),
                    families=params.get("families", ""),
                )
            )
    return found


def _contract(params: dict[str, str], config_path: Path) -> NetworkContract:
    try:
        return model_set(params["model_set"], params["families"]).network(params["network"]).contract
    except (KeyError, ValueError) as exc:
        raise RepositoryError(
            f"{config_path} names no known network ({_one_line(str(exc))}); it was written by another version. "
            "Fix: run 'python -m build_engines repository' (or 'make setup')"
        ) from None


def standin_size_of(models: list[NetworkModel]) -> str:
    """The stand-in size the repository was generated with ("tiny" when it has no stand-ins)."""
    labels = {Provenance(standin=True, size=size).label: size for size in STANDIN_SIZES}
    sizes = [labels[m.provenance] for m in models if m.provenance in labels]
    return sizes[0] if sizes else "tiny"


def fix_command(model: NetworkModel, standin_size: str, repository: Path | None = None) -> str:
    """The commands that rebuild ``model``'s file and the repository (its own model set, families and folder)."""
    regenerate = f"python -m build_engines repository --standin-size {standin_size} --models {model.model_set}"
    chosen = MODEL_SETS[model.model_set].choice if model.model_set in MODEL_SETS else {}
    swapped = {role: name for role, name in parse_families(model.families).items() if chosen.get(role) != name}
    regenerate += "".join(f" --family {role}={name}" for role, name in swapped.items())
    if repository is not None:
        regenerate += f" --out {repository}"
    if model.provenance == "real":
        source = "python -m build_engines fetch --from ../shared/models"
    else:
        source = f"python -m build_engines standins --size {standin_size}"
    target = "setup-standin" if model.model_set == "standin" else "setup"
    make = "" if swapped else f" (or 'make {target} STANDINS={standin_size}')"
    return f"run '{source}' then '{regenerate}'{make}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check_model_file(model: NetworkModel, standin_size: str) -> None:
    where = f"model file {model.model_file} ({model.name}, network {model.network!r})"
    fix = fix_command(model, standin_size, model.model_file.parents[2])
    if not model.model_file.is_file():
        raise RepositoryError(f"{where} is missing. Fix: {fix}")
    try:
        onnx_model = load_checked(model.model_file, model.contract)
    except ModelFileError:
        raise RepositoryError(f"{where} is not a readable ONNX file (truncated or corrupt). Fix: {fix}") from None
    except ContractError as exc:
        raise RepositoryError(f"{where} does not match its contract: {_one_line(str(exc))}. Fix: {fix}") from None
    label = provenance_of(onnx_model).label
    if label != model.provenance:
        raise RepositoryError(f"{where} is {label} but its config.pbtxt says {model.provenance}. Fix: {fix}")


def check_repository(repository: str | Path) -> None:
    """Raise :class:`RepositoryError` unless ``repository`` holds the ``gazesam`` ensemble, every model
    each ensemble runs, and a network file that loads and matches its contract for every network model."""
    repository = Path(repository)
    ensemble_config = repository / ENSEMBLE.key / "config.pbtxt"
    if not ensemble_config.is_file():
        raise RepositoryError(
            f"{repository} holds no {ENSEMBLE.key} ensemble ({ensemble_config} is missing). "
            "Fix: run 'make setup' (or 'python -m build_engines repository')"
        )
    for config_path in sorted(repository.glob("*/config.pbtxt")):
        for step in read_config(config_path).ensemble_scheduling.step:  # none unless an ensemble
            if not (repository / step.model_name / "config.pbtxt").is_file():
                raise RepositoryError(
                    f"model {step.model_name!r} that the ensemble {config_path.parent.name!r} runs is missing "
                    f"from {repository}. Fix: run 'python -m build_engines repository' (or 'make setup')"
                )
    models = network_models(repository)
    standin_size = standin_size_of(models)
    for model in models:
        _check_model_file(model, standin_size)
