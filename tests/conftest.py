"""Shared test helpers: locating the project's ``../shared`` folder (real models and media)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
"""``../shared`` beside the repository root: reference notes, real model weights, real media."""


def shared_path(*parts: str) -> Path:
    """``SHARED_DIR / parts``; skips the calling test, with the reason, when it does not exist."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is missing: these tests need the project's ../shared folder beside the repo root")
    return path


@pytest.fixture
def shared_dir() -> Path:
    """The ``../shared`` folder (the test is skipped when it is missing)."""
    return shared_path()


REPOSITORY = Path(__file__).resolve().parents[1] / "model_repository"
"""The generated model repository (``make setup``) that the end-to-end tests serve."""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real tritonserver on free 127.0.0.1 ports serving :data:`REPOSITORY`, one per test module."""
    from gazesam_triton.server_process import TritonProcess

    if not (REPOSITORY / "gazesam" / "config.pbtxt").is_file():
        pytest.fail(f"{REPOSITORY} is not generated: run 'make setup' first")
    with TritonProcess(REPOSITORY, tmp_path_factory.mktemp("triton") / "tritonserver.log") as process:
        yield process
