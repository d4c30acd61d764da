"""perf/collect_results.py: each target is checked against its limit and names the stage holding it back."""

from __future__ import annotations

from perf.collect_results import hops_target, kept_sections, latency_target, step_target, throughput_target

STEPS = ["frame_check", "face_track", "gaze_fusion", "mask_select"]


def report(serial_ms: float, ensemble_ms: float, serial_fps: float, ensemble_fps: float, step_ms: float) -> dict:
    return {
        "label": "tiny", "frame_hw": [720, 1280], "python_steps": STEPS,
        "model_ms": {"frame_check": step_ms / 4, "face_track": step_ms / 4, "gaze_fusion": step_ms / 2,
                     "mask_select": 0.0, "sam_encoder": 90.0, "face_detector": 10.0},
        "critical_path": [{"model": m, "python_step": m in STEPS} for m in
                          ("frame_check", "face_detector", "face_track", "gaze_fusion", "sam_decoder", "mask_select")],
        "rows": [{"name": "serial, in-process", "fps": serial_fps, "latencies_ms": [serial_ms] * 3},
                 {"name": "ensemble, 1 stream(s)", "fps": ensemble_fps, "latencies_ms": [ensemble_ms, ensemble_ms, 1e6]},
                 {"name": "ensemble, 2 stream(s)", "fps": ensemble_fps / 2, "latencies_ms": [1e6]}],
    }


def test_met_targets_say_so():
    good = report(100, 105, 10, 12, 4.0)
    assert step_target(good).endswith("**met**")
    assert latency_target(good).endswith("**met**") and "1.05x" in latency_target(good)
    assert throughput_target(good).endswith("**met**") and "1.20x" in throughput_target(good)
    assert "4 (target <= 4): **met**" in hops_target(good)
    assert "**frame_check** -> face_detector" in hops_target(good)


def test_missed_targets_name_the_stage_that_holds_them_back():
    bad = report(100, 130, 10, 8, 12.0)
    assert "**not met**; held back by gaze_fusion (6.00 ms)" in step_target(bad)
    assert "**not met**; held back by the Python-backend hops" in latency_target(bad)
    assert "**not met**; held back by sam_encoder (90 ms" in throughput_target(bad)


def test_the_slowest_step_is_split_into_triton_phases_when_measured():
    bad = report(100, 130, 10, 8, 12.0) | {"step_parts_ms": {"gaze_fusion": {"input": 0.5, "infer": 4.0, "output": 1.5}}}
    assert "held back by gaze_fusion (6.00 ms: input 0.50, infer 4.00, output 1.50)" in step_target(bad)


def test_marked_sections_of_the_previous_results_are_kept(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# old\n<!-- accuracy:start -->\n| table |\n<!-- accuracy:end -->\nother text\n")
    assert kept_sections(results) == ["<!-- accuracy:start -->\n| table |\n<!-- accuracy:end -->"]
    assert kept_sections(tmp_path / "missing.md") == []
