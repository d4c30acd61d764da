"""Assemble ``perf/RESULTS.md`` from the latest benchmark outputs in ``perf/out/``, with the targets checked.

    python perf/collect_results.py          # after `make perf` (or the benchmarks one by one)

Targets (performance issue 12; same machine, same 1280x720 frames, in one run):
  * the Python steps' CPU per frame (Triton's statistics, tiny stand-ins: networks as fast as on a GPU)
    is at most 5 ms: the CPU work that stays on a GPU deployment;
  * tiny stand-ins, one stream: the ensemble's p50 latency is at most 1.10x the serial in-process one;
  * the real offline set: the ensemble's frames/s at its best stream count is at least the serial one's;
  * at most 4 Python-step hops between FRAME and MASK (the critical path);
  * transport: shared memory or JPEG cuts the client-side cost of a 1280x720 frame by at least half.
Each target names the stage that holds it back when it is not met. Sections of the previous RESULTS.md
between ``<!-- name:start -->`` / ``<!-- name:end -->`` markers (the accuracy table) are kept.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "perf" / "out"
SECTIONS = ("bench_pipeline_tiny.md", "bench_pipeline_offline.md", "sweep_threads_offline.md",
            "compare_inputs_model_repository.md", "evaluate_precision.md", "bench_pipeline_full.md",
            "bench_transport.md", "summary.md")
MAX_STEP_MS, MAX_LATENCY_RATIO, MIN_THROUGHPUT_RATIO, MAX_HOPS = 5.0, 1.10, 1.0, 4


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _rows(report: dict) -> tuple[dict, list[dict]]:
    rows = {row["name"]: row for row in report["rows"]}
    ensemble = [row for name, row in rows.items() if name.startswith("ensemble,") and "no face" not in name]
    return rows["serial, in-process"], ensemble


def _p50(row: dict) -> float:
    values = sorted(row["latencies_ms"])
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _compute(report: dict, steps: bool) -> dict[str, float]:
    """Compute ms per frame of the Python steps (``steps``) or of the networks, by model."""
    return {name: ms for name, ms in report["model_ms"].items() if (name in report["python_steps"]) == steps}


def _phases(report: dict, step: str) -> str:
    """``step``'s compute split into Triton's phases, when the report has them (older reports do not)."""
    parts = report.get("step_parts_ms", {}).get(step)
    if not parts:
        return ""
    return ": " + ", ".join(f"{phase} {ms:.2f}" for phase, ms in parts.items())


def step_target(report: dict) -> str:
    steps = _compute(report, steps=True)
    total = sum(steps.values())
    worst = max(steps, key=steps.get)
    held = "" if total <= MAX_STEP_MS else f"; held back by {worst} ({steps[worst]:.2f} ms{_phases(report, worst)})"
    return (f"- Python steps' CPU per frame at {report['frame_hw'][1]}x{report['frame_hw'][0]} (Triton statistics, "
            f"{report['label']}): {total:.2f} ms (target <= {MAX_STEP_MS:g} ms): {verdict(total <= MAX_STEP_MS)}{held}")


def latency_target(report: dict) -> str:
    serial, ensemble = _rows(report)
    one = next(row for row in ensemble if row["name"].startswith("ensemble, 1 "))
    ratio = _p50(one) / _p50(serial)
    steps = _compute(report, steps=True)
    held = "" if ratio <= MAX_LATENCY_RATIO else (
        f"; held back by the Python-backend hops ({sum(steps.values()):.1f} ms of step compute per frame, "
        f"the largest {max(steps, key=steps.get)})")
    return (f"- Ensemble p50 at one stream vs serial in-process ({report['label']}): {ratio:.2f}x "
            f"({_p50(one):.0f} vs {_p50(serial):.0f} ms; target <= {MAX_LATENCY_RATIO:.2f}x): "
            f"{verdict(ratio <= MAX_LATENCY_RATIO)}{held}")


def throughput_target(report: dict) -> str:
    serial, ensemble = _rows(report)
    best = max(ensemble, key=lambda row: row["fps"])
    ratio = best["fps"] / serial["fps"]
    networks = _compute(report, steps=False)
    slowest = max(networks, key=networks.get)
    held = "" if ratio >= MIN_THROUGHPUT_RATIO else (
        f"; held back by {slowest} ({networks[slowest]:.0f} ms of compute per frame, "
        f"{networks[slowest] / sum(networks.values()):.0%} of the networks') on cores the serial loop already keeps busy")
    return (f"- Throughput, {report['label']}, at the best stream count ({best['name']}): {best['fps']:.2f} vs "
            f"{serial['fps']:.2f} frames/s serial = {ratio:.2f}x (target >= {MIN_THROUGHPUT_RATIO:.1f}x): "
            f"{verdict(ratio >= MIN_THROUGHPUT_RATIO)}{held}")


def hops_target(report: dict) -> str:
    path = report["critical_path"]
    hops = sum(node["python_step"] for node in path)
    names = " -> ".join(f"**{n['model']}**" if n["python_step"] else n["model"] for n in path)
    return f"- Python-step hops between FRAME and MASK: {hops} (target <= {MAX_HOPS}): {verdict(hops <= MAX_HOPS)}: {names}"


def faceless_line(report: dict) -> str | None:
    rows = {row["name"]: row for row in report["rows"]}
    ensemble, serial = rows.get("ensemble, no face, 1 stream"), rows.get("serial, no face (gated)")
    if ensemble is None or serial is None:
        return None
    return (f"- Frames without a face ({report['label']}, gated path): ensemble p50 {_p50(ensemble):.0f} ms, serial "
            f"{_p50(serial):.0f} ms (every network after the face detector skipped)")


def transport_target(markdown: str) -> list[str]:
    ratios = {m.group(1): float(m.group(2)) for m in re.finditer(r"^\| (shm|jpeg[^|]*) \|(?:[^|]*\|){3} ([\d.]+)x", markdown, re.M)}
    return [f"- Client-side cost of a 1280x720 frame, {kind}: {ratio:.2f}x raw gRPC (target <= 0.5x): "
            f"{verdict(ratio <= 0.5)}" for kind, ratio in ratios.items()]


def kept_sections(results: Path) -> list[str]:
    """The marked sections of the previous RESULTS.md (e.g. the accuracy table), each whole."""
    if not results.is_file():
        return []
    text = results.read_text()
    return [m.group(0) for m in re.finditer(r"<!-- (\w+):start -->.*?<!-- \1:end -->", text, re.S)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perf/collect_results.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT, help="benchmark outputs (default: %(default)s)")
    parser.add_argument("--results", type=Path, default=ROOT / "perf" / "RESULTS.md")
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    lines = ["# Performance results", "",
             f"Latest run: {datetime.date.today().isoformat()}, commit `{commit}`. Produced by `make perf` "
             "(the benchmarks below, then this file by `perf/collect_results.py`). The machine and the load average "
             "beside each measurement are in each section: on a shared machine the timings are noisy, so run "
             "`make perf` again on a quiet one before reading small differences.", "",
             "## Targets", ""]
    reports = {name: json.loads((args.out / f"bench_pipeline_{name}.json").read_text())
               for name in ("tiny", "offline", "full") if (args.out / f"bench_pipeline_{name}.json").is_file()}
    if "tiny" in reports:
        lines += [step_target(reports["tiny"]), latency_target(reports["tiny"]), hops_target(reports["tiny"])]
    else:
        lines.append("- tiny-set targets: no run in this output (`perf/bench_pipeline.py --standins tiny`)")
    if "offline" in reports:
        lines += [hops_target(reports["offline"]), throughput_target(reports["offline"]), step_target(reports["offline"])]
    else:
        lines.append("- offline-set targets: no run in this output (`perf/bench_pipeline.py --models offline`)")
    lines += [line for line in (faceless_line(r) for r in reports.values()) if line]
    transport = args.out / "bench_transport.md"
    if transport.is_file():
        lines += transport_target(transport.read_text())
    lines += ["", "`perf/README.md` says why the targets that are not met are not, stage by stage.", ""]
    for name in SECTIONS:
        path = args.out / name
        if path.is_file():
            lines += [re.sub(r"^# ", "## ", path.read_text(), flags=re.M).rstrip(), ""]
    lines += [*kept_sections(args.results), ""]
    args.results.write_text("\n".join(lines))
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
