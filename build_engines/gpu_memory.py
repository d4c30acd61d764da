"""Instance counts of the GPU profiles sized to one GPU's memory (``repository --gpu-memory-gib N``).

Each network asks for the instances of its registry ``GpuPlan`` (or of the serving config's ``[instances]``);
several ONNX Runtime sessions, TensorRT engine copies or PyTorch processes of every network can outgrow a
small GPU. The estimate is deliberately simple, one figure per instance::

    served model file's bytes (its weights: the ONNX file, or the TensorRT plan) + GPU_INSTANCE_OVERHEAD_BYTES

and all instances of all networks must fit in the GPU's memory less GPU_MEMORY_HEADROOM. When they do not,
extra instances go largest network first (each one dropped frees the most memory for the overlap it costs),
never below one each; when one instance each does not fit either, the repository is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3
MIB = 1024**2

GPU_INSTANCE_OVERHEAD_BYTES = 512 * MIB
"""GPU memory of one instance besides its weights. The value is the review's figure for a CUDA context,
"roughly 0.5 GB of GPU" (../shared/reference/gpu-path-review.md, D13): each pytorch-profile instance is a stub
process with a context of its own. Native-backend instances share the server's context but each holds its own
cuDNN/cuBLAS handles, workspaces and activation buffers, taken to be of the same order."""

GPU_MEMORY_HEADROOM = 0.25
"""Share of the GPU's memory left out of the estimates: Triton's CUDA memory pool for the tensors the ensemble
passes between steps (1 GiB on GPU 0, perf/gpu_server.py), activations above the estimate at the largest
frames and prompt counts, TensorRT builds of the onnx profile's accelerator, and the driver's own use."""


class GpuMemoryError(ValueError):
    """Even one instance of every network does not fit the GPU memory given."""


@dataclass(frozen=True)
class InstanceRequest:
    """The instances one network model asks for (with the reason) and the size of the file it serves."""

    model: str
    count: int
    reason: str
    file_bytes: int

    @property
    def instance_bytes(self) -> int:
        return self.file_bytes + GPU_INSTANCE_OVERHEAD_BYTES


def memory_budget(gpu_memory_gib: float) -> int:
    """Bytes the instances may take on a GPU of ``gpu_memory_gib`` GiB (after the headroom)."""
    return int(gpu_memory_gib * GIB * (1 - GPU_MEMORY_HEADROOM))


def _estimate(requests: list[InstanceRequest], counts: dict[str, int]) -> int:
    return sum(counts[r.model] * r.instance_bytes for r in requests)


def fit_instances(requests: list[InstanceRequest], gpu_memory_gib: float) -> dict[str, tuple[int, str]]:
    """Model -> (instance count, reason) so that every instance's estimate fits ``gpu_memory_gib``.

    GpuMemoryError when one instance of each network does not fit.
    """
    budget = memory_budget(gpu_memory_gib)
    given = f"--gpu-memory-gib {gpu_memory_gib:g} less {GPU_MEMORY_HEADROOM:.0%} headroom"
    counts = {r.model: 1 for r in requests}
    least = _estimate(requests, counts)
    if least > budget:
        largest = max(requests, key=lambda r: r.instance_bytes)
        raise GpuMemoryError(
            f"one instance of each network needs about {least / GIB:.2f} GiB (model file + "
            f"{GPU_INSTANCE_OVERHEAD_BYTES // MIB} MiB each; largest {largest.model}, {largest.instance_bytes / GIB:.2f} "
            f"GiB), more than the {budget / GIB:.2f} GiB of {given}: serve it on a GPU with more memory")
    counts = {r.model: r.count for r in requests}
    for request in sorted(requests, key=lambda r: r.instance_bytes, reverse=True):
        while counts[request.model] > 1 and _estimate(requests, counts) > budget:
            counts[request.model] -= 1
    total = _estimate(requests, counts)
    fits = f"all instances about {total / GIB:.2f} of {budget / GIB:.2f} GiB ({given})"
    return {r.model: (counts[r.model], _reason(r, counts[r.model], fits)) for r in requests}


def _reason(request: InstanceRequest, count: int, fits: str) -> str:
    each = f"about {request.instance_bytes / MIB:.0f} MiB an instance (model file + overhead)"
    if count == request.count:
        return f"{request.reason}; fits GPU memory: {each}, {fits}"
    return (f"{count} instance(s), lowered from {request.count} ({request.reason}) to fit GPU memory: {each}, {fits}; "
            "extra instances of the largest networks go first")
