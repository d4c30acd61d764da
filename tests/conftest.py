"""Shared test helpers: locating the project's ``../shared`` folder (real models and media)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gazesam.admission import AdmissionPolicy

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


ROOT = Path(__file__).resolve().parents[1]
STREAMS = AdmissionPolicy()
"""The admission of the packaged serving config, which the test repositories are generated with."""
OFFLINE_REPOSITORY = ROOT / "model_repository"
"""The generated all-real offline repository (``make setup``): the tests of real outputs serve it."""
STANDIN_REPOSITORY = ROOT / "model_repository_standin"
"""The stand-in set's repository (``make setup-standin``): fast structural tests (streams, bad input, soak)."""


def generated(repository: Path) -> Path:
    """``repository``, failing the test with the fix when it was never generated."""
    if not (repository / "gazesam" / "config.pbtxt").is_file():
        pytest.fail(f"{repository} is not generated: run 'make setup' first")
    return repository


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real tritonserver on free 127.0.0.1 ports serving the stand-in set (:data:`STANDIN_REPOSITORY`)."""
    from gazesam_triton.server_process import TritonProcess

    with TritonProcess(generated(STANDIN_REPOSITORY), tmp_path_factory.mktemp("triton") / "tritonserver.log") as process:
        yield process


@pytest.fixture(scope="module")
def offline_server(tmp_path_factory):
    """A real tritonserver on free 127.0.0.1 ports serving the all-real :data:`OFFLINE_REPOSITORY`."""
    from gazesam_triton.server_process import TritonProcess

    with TritonProcess(generated(OFFLINE_REPOSITORY), tmp_path_factory.mktemp("triton") / "tritonserver.log") as process:
        yield process
