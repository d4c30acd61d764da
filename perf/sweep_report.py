"""The concurrency sweep's results: perf_analyzer's CSV rows plus per-model server counters, as CSV and Markdown.

Pure formatting: nothing here talks to a server or runs perf_analyzer.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from perf.model_stats import DURATIONS, ModelCounters

# perf_analyzer CSV columns this report reads (microseconds, except throughput).
THROUGHPUT = "Inferences/Second"
LATENCIES = {"p50": "p50 latency", "p95": "p95 latency", "p99": "p99 latency", "avg": "Avg latency"}

MODEL_CSV_FIELDS = ("concurrency", "model", "role", "requests", "failed", "executions", "mean_server_ms",
                    *(f"mean_{name}_ms" for name in DURATIONS))


@dataclass
class SweepPoint:
    """One concurrency level: perf_analyzer's CSV row (None if it measured nothing) and the model counters."""

    concurrency: int
    pa_row: dict[str, str] | None
    models: dict[str, ModelCounters] = field(default_factory=dict)
    error: str | None = None

    @property
    def throughput(self) -> float | None:
        return float(self.pa_row[THROUGHPUT]) if self.pa_row else None

    def latency_ms(self, which: str) -> float | None:
        return float(self.pa_row[LATENCIES[which]]) / 1e3 if self.pa_row else None


def read_pa_csv(path: Path) -> list[dict[str, str]]:
    """The measurement rows of a perf_analyzer ``-f`` CSV (one per concurrency it measured stably)."""
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [row for row in rows if (row.get("Concurrency") or "").strip().isdigit()]


def write_sweep_csv(points: list[SweepPoint], path: Path) -> None:
    """perf_analyzer's columns, one row per concurrency it measured (its own ``-f`` files merged)."""
    rows = [point.pa_row for point in points if point.pa_row]
    header: list[str] = []
    for row in rows:
        header += [key for key in row if key not in header]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header or ["Concurrency"])
        writer.writeheader()
        writer.writerows(rows)


def model_rows(point: SweepPoint, ensemble: str, composing: list[str]) -> list[dict[str, object]]:
    """The ensemble first, then its composing models in step order; mean times in ms per request."""
    rows = []
    for name in [ensemble, *composing]:
        counters = point.models.get(name, ModelCounters())
        rows.append({
            "concurrency": point.concurrency,
            "model": name,
            "role": "ensemble" if name == ensemble else "composing",
            "requests": counters.success_count,
            "failed": counters.fail_count,
            "executions": counters.execution_count,
            "mean_server_ms": round(counters.mean_us("success") / 1e3, 3),
            **{f"mean_{d}_ms": round(counters.mean_us(d) / 1e3, 3) for d in DURATIONS},
        })
    return rows


def write_models_csv(points: list[SweepPoint], ensemble: str, composing: list[str], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MODEL_CSV_FIELDS)
        writer.writeheader()
        for point in points:
            writer.writerows(model_rows(point, ensemble, composing))


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def throughput_table(points: list[SweepPoint]) -> list[str]:
    lines = ["| concurrency (streams) | throughput (frames/s) | p50 ms | p95 ms | p99 ms | avg ms | note |",
             "|---:|---:|---:|---:|---:|---:|---|"]
    for p in points:
        throughput = "—" if p.throughput is None else f"{p.throughput:.2f}"
        latencies = " | ".join(_ms(p.latency_ms(which)) for which in ("p50", "p95", "p99", "avg"))
        lines.append(f"| {p.concurrency} | {throughput} | {latencies} | {p.error or ''} |")
    return lines


def model_table(point: SweepPoint, ensemble: str, composing: list[str]) -> list[str]:
    lines = ["| model | requests | failed | queue ms | compute input ms | compute infer ms | compute output ms "
             "| on server ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in model_rows(point, ensemble, composing):
        name = f"**{row['model']}** (ensemble)" if row["role"] == "ensemble" else row["model"]
        times = " | ".join(f"{row[f'mean_{d}_ms']:.2f}" for d in DURATIONS)
        lines.append(f"| {name} | {row['requests']} | {row['failed']} | {times} | {row['mean_server_ms']:.2f} |")
    return lines


def summary_markdown(points: list[SweepPoint], ensemble: str, composing: list[str], context: list[str]) -> str:
    """The readable summary: context lines, the throughput/latency table, one breakdown table per level."""
    lines = [f"# perf_analyzer sweep: `{ensemble}`", "", *(f"- {line}" for line in context), "",
             "## Throughput and latency (perf_analyzer, client side)", "", *throughput_table(points), "",
             "Latency is per frame (one request), from send to response; one stream has one frame in flight.",
             "", "## Server time per model (Triton statistics, mean per request)", "",
             "Counted over the whole perf_analyzer run at each level (its warm-up and every window). "
             "The ensemble's compute columns add up its composing models, whose branches run in parallel, "
             "so they can exceed its time on the server.", ""]
    for point in points:
        lines += [f"### concurrency {point.concurrency}", "", *model_table(point, ensemble, composing), ""]
    return "\n".join(lines)
