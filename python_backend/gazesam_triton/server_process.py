"""A Triton server as a child process: start, wait until ready, stop. Used by tests and the demo."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from .repository_check import check_repository
from .serve import ROOT, build_parser, prepare_backend_dir, server_command, server_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TritonProcess:
    """``with TritonProcess(repo) as server:`` serves ``repo`` on free 127.0.0.1 ports until the block ends.

    ``server.grpc_url`` / ``server.http_url`` are the client addresses; the log goes to ``log_path``.
    """

    def __init__(self, repository: str | Path, log_path: str | Path, ready_timeout: float = 180.0):
        self.repository = Path(repository)
        self.log_path = Path(log_path)
        self.ready_timeout = ready_timeout
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

    def start(self) -> "TritonProcess":
        args = build_parser().parse_args(
            [
                f"--model-repository={self.repository}",
                f"--http-port={self.http_port}",
                f"--grpc-port={self.grpc_port}",
                f"--metrics-port={self.metrics_port}",
            ]
        )
        check_repository(self.repository)  # RepositoryError: one line naming the bad file and the fix
        backend_dir = prepare_backend_dir(Path(args.backend_dir))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            server_command(args, backend_dir), env=server_env(), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tritonserver exited with {self.process.returncode}; log: {self.log_path}\n"
                                   + self.log_tail())
            try:
                with urllib.request.urlopen(f"http://{self.http_url}/v2/health/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"tritonserver not ready after {self.ready_timeout:.0f} s; log: {self.log_path}\n"
                           + self.log_tail())

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "TritonProcess":
        return self.start()

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
