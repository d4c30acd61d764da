"""Keeps ``tritonserver`` serving: restarts it when it dies or when a Python-backend stub dies.

Triton 2.51 never recovers a stub that died (every later request of its model fails with "Stub process
... is not healthy") and keeps answering ready. The supervisor watches tritonserver and each of its
stubs through Linux pidfds, so it learns of a death at once; it then stops the server (readiness goes
false: nothing listens on the gRPC port, and the HTTP guard answers 503), removes the run's
``/dev/shm`` regions, waits its back-off (1 s, doubling to 30 s; back to 1 s once a run has served for
a minute) and starts it again, with one log line saying why. Before the first start it reaps orphans
and stale regions an earlier run of this server left (:mod:`gazesam_triton.server_leftovers`).
"""

from __future__ import annotations

import ctypes
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .process_memory import process_tree
from .server_leftovers import private_regions, reap_orphans, remove_stale_regions

STUB_NAME = "triton_python_backend_stub"
FIRST_BACKOFF_S, MAX_BACKOFF_S, HEALTHY_RUN_S = 1.0, 30.0, 60.0
STOP_GRACE_S = 5.0
FIRST_START_CRASH_RETRIES = 2
"""A first start that dies of a signal (tritonserver crashed, not a config error) is tried this many more times."""
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def log(message: str) -> None:
    print(f"gazesam serve: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ServerLimits:
    """What the supervisor sets on tritonserver and its stubs before they start.

    ``max_file_bytes``: RLIMIT_FSIZE (with SIGXFSZ ignored), which bounds how far each Python stub's
    shared-memory pool may grow, so a huge request is refused ("Failed to increase the shared memory
    pool size") before it is copied to a stub, and /dev/shm does not keep what it took. The same limit
    applies to every file the server writes (its log goes through the supervisor's pipe, not a file).
    ``malloc_tunables``: glibc settings under which tritonserver gives a huge request's freed buffers back
    to the system (buffers from 16 KiB up mapped on their own, two arenas, trimmed above 64 KiB free). The
    stubs run without them (serve.STUB_WRAPPER): there they doubled the latency; in tritonserver alone
    they cost nothing measurable.
    """

    max_file_bytes: int
    malloc_tunables: str = "glibc.malloc.mmap_threshold=16384:glibc.malloc.trim_threshold=65536:glibc.malloc.arena_max=2"


def _stub_pids(server_pid: int) -> dict[int, str]:
    """pid -> model of every Python-backend stub under ``server_pid``."""
    stubs = {}
    for pid in process_tree(server_pid)[1:]:
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and STUB_NAME.encode() in Path(args[0].decode(errors="replace")).name.encode() and len(args) > 1:
            stubs[pid] = Path(args[1].decode(errors="replace")).parent.parent.name  # <repo>/<model>/1/model.py
    return stubs


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return None


class Supervisor:
    """``Supervisor(command, env, ...).run()`` serves until SIGTERM/SIGINT; returns the exit status."""

    def __init__(self, command: Sequence[str], env: dict[str, str], shm_prefix: str, limits: ServerLimits,
                 is_ready: Callable[[], bool], ready_timeout_s: float = 600.0, log_to: IO[bytes] | None = None,
                 expected_stubs: int = 0):
        """``expected_stubs``: the repository's Python-backend models; fewer stubs means one died."""
        self.expected_stubs = expected_stubs
        self.command, self.env, self.shm_prefix, self.limits = list(command), dict(env), shm_prefix, limits
        self.env["GLIBC_TUNABLES"] = limits.malloc_tunables
        self.is_ready, self.ready_timeout_s = is_ready, ready_timeout_s
        self.log_to = log_to or sys.stdout.buffer
        self.restarts = 0
        self._was_ready = False  # some start got ready: later failures are crashes worth a restart
        self._start_crashed = False  # the last start died of a signal before it got ready
        self._stop = threading.Event()
        self._serving = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._process: subprocess.Popen | None = None

    def is_serving(self) -> bool:
        """True while a started server (with every stub) is watched: what readiness should say."""
        return self._serving.is_set()

    def request_stop(self, *_: object) -> None:
        """Stop serving (a signal handler): the current server is stopped, none is started again."""
        self._stop.set()
        os.write(self._wake_w, b"x")

    def run(self) -> int:
        self._clean_leftovers("before the first start")
        backoff = FIRST_BACKOFF_S
        while not self._stop.is_set():
            started = time.monotonic()
            reason = self._serve_once()
            if self._stop.is_set():
                break
            if not self._was_ready:  # a first start that never got ready: a config or model error, not a crash
                if self._start_crashed and self.restarts < FIRST_START_CRASH_RETRIES:
                    self.restarts += 1  # ... unless it died of a signal: tritonserver itself crashed, try again
                    log(f"{reason} on its first start; starting it again (try {self.restarts + 1})")
                    continue
                log(f"{reason} on its first start; not restarting (fix the error in its log above)")
                return 1
            served_s = time.monotonic() - started
            backoff = FIRST_BACKOFF_S if served_s >= HEALTHY_RUN_S else backoff
            self.restarts += 1
            log(f"{reason} ({served_s:.0f} s after the start); restarting tritonserver in {backoff:g} s "
                f"(restart {self.restarts})")
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, MAX_BACKOFF_S)
        log("stopped")
        return 0

    def _serve_once(self) -> str:
        """Start tritonserver, watch it and its stubs; the reason it stopped serving (it is stopped then)."""
        self._process = subprocess.Popen(self.command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         start_new_session=True, preexec_fn=self._limit_child)
        threading.Thread(target=self._relay_log, args=(self._process.stdout,), daemon=True).start()
        reason = "stopping"
        try:
            reason = self._wait_ready()
            if reason is None:
                self._was_ready = True
                reason = self._watch()
        finally:
            self._stop_server(graceful=self._stop.is_set())
            self._clean_leftovers("after the run")
        return reason

    def _limit_child(self) -> None:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with the supervisor
        os.umask(0o077)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized pool growth fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limits.max_file_bytes, self.limits.max_file_bytes))

    def _relay_log(self, pipe: IO[bytes]) -> None:
        for line in iter(pipe.readline, b""):
            self.log_to.write(line)
            self.log_to.flush()

    def _wait_ready(self) -> str | None:
        """None once the server is ready; else why it is not (it exited, or the wait timed out)."""
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline and not self._stop.is_set():
            if self._process.poll() is not None:
                self._start_crashed = self._process.returncode < 0
                return f"tritonserver exited with {_exit_text(self._process.returncode)} while starting"
            if self.is_ready():
                private = private_regions(self.shm_prefix)
                log(f"tritonserver ready (pid {self._process.pid}, {len(_stub_pids(self._process.pid))} stubs, "
                    f"{private} /dev/shm regions readable by this user only)")
                return None
            self._stop.wait(0.1)
        return "stopping" if self._stop.is_set() else f"tritonserver not ready after {self.ready_timeout_s:g} s"

    def _watch(self) -> str:
        """Block until tritonserver or one of its stubs dies (or a stop); the reason."""
        stubs = _stub_pids(self._process.pid)
        watched = {self._process.pid: "tritonserver"} | {pid: f"stub of {m}" for pid, m in stubs.items()}
        fds = {fd: pid for pid in watched if (fd := _pidfd(pid)) is not None}
        try:
            if len(fds) < len(watched) or len(stubs) < self.expected_stubs:
                return (f"a Python backend stub died while tritonserver started ({len(fds) - 1} of "
                        f"{self.expected_stubs} stubs alive)")
            self._serving.set()
            readable, _, _ = select.select([*fds, self._wake_r], [], [])
            self._serving.clear()
            if self._wake_r in readable:
                return "stopping"
            pid = fds[readable[0]]
            if pid == self._process.pid:
                return f"tritonserver exited with {_exit_text(self._process.wait())}"
            return f"the Python backend {watched[pid]} (pid {pid}) died, so that model cannot serve"
        finally:
            for fd in fds:
                os.close(fd)

    def _stop_server(self, graceful: bool) -> None:
        """``graceful``: SIGTERM, then SIGKILL after a grace period; else SIGKILL at once (a stub is dead, so the
        ensembles cannot answer anyway, and readiness must go false now). Then whatever is left of its group."""
        process = self._process
        if process.poll() is None:
            process.terminate() if graceful else process.kill()
            try:
                process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # stubs a crashed server left (they share its group)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def _clean_leftovers(self, when: str) -> None:
        reaped = []
        for _ in range(20):  # an orphaned server first, then the stubs it orphaned in turn
            if not (found := reap_orphans(self.shm_prefix)):
                break
            reaped += found
            time.sleep(0.25)
        removed = remove_stale_regions(self.shm_prefix)
        if reaped or removed:
            log(f"{when}: reaped {len(reaped)} orphaned process(es), removed {len(removed)} stale /dev/shm region(s)")


def _exit_text(returncode: int) -> str:
    if returncode < 0:
        return f"signal {-returncode} ({signal.Signals(-returncode).name})"
    return f"status {returncode}"
