"""The key that Triton's restricted APIs (shared memory, logging, trace, model repository) require.

The launcher puts those APIs behind a request header, ``gazesam-admin-key: <key>``
(``--grpc-restricted-protocol`` / ``--http-restricted-api``), so an anonymous client cannot register a
shared-memory region (a local user could otherwise point the server at the Python backend's own IPC
regions and crash it), switch on verbose logging or traces, or list the repository. The key is made
once per user and kept in a file only that user can read (``~/.config/gazesam/admin-key``, or
``$GAZESAM_ADMIN_KEY_FILE``); the project's clients read it from there (or ``$GAZESAM_ADMIN_KEY``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ADMIN_HEADER = "gazesam-admin-key"
ADMIN_APIS = ("shared-memory", "logging", "trace", "model-repository")
"""Triton 2.51's API categories behind the key; health, metadata, inference, model config and statistics stay open."""


def admin_key_file() -> Path:
    """Where this user's key lives: ``$GAZESAM_ADMIN_KEY_FILE`` or ``$XDG_CONFIG_HOME/gazesam/admin-key``."""
    if os.environ.get("GAZESAM_ADMIN_KEY_FILE"):
        return Path(os.environ["GAZESAM_ADMIN_KEY_FILE"])
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "gazesam" / "admin-key"


def ensure_admin_key(path: Path | None = None) -> str:
    """The key in ``path`` (default :func:`admin_key_file`), created there (mode 0600, folder 0700) if missing."""
    path = path or admin_key_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_admin_key(path)
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_hex(24) + "\n")
    return read_admin_key(path)


def read_admin_key(path: Path | None = None) -> str:
    """``$GAZESAM_ADMIN_KEY``, else the key in ``path`` (default :func:`admin_key_file`); '' when there is none."""
    if os.environ.get("GAZESAM_ADMIN_KEY"):
        return os.environ["GAZESAM_ADMIN_KEY"]
    try:
        return (path or admin_key_file()).read_text().strip()
    except OSError:
        return ""


GRPC_HEADER_PREFIX = "triton-grpc-protocol-"
"""Triton 2.51 looks for a restricted gRPC protocol's header under this prefix."""


def admin_headers(protocol: str) -> dict[str, str]:
    """The header the project's clients send with restricted calls over ``protocol`` (none without a key)."""
    key = read_admin_key()
    name = GRPC_HEADER_PREFIX + ADMIN_HEADER if protocol == "grpc" else ADMIN_HEADER
    return {name: key} if key else {}


def restricted_api_arguments(key: str, guard_key: str | None) -> list[str]:
    """tritonserver options: the admin APIs behind ``key``; with ``guard_key``, every other HTTP API behind
    the HTTP guard's own key, so only the guard (which checks request sizes first) reaches Triton's parser."""
    admin = f"{','.join(ADMIN_APIS)}:{ADMIN_HEADER}={key}"
    arguments = [f"--grpc-restricted-protocol={admin}", f"--http-restricted-api={admin}"]
    if guard_key:
        arguments.append(f"--http-restricted-api=health,metadata,inference,model-config,statistics:"
                         f"{GUARD_HEADER}={guard_key}")
    return arguments


GUARD_HEADER = "gazesam-guard-key"
"""The header the HTTP guard adds to what it forwards (and removes from what clients send)."""
