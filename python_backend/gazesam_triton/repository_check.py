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

from gazesam.contracts import ENSEMBLE_NAME, network_contract
from gazesam.model_files import ContractError, ModelFileError, Provenance, load_checked, provenance_of

STANDIN_SIZES = ("tiny", "full")


class RepositoryError(RuntimeError):
    """The model repository cannot be served; the message names the file and the command that fixes it."""


@dataclass(frozen=True)
class NetworkModel:
    """A network model of the repository, as its generated ``config.pbtxt`` describes it."""

    name: str  # Triton model name
    network: str  # contracts network key
    detector_family: str
    provenance: str  # Provenance.label the generator recorded
    model_file: Path  # <repository>/<name>/1/model.onnx


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
                    detector_family=params.get("detector_family", "yolox"),
                    provenance=params.get("provenance", ""),
                    model_file=config_path.parent / "1" / "model.onnx",
                )
            )
    return found


def standin_size_of(models: list[NetworkModel]) -> str:
    """The stand-in size the repository was generated with ("tiny" when it has no stand-ins)."""
    labels = {Provenance(standin=True, size=size).label: size for size in STANDIN_SIZES}
    sizes = [labels[m.provenance] for m in models if m.provenance in labels]
    return sizes[0] if sizes else "tiny"


def fix_command(model: NetworkModel, standin_size: str) -> str:
    """The commands that rebuild ``model``'s file and the repository."""
    regenerate = f"python -m build_engines repository --standin-size {standin_size}"
    if model.provenance == "real":
        source = "python -m build_engines fetch --from ../shared/models"
    else:
        source = f"python -m build_engines standins --size {standin_size}"
    return f"run '{source}' then '{regenerate}' (or 'make setup STANDINS={standin_size}')"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check_model_file(model: NetworkModel, standin_size: str) -> None:
    where = f"model file {model.model_file} ({model.name}, network {model.network!r})"
    fix = fix_command(model, standin_size)
    if not model.model_file.is_file():
        raise RepositoryError(f"{where} is missing. Fix: {fix}")
    try:
        onnx_model = load_checked(model.model_file, network_contract(model.network, model.detector_family))
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
    ensemble_config = repository / ENSEMBLE_NAME / "config.pbtxt"
    if not ensemble_config.is_file():
        raise RepositoryError(
            f"{repository} holds no {ENSEMBLE_NAME} ensemble ({ensemble_config} is missing). "
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
