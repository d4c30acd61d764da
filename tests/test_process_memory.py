"""Process-tree memory (gazesam_triton.process_memory): the soak test's server memory figures."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from gazesam_triton.process_memory import process_tree, tree_memory

HOLD_MIB = 64


def test_tree_memory_includes_a_child_and_its_allocation():
    before = tree_memory(os.getpid())
    code = f"b = bytearray({HOLD_MIB} * 2**20); b[::4096] = b'x' * len(b[::4096]); print('ready', flush=True); input()"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        during = tree_memory(os.getpid())
        assert child.pid in process_tree(os.getpid())
        assert during.processes == before.processes + 1
        assert during.rss_bytes - before.rss_bytes >= HOLD_MIB * 2**20
        assert during.pss_bytes - before.pss_bytes >= HOLD_MIB * 2**20 * 0.9
    finally:
        child.communicate("\n", timeout=30)
    time.sleep(0.1)
    assert child.pid not in process_tree(os.getpid())
