"""Concurrency sweep of the ``gazesam`` ensemble with perf_analyzer, plus a per-model server breakdown.

    .venv/bin/python perf/run_perf_analyzer.py                        # everything (what `make perf-analyzer` runs)
    .venv/bin/python perf/run_perf_analyzer.py --url 127.0.0.1:8001   # against a server you started

Steps:
1. perf_analyzer 2.51.0 is installed if needed (perf/install_perf_analyzer.py; idempotent).
2. Input data: one stream per video from real frames (perf/perf_input_data.py), or --input-data.
3. Unless --url is given, a tritonserver is started on free 127.0.0.1 ports serving --model-repository
   (log: OUTPUT_DIR/tritonserver.log) and stopped at the end.
4. A short warm-up run (not reported), then one perf_analyzer run per concurrency level.
   Concurrency N = N streams at once: the ensemble is stateful, so perf_analyzer sends Triton sequences
   (own correlation ID, start/end flags), one frame in flight per stream, each sequence playing one
   input stream from its first frame to its last.
   Triton's statistics are read before and after each run; the difference gives each composing model's
   requests and mean queue / compute input / infer / output time.
5. Written to OUTPUT_DIR: perf_analyzer.csv (perf_analyzer's -f --verbose-csv rows, one per level),
   composing_models.csv (the breakdown), summary.md (both, readable; also printed), and per level
   pa_cN.csv / pa_cN.log (perf_analyzer's own CSV and console output; pa_cN_fixed.* for a fallback).

Measurement: by default perf_analyzer repeats time windows (--measurement-interval) until 3 in a row
agree within --stability-percentage, at most --max-trials. A level that finds no stable measurement
(a busy shared CPU) is measured once over --fallback-requests requests instead, marked so in the
summary. --request-count N measures every level that way (quick, for smoke runs). A level with no
measurement at all is named in the summary and the exit code is 1.
The numbers depend on the machine and its load: on a shared CPU, treat them as indicative.
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm
from tritonclient.utils import InferenceServerException

from gazesam.contracts import ENSEMBLE
from gazesam_triton.server_process import TritonProcess
from perf.install_perf_analyzer import InstallError, install, version_line
from perf.model_stats import snapshot_difference
from perf.perf_input_data import add_input_data_arguments, input_data_from_args
from perf.server_statistics import ServerStatistics
from perf.sweep_report import (SweepPoint, read_pa_csv, summary_markdown, write_models_csv, write_sweep_csv)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT_DIR = ROOT / "perf" / "out"
UNSTABLE_MARKER = "Failed to obtain stable measurement"  # what perf_analyzer prints
UNSTABLE_ERROR = "no stable measurement"


@dataclass(frozen=True)
class Measurement:
    """How perf_analyzer measures one level."""

    mode: str = "time_windows"
    interval_ms: int = 4000
    window_requests: int = 20
    stability_percentage: float = 15.0
    max_trials: int = 6
    request_count: int = 0  # > 0: send this many requests and measure once

    def arguments(self) -> list[str]:
        if self.request_count > 0:
            return [f"--request-count={self.request_count}"]
        window = (f"--measurement-interval={self.interval_ms}" if self.mode == "time_windows"
                  else f"--measurement-request-count={self.window_requests}")
        return [f"--measurement-mode={self.mode}", window, f"--stability-percentage={self.stability_percentage}",
                f"--max-trials={self.max_trials}"]

    def describe(self) -> str:
        if self.request_count > 0:
            return f"{self.request_count} requests per level, measured once (no stability check)"
        window = (f"{self.interval_ms} ms windows" if self.mode == "time_windows"
                  else f"windows of {self.window_requests} requests")
        return (f"{self.mode}: {window} until 3 agree within {self.stability_percentage:g}% "
                f"(at most {self.max_trials} windows)")


@dataclass(frozen=True)
class Target:
    """What every perf_analyzer run of a sweep shares."""

    launcher: Path
    url: str
    protocol: str
    input_data: Path
    output_dir: Path
    timeout_s: float


def perf_analyzer_command(target: Target, concurrency: int, measurement: Measurement, csv_path: Path) -> list[str]:
    # No --sequence-length: a sequence then plays exactly one input stream, so FRAME_TIME only increases.
    # -v logs every measurement window, which shows why a level did not stabilise.
    return [str(target.launcher), "-m", ENSEMBLE.key, "-u", target.url, "-i", target.protocol,
            f"--input-data={target.input_data}", f"--concurrency-range={concurrency}", *measurement.arguments(),
            "-f", str(csv_path), "--verbose-csv", "-v"]


def run_level(target: Target, stats: ServerStatistics, concurrency: int, measurement: Measurement,
              name: str) -> SweepPoint:
    """One perf_analyzer run (files OUTPUT_DIR/NAME.csv and .log) and the server counters it caused."""
    csv_path, log_path = target.output_dir / f"{name}.csv", target.output_dir / f"{name}.log"
    csv_path.unlink(missing_ok=True)
    command = perf_analyzer_command(target, concurrency, measurement, csv_path)
    before = stats.snapshot()
    error = None
    with log_path.open("w") as log:
        log.write(" ".join(command) + "\n\n")
        log.flush()
        try:
            result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=target.timeout_s)
            if result.returncode != 0:
                error = f"perf_analyzer exit {result.returncode} (see {log_path.name})"
        except subprocess.TimeoutExpired:
            error = f"perf_analyzer ran past {target.timeout_s:.0f} s and was stopped (see {log_path.name})"
    after = stats.snapshot()
    rows = read_pa_csv(csv_path)
    if not rows and UNSTABLE_MARKER in log_path.read_text(errors="replace"):
        error = f"{UNSTABLE_ERROR} (see {log_path.name})"
    elif not rows and error is None:
        error = f"perf_analyzer wrote no row (see {log_path.name})"
    return SweepPoint(concurrency, rows[0] if rows else None, snapshot_difference(before, after), error)


def measure_level(target: Target, stats: ServerStatistics, concurrency: int, measurement: Measurement,
                  fallback_requests: int) -> SweepPoint:
    """``run_level``; if it finds no stable measurement, a fixed-count run instead, marked as such."""
    for stale in target.output_dir.glob(f"pa_c{concurrency}_fixed.*"):
        stale.unlink()
    point = run_level(target, stats, concurrency, measurement, f"pa_c{concurrency}")
    unstable = point.pa_row is None and (point.error or "").startswith(UNSTABLE_ERROR)
    if not unstable or measurement.request_count > 0 or fallback_requests <= 0:
        return point
    fixed = run_level(target, stats, concurrency, Measurement(request_count=fallback_requests),
                      f"pa_c{concurrency}_fixed")
    if fixed.pa_row is not None:
        fixed.error = (f"not stable within {measurement.max_trials} windows: {fallback_requests} requests "
                       "measured once instead")
    return fixed


def parse_concurrency(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of integers, got {text!r}") from None
    if not levels or any(level < 1 for level in levels):
        raise argparse.ArgumentTypeError(f"concurrency levels must be >= 1, got {text!r}")
    return levels


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python perf/run_perf_analyzer.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    server = parser.add_argument_group("server")
    server.add_argument("--url", help="HOST:PORT of a running server (its gRPC port, or HTTP with --protocol "
                                      "http); default: start one here")
    server.add_argument("--protocol", choices=("grpc", "http"), default="grpc", help="default: %(default)s")
    server.add_argument("--model-repository", type=Path, default=ROOT / "model_repository",
                        help="repository to serve when no --url is given (default: %(default)s)")
    sweep = parser.add_argument_group("sweep")
    sweep.add_argument("--concurrency", type=parse_concurrency, default=[1, 2, 4],
                       help="comma-separated levels = concurrent streams (default: 1,2,4)")
    sweep.add_argument("--measurement-mode", choices=("time_windows", "count_windows"), default="time_windows",
                       help="perf_analyzer's stabilisation mode (default: %(default)s)")
    sweep.add_argument("--measurement-interval", type=int, default=4000,
                       help="time window in ms for time_windows (default: %(default)s)")
    sweep.add_argument("--measurement-request-count", type=int, default=20,
                       help="requests per window for count_windows (default: %(default)s)")
    sweep.add_argument("--stability-percentage", type=float, default=15.0,
                       help="how far 3 windows may differ to count as stable (default: %(default)s)")
    sweep.add_argument("--max-trials", type=int, default=6, help="most windows per level (default: %(default)s)")
    sweep.add_argument("--request-count", type=int, default=0,
                       help="send this many requests per level and measure once, no stability check "
                            "(default: 0 = use windows)")
    sweep.add_argument("--warmup-requests", type=int, default=20,
                       help="requests sent before the first level, not reported (default: %(default)s)")
    sweep.add_argument("--fallback-requests", type=int, default=100,
                       help="a level with no stable measurement is measured once over this many requests "
                            "instead, and marked so in the summary; 0 = no fallback (default: %(default)s)")
    sweep.add_argument("--timeout", type=float, default=600.0,
                       help="stop a perf_analyzer run after this many seconds (default: %(default)s)")
    add_input_data_arguments(parser).add_argument(
        "--input-data", type=Path, help="use this perf_analyzer JSON instead of making one from --videos")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="default: %(default)s")
    parser.add_argument("--perf-analyzer", type=Path,
                        help="perf_analyzer command (default: install/find .venv/perf_analyzer/bin/perf_analyzer)")
    return parser


def measurement_from_args(args: argparse.Namespace) -> Measurement:
    return Measurement(args.measurement_mode, args.measurement_interval, args.measurement_request_count,
                       args.stability_percentage, args.max_trials, args.request_count)


def prepare_input_data(args: argparse.Namespace) -> tuple[Path, str]:
    if args.input_data:
        if not args.input_data.is_file():
            raise FileNotFoundError(f"--input-data {args.input_data} does not exist")
        return args.input_data, f"{args.input_data} (given)"
    written = input_data_from_args(args, args.output_dir / "input_data.json")
    shapes = ", ".join("×".join(map(str, shape)) for shape in written["frame_shapes"])
    return Path(written["path"]), (f"{written['streams']} streams × {written['frames_per_stream']} frames "
                                   f"({shapes}) from {', '.join(written['videos'])}")


def sweep(args: argparse.Namespace, launcher: Path, url: str, input_data: Path,
          context: list[str]) -> tuple[list[SweepPoint], list[str]]:
    """Run every level against the server at ``url``; adds the server's stand-in networks to ``context``."""
    stats = ServerStatistics(url, args.protocol)
    try:
        if not stats.is_ready(ENSEMBLE.key):
            raise RuntimeError(f"the server at {url} has no ready {ENSEMBLE.key!r} model")
        composing = stats.composing_models(ENSEMBLE.key)
        standins = stats.standin_models(composing)
        if standins:
            context.append("STAND-IN networks (random weights; their compute, not real results): "
                           + ", ".join(f"{model} ({label})" for model, label in standins.items()))
        target = Target(launcher, url, args.protocol, input_data, args.output_dir, args.timeout)
        if args.warmup_requests > 0:  # first requests of a fresh server (sessions, caches) are slow: not measured
            warmup = run_level(target, stats, 1, Measurement(request_count=args.warmup_requests), "pa_warmup")
            if warmup.pa_row is None:
                print(f"warning: the warm-up run failed: {warmup.error}", file=sys.stderr)
        points = [measure_level(target, stats, concurrency, measurement_from_args(args), args.fallback_requests)
                  for concurrency in tqdm(args.concurrency, desc="perf_analyzer sweep", unit="level")]
        return points, composing
    finally:
        stats.close()


def write_results(args: argparse.Namespace, points: list[SweepPoint], composing: list[str],
                  context: list[str]) -> str:
    write_sweep_csv(points, args.output_dir / "perf_analyzer.csv")
    write_models_csv(points, ENSEMBLE.key, composing, args.output_dir / "composing_models.csv")
    summary = summary_markdown(points, ENSEMBLE.key, composing, context)
    (args.output_dir / "summary.md").write_text(summary + "\n")
    return summary


def run(args: argparse.Namespace) -> int:
    args.output_dir.mkdir(parents=True, exist_ok=True)
    launcher = args.perf_analyzer or install()
    input_data, input_description = prepare_input_data(args)
    context = [f"{version_line(launcher)}, protocol {args.protocol}",
               f"input: {input_description}", f"measurement: {measurement_from_args(args).describe()}",
               f"host: {os.cpu_count()} CPU cores; {datetime.datetime.now().isoformat(timespec='seconds')}"]
    if args.url:
        context.insert(0, f"server: {args.url} (given)")
        points, composing = sweep(args, launcher, args.url, input_data, context)
    else:
        if not (args.model_repository / ENSEMBLE.key / "config.pbtxt").is_file():
            raise FileNotFoundError(f"{args.model_repository} holds no {ENSEMBLE.key} ensemble: run 'make setup'")
        print(f"starting tritonserver on {args.model_repository} ...", flush=True)
        with TritonProcess(args.model_repository, args.output_dir / "tritonserver.log") as server:
            url = server.grpc_url if args.protocol == "grpc" else server.http_url
            context.insert(0, f"server: started here on {args.model_repository} ({url})")
            points, composing = sweep(args, launcher, url, input_data, context)
    print(write_results(args, points, composing, context))
    print(f"\nwritten to {args.output_dir}: summary.md, perf_analyzer.csv, composing_models.csv, pa_c*.log")
    failed = [p.concurrency for p in points if p.pa_row is None]
    if failed:
        print(f"error: no measurement at concurrency {failed}; see the pa_c*.log files", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so a server this run started is stopped, not orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(args)
    except (InstallError, InferenceServerException, OSError, RuntimeError, ValueError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
