"""How the NGC ``tritonserver`` runs this repository on a GPU: its flags, and a child process for checks.

The network steps return GPU buffers that the ensemble carries between models in Triton's CUDA memory
pool; at 64 MB (the default) 16 streams of SAM embeddings and masks overflow it, and Triton falls back to
pinned host memory (slow, and the cause of failed GPU-buffer copies into Python steps in Triton's issue
tracker). The Python steps pass frames (up to 4K: 44 MB) through shared memory that grows in 1 MiB steps
by default. :data:`GPU_SERVER_FLAGS` sizes all three; ``docker/compose.yaml`` passes the same flags.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

from gazesam_triton.server_process import free_port

CUDA_POOL_BYTES = 1024**3
PINNED_POOL_BYTES = 512 * 1024**2
PYTHON_SHM_BYTES = 64 * 1024**2

GPU_SERVER_FLAGS = (
    f"--cuda-memory-pool-byte-size=0:{CUDA_POOL_BYTES}",
    f"--pinned-memory-pool-byte-size={PINNED_POOL_BYTES}",
    f"--backend-config=python,shm-default-byte-size={PYTHON_SHM_BYTES}",
    f"--backend-config=python,shm-growth-byte-size={PYTHON_SHM_BYTES}",
)
"""Per GPU 0; a multi-GPU host adds ``--cuda-memory-pool-byte-size=<n>:<bytes>`` for each further GPU."""

SYSTEM_TRITON = Path("/opt/tritonserver")


class SystemTriton:
    """The NGC image's ``tritonserver`` serving ``repository`` on free 127.0.0.1 ports, for a ``with`` block.

    Raises RuntimeError (server exited) or TimeoutError (not ready) with the log's last lines.
    """

    def __init__(self, repository: Path, log_path: Path, ready_timeout_s: float = 1800.0):
        self.repository, self.log_path, self.ready_timeout_s = repository, log_path, ready_timeout_s
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> "SystemTriton":
        command = [
            str(SYSTEM_TRITON / "bin" / "tritonserver"), f"--model-repository={self.repository}",
            "--model-control-mode=none", "--http-address=127.0.0.1", "--grpc-address=127.0.0.1",
            "--metrics-address=127.0.0.1", f"--http-port={self.http_port}", f"--grpc-port={self.grpc_port}",
            f"--metrics-port={self.metrics_port}", "--exit-on-error=true", *GPU_SERVER_FLAGS,
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.close()
                raise RuntimeError(f"tritonserver exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/v2/health/ready", timeout=2):
                    return self
            except OSError:
                time.sleep(1.0)
        self.__exit__(None, None, None)
        raise TimeoutError(f"tritonserver not ready after {self.ready_timeout_s:.0f} s:\n{self.log_tail()}")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
