"""Per-model server time from Triton's statistics API: snapshot before and after a run, and the difference.

Triton keeps cumulative counters per model (``get_inference_statistics``): request counts and the
total nanoseconds spent queued and in compute input / infer / output. The difference of two snapshots
covers exactly the requests sent between them, for the ensemble and each composing model alike.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

# Triton's duration counters, in the order a request passes through them.
DURATIONS = ("queue", "compute_input", "compute_infer", "compute_output")


@dataclass(frozen=True)
class ModelCounters:
    """Cumulative counters of one model (one version). Durations are total nanoseconds."""

    success_count: int = 0
    fail_count: int = 0
    inference_count: int = 0
    execution_count: int = 0
    success_ns: int = 0
    queue_ns: int = 0
    compute_input_ns: int = 0
    compute_infer_ns: int = 0
    compute_output_ns: int = 0

    def __sub__(self, earlier: "ModelCounters") -> "ModelCounters":
        return ModelCounters(**{f.name: getattr(self, f.name) - getattr(earlier, f.name) for f in fields(self)})

    def mean_us(self, duration: str) -> float:
        """Mean microseconds per successful request of ``duration`` ("success" = whole request on the server)."""
        total_ns = getattr(self, f"{duration}_ns")
        return total_ns / self.success_count / 1e3 if self.success_count else 0.0


def _count(stats: dict, key: str) -> int:
    # gRPC's JSON spells int64 as strings and leaves zero counters out; HTTP gives numbers.
    return int(stats.get(key, {}).get("count", 0))


def _ns(stats: dict, key: str) -> int:
    return int(stats.get(key, {}).get("ns", 0))


def counters_from_json(model_stats: dict) -> ModelCounters:
    """One entry of ``get_inference_statistics()["model_stats"]`` (gRPC ``as_json=True`` or HTTP)."""
    stats = model_stats.get("inference_stats", {})
    return ModelCounters(
        success_count=_count(stats, "success"),
        fail_count=_count(stats, "fail"),
        inference_count=int(model_stats.get("inference_count", 0)),
        execution_count=int(model_stats.get("execution_count", 0)),
        success_ns=_ns(stats, "success"),
        **{f"{name}_ns": _ns(stats, name) for name in DURATIONS},
    )


def snapshot_from_json(statistics: dict) -> dict[str, ModelCounters]:
    """Model name -> counters, summed over versions, from a whole statistics response."""
    snapshot: dict[str, ModelCounters] = {}
    for entry in statistics.get("model_stats", []):
        counters = counters_from_json(entry)
        previous = snapshot.get(entry["name"])
        snapshot[entry["name"]] = counters if previous is None else _sum(previous, counters)
    return snapshot


def _sum(a: ModelCounters, b: ModelCounters) -> ModelCounters:
    return ModelCounters(**{f.name: getattr(a, f.name) + getattr(b, f.name) for f in fields(a)})


def snapshot_difference(before: dict[str, ModelCounters], after: dict[str, ModelCounters]) -> dict[str, ModelCounters]:
    """Per model, what happened between two snapshots (a model missing before counts from zero)."""
    return {name: counters - before.get(name, ModelCounters()) for name, counters in after.items()}
