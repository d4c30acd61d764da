"""Model files on disk: contract checks and provenance (real network or stand-in).

Every ONNX file is checked against its :class:`~gazesam.contracts.NetworkContract` when it is
loaded, so a wrong file fails at start-up with a message naming the tensor, never mid-stream.
Stand-ins carry ``gazesam.standin`` in their ONNX metadata; :func:`read_provenance` reports it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import onnx

from .contracts import NetworkContract, TensorSpec

STANDIN_KEY = "gazesam.standin"
STANDIN_SIZE_KEY = "gazesam.standin_size"
NETWORK_KEY = "gazesam.network"


class ContractError(ValueError):
    """A model file does not match its network's contract."""


class ModelFileError(FileNotFoundError):
    """A model file is missing or unreadable; the message says how to get it."""


_ONNX_TO_NUMPY = {
    onnx.TensorProto.FLOAT: "float32",
    onnx.TensorProto.FLOAT16: "float16",
    onnx.TensorProto.UINT8: "uint8",
    onnx.TensorProto.INT8: "int8",
    onnx.TensorProto.INT32: "int32",
    onnx.TensorProto.INT64: "int64",
    onnx.TensorProto.BOOL: "bool",
}


@dataclass(frozen=True)
class Provenance:
    """Where a model file's weights come from."""

    standin: bool
    size: str  # "tiny" | "full" for stand-ins, "real" otherwise

    @property
    def label(self) -> str:
        return f"stand-in ({self.size})" if self.standin else "real"


def _value_info_spec(value: onnx.ValueInfoProto) -> TensorSpec:
    tensor_type = value.type.tensor_type
    dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor_type.shape.dim)
    dtype = _ONNX_TO_NUMPY.get(tensor_type.elem_type, f"onnx-type-{tensor_type.elem_type}")
    return TensorSpec(value.name, dtype, dims)


def _graph_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    initializers = {init.name for init in graph.initializer}
    return [v for v in graph.input if v.name not in initializers]


def check_io(
    kind: str, found: list[TensorSpec], wanted: tuple[TensorSpec, ...], where: str
) -> None:
    """Raise :class:`ContractError` unless ``found`` matches ``wanted`` tensor by tensor.

    A dynamic axis in the file (-1) is accepted only where the contract is dynamic too; a static axis
    in the file is accepted where the contract is dynamic (a fixed-size export is still usable).
    """
    found_by_name = {spec.name: spec for spec in found}
    missing = [spec.name for spec in wanted if spec.name not in found_by_name]
    if missing:
        raise ContractError(
            f"{where}: {kind} tensor(s) {missing} missing; the file has {sorted(found_by_name)}"
        )
    extra = sorted(set(found_by_name) - {spec.name for spec in wanted})
    if extra:
        raise ContractError(f"{where}: unexpected {kind} tensor(s) {extra}")
    for spec in wanted:
        got = found_by_name[spec.name]
        if got.dtype != spec.dtype:
            raise ContractError(
                f"{where}: {kind} {spec.name!r} has dtype {got.dtype}, the contract wants {spec.dtype}"
            )
        shape_ok = len(got.shape) == len(spec.shape) and all(
            w == -1 or w == g for w, g in zip(spec.shape, got.shape)
        )
        if not shape_ok:
            raise ContractError(
                f"{where}: {kind} {spec.name!r} has shape {list(got.shape)}, "
                f"the contract wants {list(spec.shape)} (-1 = any)"
            )


def load_checked(path: str | Path, contract: NetworkContract) -> onnx.ModelProto:
    """Load the ONNX file at ``path`` (graph only, no weights) and check it against ``contract``."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"model file {path} for network {contract.key!r} is missing. Create it with "
            "'python -m build_engines fetch --from ../shared/models' (real weights) and "
            "'python -m build_engines standins' (stand-ins for the rest)."
        )
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises several unrelated types for corrupt files
        raise ModelFileError(
            f"model file {path} for network {contract.key!r} is not a readable ONNX file ({exc}). "
            "Delete it and run 'python -m build_engines fetch' or 'standins' again."
        ) from exc
    return check_model(model, contract, f"{path.name} ({contract.key})")


def check_model(model: onnx.ModelProto, contract: NetworkContract, where: str) -> onnx.ModelProto:
    """``model`` when its graph's inputs and outputs match ``contract``; :class:`ContractError` naming ``where``."""
    check_io("input", [_value_info_spec(v) for v in _graph_inputs(model.graph)], contract.inputs, where)
    check_io("output", [_value_info_spec(v) for v in model.graph.output], contract.outputs, where)
    return model


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of the file at ``path`` (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def provenance_of(model: onnx.ModelProto) -> Provenance:
    meta = {prop.key: prop.value for prop in model.metadata_props}
    if meta.get(STANDIN_KEY) == "true":
        return Provenance(standin=True, size=meta.get(STANDIN_SIZE_KEY, "unknown"))
    return Provenance(standin=False, size="real")


def read_provenance(path: str | Path) -> Provenance:
    return provenance_of(onnx.load(str(path), load_external_data=False))
