"""docker/ checked without a Docker engine: the Dockerfile parses into known instructions, every COPY/ADD
source exists in the repository, the NGC tag and the versions that must match it are pinned once (the
Dockerfile's ARGs) and followed by compose.yaml, the image runs its own Python and stub as a non-root user
with its state on a volume, and the compose file parses with its paths present and the GPU memory flags."""

from __future__ import annotations

import json

import re
from pathlib import Path

import pytest
import yaml

from build_engines.engine_host import SUPPORTED_TENSORRT_MAJOR
from perf.gpu_server import GPU_SERVER_FLAGS

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"

INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
# Triton release of each NGC tritonserver release (release notes: 25.06 = Triton 2.59.0, TensorRT 10.11,
# Ubuntu 24.04 with Python 3.12, CUDA 12.9, the last CUDA 12 release).
TRITON_OF_NGC = {"25.06": "2.59.0"}


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction: comments dropped, backslash continuations joined."""
    instructions, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword, args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def release_args(instructions: list[tuple[str, str]]) -> dict[str, str]:
    """The Dockerfile's ``ARG NAME=value`` lines before its FROM: the one place for the release and its versions."""
    args = {}
    for keyword, value in instructions:
        if keyword == "FROM":
            break
        if keyword == "ARG" and "=" in value:
            name, _, default = value.partition("=")
            args[name] = default
    return args


def assert_pinned(image: str) -> None:
    name, _, tag = image.rpartition(":")
    assert name and tag and tag != "latest" and "$" not in tag, f"image {image!r} has no pinned tag"


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return dockerfile_instructions((DOCKER / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_dockerfile_parses_into_known_instructions(instructions):
    first_non_arg = next(keyword for keyword, _ in instructions if keyword != "ARG")
    assert first_non_arg == "FROM"  # only ARGs (the release pins) may come before FROM
    unknown = [keyword for keyword, _ in instructions if keyword.upper() not in INSTRUCTIONS or keyword != keyword.upper()]
    assert not unknown, f"unknown or lower-case instructions: {unknown}"
    assert all(args for _, args in instructions), "an instruction without arguments"


def test_dockerfile_pins_the_release_and_its_matching_versions_in_one_place(instructions):
    args = release_args(instructions)
    assert set(args) == {"NGC_RELEASE", "TRITON_VERSION", "TENSORRT_VERSION", "POLYGRAPHY_VERSION"}
    assert all(re.fullmatch(r"[\d.]+", value) for value in args.values()), args
    assert TRITON_OF_NGC[args["NGC_RELEASE"]] == args["TRITON_VERSION"]
    assert args["TENSORRT_VERSION"].split(".")[0] == str(SUPPORTED_TENSORRT_MAJOR)
    bases = [value.split()[0] for keyword, value in instructions if keyword == "FROM"]
    assert bases == ["nvcr.io/nvidia/tritonserver:${NGC_RELEASE}-py3"]
    runs = " ".join(value for keyword, value in instructions if keyword == "RUN")
    for name in ("TRITON_VERSION", "TENSORRT_VERSION", "POLYGRAPHY_VERSION"):
        assert f"${{{name}}}" in runs, name  # installed from the pinned value, not restated


def test_image_uses_its_own_python_and_stub_runs_non_root_with_state_on_a_volume(instructions):
    runs = " ".join(value for keyword, value in instructions if keyword == "RUN")
    # No stub swap, no second Python: the image's own stub stays (behind the launcher's wrapper).
    assert "python_backend_stubs" not in runs and "pytriton" not in runs and "venv" not in runs
    assert "python3 -m pip install --no-deps /opt/gazesam" in runs  # the project as a package
    users = [value for keyword, value in instructions if keyword == "USER"]
    assert users == ["triton-server"]
    volumes = [value for keyword, value in instructions if keyword == "VOLUME"]
    assert volumes == ['["/var/lib/gazesam"]']
    assert any(k == "CMD" and "/var/lib/gazesam/model_repository" in v for k, v in instructions)


def test_dockerignore_leaves_out_what_is_built_here():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "models", "output", "perf/out", "model_repository", "model_repository_*"} <= ignored


def test_torch_builds_are_pinned_per_cuda_major():
    for major, torch_version in (("12", "2.10.0"), ("13", "2.13.0")):
        text = (DOCKER / f"requirements-pytorch-cu{major}.txt").read_text()
        assert f"torch=={torch_version}" in text and f"CUDA {major}" in text


def test_every_copy_source_exists_in_the_build_context(instructions, compose):
    context = (DOCKER / compose["services"]["server"]["build"]["context"]).resolve()
    assert context == ROOT
    copies = [args for keyword, args in instructions if keyword in ("COPY", "ADD")]
    assert copies
    for args in copies:
        parts = [p for p in args.split() if not p.startswith("--")]
        for source in parts[:-1]:
            assert (context / source).exists(), f"COPY source {source} is not in the repository"


def test_the_container_serves_supervised(instructions, compose):
    cmd = json.loads(next(args for keyword, args in instructions if keyword == "CMD"))
    server = compose["services"]["server"]
    for command in (cmd, server["command"]):
        assert command[:3] == ["python3", "-m", "gazesam_triton.serve"]
        assert "--tritonserver=/opt/tritonserver/bin/tritonserver" in command
        assert "--backend-dir=/opt/tritonserver/backends" in command
    assert server["init"] is True
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert "triton_python_backend_stub.bin" in runs and "STUB_WRAPPER" in runs  # the image's stub behind the wrapper


def test_compose_services_use_pinned_images_and_existing_paths(compose, instructions):
    services = compose["services"]
    assert set(services) >= {"server", "perf"}
    release = release_args(instructions)["NGC_RELEASE"]
    assert services["perf"]["image"] == f"nvcr.io/nvidia/tritonserver:{release}-py3-sdk"
    assert services["server"]["image"] == f"gazesam-triton:{release}"
    for service in services.values():
        assert_pinned(service["image"])
    build = services["server"]["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).is_file()
    for volume in services["server"]["volumes"] + services["perf"]["volumes"]:
        host = volume.split(":")[0]
        if host in compose["volumes"]:  # a named volume: the server's state
            continue
        if not host.startswith("../../shared"):  # ../shared sits beside the checkout, not in it
            assert (DOCKER / host).exists(), volume
    assert "gazesam-state:/var/lib/gazesam" in services["server"]["volumes"]
    assert all(port.startswith("127.0.0.1:") for port in services["server"]["ports"]), "ports must stay local"
    assert "perf_analyzer" in services["perf"]["command"]
    assert "server:8001" in services["perf"]["command"]


def test_compose_server_gets_the_gpu_memory_flags(compose):
    command = compose["services"]["server"]["command"]
    assert set(GPU_SERVER_FLAGS) <= set(command)


def test_requirements_files_are_pinned():
    names = ("requirements.txt", "requirements-pytorch.txt", "docker/requirements-ngc.txt",
             "docker/requirements-pytorch-cu12.txt", "docker/requirements-pytorch-cu13.txt")
    for name in names:
        for line in (ROOT / name).read_text().splitlines():
            requirement = line.split("#")[0].strip()
            if requirement:
                assert re.match(r"^[A-Za-z0-9_.\-\[\],]+==[\w.+]+$", requirement), f"{name}: {line!r} is not pinned"
