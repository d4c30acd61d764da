"""Memory of a process and all its descendants, from Linux ``/proc`` (tritonserver + its Python stubs).

Each Python-backend model instance is a ``triton_python_backend_stub`` child process, so the server's
memory is the whole tree's. RSS counts pages shared between the processes (the backend's shared
memory regions) once per process that touches them; PSS divides them among the sharers, so the PSS
sum is the tree's real footprint. Both are reported; growth over time is what a soak test watches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class TreeMemory:
    """``rss_bytes`` / ``pss_bytes``: sums over ``processes`` (the root and every live descendant)."""

    processes: int
    rss_bytes: int
    pss_bytes: int


def _parent_of(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:  # the process ended meanwhile
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the command name in (...) may contain spaces


def process_tree(root: int) -> list[int]:
    """``root`` and the pids of all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _kib_field(path: Path, field: str) -> int:
    """The ``field:   N kB`` value of a /proc status-style file, in bytes (0 if the process is gone)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def tree_memory(root: int) -> TreeMemory:
    """RSS and PSS of ``root`` and its descendants now."""
    pids = process_tree(root)
    return TreeMemory(
        processes=len(pids),
        rss_bytes=sum(_kib_field(PROC / str(pid) / "status", "VmRSS") for pid in pids),
        pss_bytes=sum(_kib_field(PROC / str(pid) / "smaps_rollup", "Pss") for pid in pids),
    )
