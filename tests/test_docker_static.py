"""docker/ checked without a Docker engine: the Dockerfile parses into known instructions, every COPY/ADD
source exists in the repository, image tags are pinned to the NGC release of Triton 2.51, and the
compose file parses with its paths present."""

from __future__ import annotations

import json

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"

INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
# NGC release of each Triton server release this project pins (Triton release notes: 24.10 = 2.51.0).
NGC_RELEASE = {"2.51.0": "24.10"}


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


def pinned_triton_release() -> str:
    pin = re.search(r"^tritonclient\[[^\]]*\]==([\d.]+)", (ROOT / "requirements.txt").read_text(), re.M)
    assert pin, "requirements.txt pins no tritonclient"
    return NGC_RELEASE[pin.group(1)]


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
    assert instructions[0][0] == "FROM"
    unknown = [keyword for keyword, _ in instructions if keyword.upper() not in INSTRUCTIONS or keyword != keyword.upper()]
    assert not unknown, f"unknown or lower-case instructions: {unknown}"
    assert all(args for _, args in instructions), "an instruction without arguments"


def test_dockerfile_base_is_the_ngc_release_of_the_pinned_triton(instructions):
    bases = [args.split()[0] for keyword, args in instructions if keyword == "FROM"]
    assert bases == [f"nvcr.io/nvidia/tritonserver:{pinned_triton_release()}-py3"]
    for base in bases:
        assert_pinned(base)


def test_every_copy_source_exists_in_the_build_context(instructions, compose):
    context = (DOCKER / compose["services"]["server"]["build"]["context"]).resolve()
    assert context == ROOT
    copies = [args for keyword, args in instructions if keyword in ("COPY", "ADD")]
    assert copies
    for args in copies:
        parts = [p for p in args.split() if not p.startswith("--")]
        for source in parts[:-1]:
            assert (context / source).exists(), f"COPY source {source} is not in the repository"


def test_dockerfile_makes_the_project_importable_for_the_stub(instructions):
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert "gazesam.pth" in runs and "/opt/gazesam/python_backend" in runs
    assert "python_backend_stubs/3.11/triton_python_backend_stub" in runs
    assert "triton_python_backend_stub.bin" in runs and "STUB_WRAPPER" in runs  # the stub behind the wrapper


def test_the_container_serves_supervised(instructions, compose):
    cmd = json.loads(next(args for keyword, args in instructions if keyword == "CMD"))
    server = compose["services"]["server"]
    for command in (cmd, server["command"]):
        assert command[:3] == ["python", "-m", "gazesam_triton.serve"]
        assert "--tritonserver=/opt/tritonserver/bin/tritonserver" in command
        assert "--backend-dir=/opt/tritonserver/backends" in command
    assert server["init"] is True


def test_compose_services_use_pinned_images_and_existing_paths(compose):
    services = compose["services"]
    assert set(services) >= {"server", "perf"}
    release = pinned_triton_release()
    assert services["perf"]["image"] == f"nvcr.io/nvidia/tritonserver:{release}-py3-sdk"
    for service in services.values():
        assert_pinned(service["image"])
    build = services["server"]["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).is_file()
    for volume in services["server"]["volumes"] + services["perf"]["volumes"]:
        host = volume.split(":")[0]
        if not host.startswith("../../shared"):  # ../shared sits beside the checkout, not in it
            assert (DOCKER / host).exists(), volume
    assert all(port.startswith("127.0.0.1:") for port in services["server"]["ports"]), "ports must stay local"
    assert "perf_analyzer" in services["perf"]["command"]
    assert "server:8001" in services["perf"]["command"]


def test_requirements_files_are_pinned():
    for name in ("requirements.txt", "requirements-gpu.txt", "requirements-pytorch.txt"):
        for line in (ROOT / name).read_text().splitlines():
            requirement = line.split("#")[0].strip()
            if requirement:
                assert re.match(r"^[A-Za-z0-9_.\-\[\],]+==[\w.+]+$", requirement), f"{name}: {line!r} is not pinned"
