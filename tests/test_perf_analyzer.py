"""perf_analyzer, installed by perf/install_perf_analyzer.py, drives the real gazesam ensemble on a real server.

The installer runs here (idempotent; a few seconds the first time): a failed install fails these tests,
it never skips them. The input-data tests read the project's real videos (../shared).
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from gazesam.contracts import ENSEMBLE
from gazesam.graph import pipeline_graph
from gazesam.pipeline import repository_model_set
from perf.install_perf_analyzer import (EXPECTED_VERSION_LINE, InstallError, install, launcher_path,
                                        version_line)
from perf.model_stats import snapshot_difference, snapshot_from_json
from perf.perf_input_data import (StreamFrame, decode_step, downscaled, input_data_document, read_stream,
                                  write_input_data)
from perf.run_perf_analyzer import main as run_sweep

from real_media import video_frame
from conftest import STANDIN_REPOSITORY, shared_path

VIDEOS = ("father_daughter_toys.mp4", "woman_cup_shelf.mp4")


@pytest.fixture(scope="session")
def perf_analyzer() -> Path:
    try:
        return install(log=lambda *_: None)
    except InstallError as error:
        pytest.fail(f"perf_analyzer could not be installed (perf/install_perf_analyzer.py): {error}")


def test_installed_launcher_starts_and_reports_the_server_release(perf_analyzer):
    assert perf_analyzer == launcher_path()
    assert version_line(perf_analyzer).startswith(EXPECTED_VERSION_LINE)
    # Without the launcher's libraries the wheel's binary cannot start: the launcher is what makes it work.
    help_text = subprocess.run([str(perf_analyzer), "-h"], capture_output=True, text=True, timeout=60)
    assert "--sequence-id-range" in help_text.stdout + help_text.stderr


def test_installer_is_idempotent(perf_analyzer):
    messages = []
    assert install(log=messages.append) == perf_analyzer
    assert messages and "already installed" in messages[0]


def test_input_data_holds_one_stream_of_real_frames_per_video(tmp_path):
    videos = [shared_path("media", "videos", name) for name in VIDEOS]
    written = write_input_data(tmp_path / "input.json", videos, frames=3, stride=4, start=10, max_side=160)
    streams = json.loads((tmp_path / "input.json").read_text())["data"]
    assert written["streams"] == len(streams) == 2
    for video, stream in zip(VIDEOS, streams):
        assert len(stream) == 3
        steps = [decode_step(entry) for entry in stream]
        fps = cv2.VideoCapture(str(shared_path("media", "videos", video))).get(cv2.CAP_PROP_FPS)
        for step, index in zip(steps, (10, 14, 18)):
            expected = downscaled(video_frame(video, index), 160)
            assert step.frame.shape == (90, 160, 3)
            np.testing.assert_array_equal(step.frame, expected)
            assert step.time_s == pytest.approx(index / fps)
        for entry, step in zip(stream, steps):
            assert entry["FRAME"]["shape"] == list(step.frame.shape)


def test_input_data_rejects_what_perf_analyzer_cannot_play_in_order(tmp_path):
    frame = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(ValueError, match="increase"):
        input_data_document([[StreamFrame(frame, 0.2), StreamFrame(frame, 0.1)]])
    with pytest.raises(ValueError, match="ends before"):
        read_stream(shared_path("media", "videos", VIDEOS[0]), frames=10_000)
    with pytest.raises(ValueError, match="no such video"):
        read_stream(tmp_path / "missing.mp4", frames=1)


def test_statistics_difference_reads_grpc_and_http_spellings():
    # gRPC's JSON spells int64 as strings and omits zero counters; HTTP gives numbers and zeros.
    grpc_before = {"model_stats": [{"name": "m", "version": "1", "inference_count": "4", "execution_count": "4",
                                    "inference_stats": {"success": {"count": "4", "ns": "4000000"},
                                                        "queue": {"count": "4", "ns": "400000"}}}]}
    http_after = {"model_stats": [{"name": "m", "version": "1", "inference_count": 10, "execution_count": 9,
                                   "inference_stats": {"success": {"count": 10, "ns": 16000000},
                                                       "fail": {"count": 1, "ns": 5},
                                                       "queue": {"count": 10, "ns": 1600000},
                                                       "compute_infer": {"count": 10, "ns": 9000000}}}]}
    difference = snapshot_difference(snapshot_from_json(grpc_before), snapshot_from_json(http_after))["m"]
    assert (difference.success_count, difference.fail_count, difference.execution_count) == (6, 1, 5)
    assert difference.mean_us("success") == pytest.approx(2000.0)
    assert difference.mean_us("queue") == pytest.approx(200.0)
    assert difference.mean_us("compute_infer") == pytest.approx(1500.0)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.e2e
def test_sweep_measures_the_ensemble_and_every_composing_model(perf_analyzer, server, tmp_path):
    out = tmp_path / "out"
    code = run_sweep(["--url", server.grpc_url, "--perf-analyzer", str(perf_analyzer), "--concurrency", "1,2",
                      "--request-count", "6", "--frames", "3", "--max-side", "160", "--output-dir", str(out),
                      "--timeout", "240"])
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(out.glob("pa_c*.log")))
    assert code == 0, logs

    sweep = read_csv(out / "perf_analyzer.csv")
    assert [row["Concurrency"] for row in sweep] == ["1", "2"]
    for row in sweep:
        assert float(row["Inferences/Second"]) > 0
        assert 0 < float(row["p50 latency"]) <= float(row["p99 latency"])

    models = read_csv(out / "composing_models.csv")
    composing = {node.model for node in pipeline_graph(repository_model_set(STANDIN_REPOSITORY))}  # the served set
    for concurrency in ("1", "2"):
        rows = {row["model"]: row for row in models if row["concurrency"] == concurrency}
        assert set(rows) == composing | {ENSEMBLE.key}
        frames = int(rows[ENSEMBLE.key]["requests"])
        # 6 measured requests, plus at most the rest of each open sequence that perf_analyzer ends on exit;
        # nothing from the warm-up run or the other level.
        assert 6 <= frames <= 6 + int(concurrency) * 3, logs
        for name, row in rows.items():
            # Every frame passes through every step exactly once, and none fails.
            assert int(row["requests"]) == frames, (name, row)
            assert int(row["failed"]) == 0, (name, row)
            assert float(row["mean_server_ms"]) > 0, (name, row)

    summary = (out / "summary.md").read_text()
    assert "### concurrency 1" in summary and "### concurrency 2" in summary
    assert all(f"| {name} |" in summary for name in composing)


def test_sweep_reports_an_unreachable_server_clearly(perf_analyzer, tmp_path, capsys):
    code = run_sweep(["--url", "127.0.0.1:1", "--perf-analyzer", str(perf_analyzer), "--frames", "2",
                      "--max-side", "64", "--output-dir", str(tmp_path)])
    assert code == 2
    assert "error:" in capsys.readouterr().err
