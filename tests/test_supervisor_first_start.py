"""The supervisor's first start: a server that crashes (dies of a signal) before it is ready is started
again, a few times at most; one that exits with an error (a config or model problem) is not. Real child
processes stand in for tritonserver; the supervisor is the real one."""

from __future__ import annotations

import threading
from pathlib import Path

from gazesam_triton.supervisor import FIRST_START_CRASH_RETRIES, ServerLimits, Supervisor


def supervise(tmp_path: Path, script: str) -> tuple[int, int]:
    """Run the supervisor on ``script`` (sh; $1 counts its starts in a file, ready once it writes 'ready');
    (its exit status, how many times the script started)."""
    starts, ready = tmp_path / "starts", tmp_path / "ready"
    command = ["sh", "-c", f'echo x >> "{starts}"; {script}', "server"]
    supervisor = Supervisor(command, {"READY": str(ready), "STARTS": str(starts), "PATH": "/usr/bin:/bin"},
                            "gazesam_test_first_start_", ServerLimits(1 << 30), is_ready=ready.exists,
                            ready_timeout_s=20, log_to=open(tmp_path / "log", "wb"))
    stopper = threading.Thread(target=lambda: _stop_when_ready(supervisor, ready), daemon=True)
    stopper.start()
    status = supervisor.run()
    return status, len(starts.read_text().split())


def _stop_when_ready(supervisor: Supervisor, ready: Path) -> None:
    for _ in range(600):
        if supervisor.is_serving():
            supervisor.request_stop()
            return
        threading.Event().wait(0.05)


def test_a_first_start_that_crashes_is_tried_again_and_then_serves(tmp_path):
    crash_twice = ('if [ $(wc -l < "$STARTS") -le 2 ]; then kill -ABRT $$; fi; '
                   'touch "$READY"; sleep 30')
    status, starts = supervise(tmp_path, crash_twice)
    assert (status, starts) == (0, 3)


def test_a_first_start_that_keeps_crashing_gives_up(tmp_path):
    status, starts = supervise(tmp_path, "kill -ABRT $$")
    assert (status, starts) == (1, 1 + FIRST_START_CRASH_RETRIES)


def test_a_first_start_that_exits_with_an_error_is_not_tried_again(tmp_path):
    status, starts = supervise(tmp_path, "exit 1")
    assert (status, starts) == (1, 1)
