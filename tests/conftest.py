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
