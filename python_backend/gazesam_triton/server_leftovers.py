"""What a crashed server leaves behind: its Python backend's ``/dev/shm`` regions and orphaned stubs.

Each supervised server names its backend's shared-memory regions with its own prefix (the gRPC port in
it: two servers cannot share a port), so the supervisor can tell its earlier runs' leftovers from
everyone else's. A region is removed only when no process maps it; a process is reaped only when its
command line carries the prefix and its parent is gone (the launcher or tritonserver that owned it died).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

PROC = Path("/proc")
SHM_DIR = Path("/dev/shm")


def region_prefix(grpc_port: int) -> str:
    """The Python backend's ``shm-region-prefix-name`` for the server on ``grpc_port``."""
    return f"gazesam_g{grpc_port}_"


def _mapped_shm_names() -> set[str]:
    """Names of the ``/dev/shm`` files some readable process has mapped."""
    names = set()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            maps = (entry / "maps").read_text()
        except OSError:  # gone meanwhile, or another user's
            continue
        for line in maps.splitlines():
            path = line.split(maxsplit=5)[5:] or [""]
            if path[0].startswith(f"{SHM_DIR}/"):
                names.add(path[0][len(str(SHM_DIR)) + 1:].removesuffix(" (deleted)"))
    return names


def remove_stale_regions(prefix: str) -> list[str]:
    """Remove this user's ``/dev/shm/<prefix>*`` files that no process maps; their names."""
    candidates = [p for p in SHM_DIR.glob(f"{prefix}*") if p.is_file() and p.stat().st_uid == os.getuid()]
    if not candidates:
        return []
    mapped = _mapped_shm_names()
    removed = []
    for path in candidates:
        if path.name not in mapped:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def private_regions(prefix: str) -> int:
    """Make this user's ``/dev/shm/<prefix>*`` files readable by this user only (the Python backend creates
    them world-readable, and every client's frames pass through them); how many there are."""
    regions = [p for p in SHM_DIR.glob(f"{prefix}*") if p.is_file() and p.stat().st_uid == os.getuid()]
    for path in regions:
        path.chmod(0o600)
    return len(regions)


def _parent_of(pid: int) -> int | None:
    try:
        return int((PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _is_alive(pid: int) -> bool:
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def orphans(prefix: str) -> list[int]:
    """This user's processes whose command line names ``prefix`` and whose parent is init or dead."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid() or prefix.encode() not in (entry / "cmdline").read_bytes():
                continue
        except OSError:
            continue
        parent = _parent_of(int(entry.name))
        if parent is not None and (parent == 1 or not _is_alive(parent)):
            found.append(int(entry.name))
    return found


def reap_orphans(prefix: str) -> list[int]:
    """SIGKILL every process :func:`orphans` finds (an old tritonserver first: its stubs follow); their pids."""
    pids = orphans(prefix)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids
