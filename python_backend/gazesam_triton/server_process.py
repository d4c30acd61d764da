"""The supervised server as a child process: start, wait until ready, stop, kill. Used by tests and the demo.

It runs the launcher (``python -m gazesam_triton.serve``), so what the tests exercise is exactly what a
user serves: the supervisor, the HTTP guard, the restricted APIs and the memory bounds.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from .process_memory import process_tree
from .repository_check import check_repository
from .serve import ROOT, server_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TritonProcess:
    """``with TritonProcess(repo) as server:`` serves ``repo`` on free 127.0.0.1 ports until the block ends.

    ``server.grpc_url`` / ``server.http_url`` are the client addresses; the log goes to ``log_path``.
    ``server.process`` is the launcher (the supervisor); :meth:`tritonserver_pid` the server it runs.
    """

    def __init__(self, repository: str | Path, log_path: str | Path, ready_timeout: float = 180.0,
                 extra_args: tuple[str, ...] = ()):
        self.repository = Path(repository)
        self.log_path = Path(log_path)
        self.ready_timeout = ready_timeout
        self.extra_args = tuple(extra_args)
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        self.process: subprocess.Popen | None = None

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gazesam_triton.serve", f"--model-repository={self.repository}",
                f"--http-port={self.http_port}", f"--grpc-port={self.grpc_port}",
                f"--metrics-port={self.metrics_port}", *self.extra_args]

    def start(self) -> "TritonProcess":
        check_repository(self.repository)  # RepositoryError: one line naming the bad file and the fix
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(self.command(), env=server_env(), stdout=log, stderr=subprocess.STDOUT,
                                        cwd=ROOT, start_new_session=True)
        self.wait_ready(self.ready_timeout)
        return self

    def is_ready(self) -> bool:
        """The server answers ready (through the HTTP guard, or gRPC when HTTP is off)."""
        if "--no-http" in self.extra_args:
            import tritonclient.grpc as grpcclient

            try:
                return bool(grpcclient.InferenceServerClient(self.grpc_url).is_server_ready(client_timeout=2))
            except Exception:
                return False
        try:
            with urllib.request.urlopen(f"http://{self.http_url}/v2/health/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the launcher exited with {self.process.returncode}; log: {self.log_path}\n"
                                   + self.log_tail())
            if self.is_ready():
                return
            time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"tritonserver not ready after {timeout_s:.0f} s; log: {self.log_path}\n" + self.log_tail())

    def tritonserver_pid(self) -> int | None:
        """The tritonserver the launcher runs now (None while it restarts)."""
        for pid in process_tree(self.process.pid)[1:]:
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"/tritonserver"):
                    return pid
            except OSError:
                continue
        return None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 60.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # the supervisor stops tritonserver and its stubs
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the whole service at once (launcher, tritonserver, stubs): no shutdown, every state lost."""
        server = self.tritonserver_pid()
        for group in filter(None, [server, self.process.pid]):
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()

    def __enter__(self) -> "TritonProcess":
        return self.start()

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
