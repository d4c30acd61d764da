"""Assemble ``perf/RESULTS.md`` from the latest benchmark outputs in ``perf/out/``, with the targets checked.

    python perf/collect_results.py          # after `make perf` (or the benchmarks one by one)

Targets (performance issue; 2-core CPU, ``full`` stand-ins, same frames):
  * Triton overhead: the ensemble at concurrency 1 takes at most 1.10x the serial pipeline's time per frame;
  * throughput: the ensemble at its best concurrency delivers at least 1.3x the serial frames per second;
  * transport: shared memory or JPEG cuts the client-side cost of a 1280x720 frame by at least half.
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
SECTIONS = ("bench_pipeline_full.md", "bench_pipeline_tiny.md", "bench_transport.md", "summary.md")


def pipeline_targets(report: dict) -> list[str]:
    rows = {row["name"]: row for row in report["rows"]}
    serial = rows["serial, in-process"]
    ensemble = [row for name, row in rows.items() if name.startswith("ensemble,") and "no face" not in name]
    one = next(row for row in ensemble if row["name"].startswith("ensemble, 1 "))
    best = max(ensemble, key=lambda row: row["fps"])
    overhead = serial["fps"] / one["fps"]
    gain = best["fps"] / serial["fps"]
    return [
        f"- Triton overhead at concurrency 1: {overhead:.2f}x the serial time per frame "
        f"(target <= 1.10x): **{'met' if overhead <= 1.10 else 'not met'}**",
        f"- Throughput at the best concurrency ({best['name']}): {gain:.2f}x the serial frames/s "
        f"(target >= 1.3x): **{'met' if gain >= 1.3 else 'not met'}**",
    ]


def transport_target(markdown: str) -> list[str]:
    ratios = {m.group(1): float(m.group(2)) for m in re.finditer(r"^\| (shm|jpeg[^|]*) \|(?:[^|]*\|){3} ([\d.]+)x", markdown, re.M)}
    return [f"- Client-side cost of a 1280x720 frame, {kind}: {ratio:.2f}x raw gRPC (target <= 0.5x): "
            f"**{'met' if ratio <= 0.5 else 'not met'}**" for kind, ratio in ratios.items()]


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
             "(perf_analyzer sweep, `perf/bench_pipeline.py --standins tiny|full`, `perf/bench_transport.py`, "
             "then this file by `perf/collect_results.py`). The machine is named in each section.", "",
             "## Targets", ""]
    full = args.out / "bench_pipeline_full.json"
    if full.is_file():
        lines += pipeline_targets(json.loads(full.read_text()))
    else:
        lines.append("- pipeline targets: no `full` run in this output (run `perf/bench_pipeline.py --standins full`)")
    transport = args.out / "bench_transport.md"
    if transport.is_file():
        lines += transport_target(transport.read_text())
    lines += ["", "Where a target is not met, `perf/README.md` says which stage holds it back and why.", ""]
    for name in SECTIONS:
        path = args.out / name
        if path.is_file():
            lines += [re.sub(r"^# ", "## ", path.read_text(), flags=re.M).rstrip(), ""]
    args.results.write_text("\n".join(lines))
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
