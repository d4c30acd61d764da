"""What perf/gpu_check.py reports, as plain values: latency percentiles, per-stream throughput, the proof
that a GPU did the work, and one row per profile (measured, skipped with its reason, or failed with why).

Pure logic (no server, no GPU), so the reporting is tested on its own and a check can only pass when
every one of its numbers was measured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

STREAM_COUNTS = (1, 4, 8, 16)


@dataclass(frozen=True)
class StreamRun:
    """``streams`` concurrent streams, each sending the same frames one at a time."""

    streams: int
    latencies_s: tuple[float, ...]  # every request of every stream
    seconds: float  # wall time of the whole run

    @property
    def frames(self) -> int:
        return len(self.latencies_s)

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(np.asarray(self.latencies_s) * 1000.0, q))

    @property
    def fps_per_stream(self) -> float:
        return self.frames / self.streams / self.seconds

    def row(self) -> str:
        return (f"{self.streams:2d} streams: p50 {self.percentile_ms(50):8.1f} ms  p99 {self.percentile_ms(99):8.1f} ms  "
                f"{self.fps_per_stream:7.2f} fps/stream  {self.frames / self.seconds:7.2f} fps total")


@dataclass(frozen=True)
class GpuUse:
    """Evidence that the server's work ran on a GPU: Triton's utilisation gauge, the processes nvidia-smi
    lists on the GPU, the device each adapter reported, and GPU memory in use."""

    peak_utilization: float | None  # max of nv_gpu_utilization (0..1) sampled during the runs
    gpu_processes: tuple[str, ...]  # process names on the GPU (nvidia-smi --query-compute-apps)
    adapter_devices: tuple[str, ...]  # e.g. "cuda:0" from the python adapters' log lines
    memory_used_mib: int | None
    memory_total_mib: int | None

    def proven(self, expects_adapter_device: bool) -> bool:
        """A GPU was used: Triton saw utilisation or a server process holds GPU memory, and (for Python-backend
        networks) no adapter ran on the CPU."""
        on_gpu = (self.peak_utilization or 0.0) > 0.0 or bool(self.gpu_processes)
        if expects_adapter_device:
            on_gpu = on_gpu and bool(self.adapter_devices) and all(d.startswith("cuda") for d in self.adapter_devices)
        return on_gpu

    def row(self) -> str:
        utilization = "n/a" if self.peak_utilization is None else f"{self.peak_utilization:.0%}"
        memory = ("n/a" if self.memory_used_mib is None
                  else f"{self.memory_used_mib} of {self.memory_total_mib} MiB")
        devices = ", ".join(sorted(set(self.adapter_devices))) or "none reported"
        processes = ", ".join(sorted(set(self.gpu_processes))) or "none"
        return (f"GPU: peak utilisation {utilization}; memory {memory}; processes on the GPU: {processes}; "
                f"adapter devices: {devices}")


@dataclass
class ProfileResult:
    """One profile's outcome: ``status`` is "ok", "FAILED" or "skipped"; ``lines`` say what was measured or why not."""

    name: str
    status: str
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        head = f"{self.name:9} {self.status}"
        return "\n".join([head, *(f"          {line}" for line in self.lines)])


def skipped(name: str, reason: str) -> ProfileResult:
    return ProfileResult(name, "skipped", [reason])


TRITON_ERROR_LINE = re.compile(r"^(E\d{4} |error: )")


def log_errors(log_text: str, limit: int = 8) -> list[str]:
    """The server log's error lines (Triton's ``E<mmdd>`` lines, its final ``error:``), else its last lines."""
    lines = log_text.splitlines()
    errors = [line for line in lines if TRITON_ERROR_LINE.match(line)]
    return (errors or lines)[-limit:]


def failed(name: str, reason: str, log_text: str = "") -> ProfileResult:
    lines = [reason] + [f"| {line[:400]}" for line in log_errors(log_text)]
    return ProfileResult(name, "FAILED", lines)


def gauge_values(metrics_text: str, metric: str) -> list[float]:
    """Every sample of ``metric`` in Prometheus text (e.g. ``nv_gpu_utilization{gpu_uuid="..."} 0.42``)."""
    pattern = re.compile(rf"^{re.escape(metric)}(?:{{[^}}]*}})?\s+([0-9.eE+-]+)\s*$", re.M)
    return [float(value) for value in pattern.findall(metrics_text)]


ADAPTER_DEVICE = re.compile(r"PyTorch \S+ on (\S+?),")


def adapter_devices(log_text: str) -> tuple[str, ...]:
    """The devices the PyTorch adapters logged at load ("... PyTorch 2.10.0 on cuda:0, TF32 on ...")."""
    return tuple(ADAPTER_DEVICE.findall(log_text))


POOL_FALLBACK = "falling back to pinned system memory"
"""Triton's log line when its CUDA memory pool is exhausted and ensemble tensors go through pinned host memory
(review D4: correct outputs, far slower)."""


def pool_fallbacks(log_text: str) -> int:
    """How many times the server logged falling back from its CUDA memory pool to pinned system memory."""
    return log_text.lower().count(POOL_FALLBACK)


def exit_code(results: list[ProfileResult]) -> int:
    """0: every profile that ran passed (at least one ran); 1: one failed; 2: none could run here."""
    if any(r.status == "FAILED" for r in results):
        return 1
    return 0 if any(r.status == "ok" for r in results) else 2
