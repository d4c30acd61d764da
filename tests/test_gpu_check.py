"""perf/gpu_check.py cannot report what it did not measure: its reporting (percentiles, per-stream FPS, the GPU
proof, exit status) is tested on its own, and its CPU mode runs end to end here: one profile failing for a
real reason (PyTorch instances told to run on CUDA on a machine without it refuse to load) still leaves the
skipped profile's reason and the measured profile's numbers printed, and the exit status says it failed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perf.gpu_report import (GpuUse, ProfileResult, StreamRun, adapter_devices, exit_code, failed, gauge_values,
                              pool_fallbacks, skipped)

ROOT = Path(__file__).resolve().parents[1]


def test_stream_run_percentiles_and_per_stream_fps():
    run = StreamRun(2, tuple(i / 100 for i in range(1, 101)), seconds=10.0)  # 100 requests, 10 ms .. 1 s
    assert run.percentile_ms(50) == pytest.approx(505.0) and run.percentile_ms(99) == pytest.approx(990.1)
    assert run.fps_per_stream == pytest.approx(5.0)
    assert "p99" in run.row() and "5.00 fps/stream" in run.row() and "10.00 fps total" in run.row()


def test_gpu_use_needs_evidence_and_pytorch_adapters_on_cuda():
    assert not GpuUse(None, (), (), None, None).proven(expects_adapter_device=False)
    assert GpuUse(0.0, ("tritonserver",), (), 900, 81559).proven(expects_adapter_device=False)
    assert GpuUse(0.31, (), (), 900, 81559).proven(expects_adapter_device=False)
    assert not GpuUse(0.31, ("tritonserver",), ("cuda:0", "cpu"), 900, 81559).proven(expects_adapter_device=True)
    assert GpuUse(0.31, ("tritonserver",), ("cuda:0", "cuda:1"), 900, 81559).proven(expects_adapter_device=True)
    assert "900 of 81559 MiB" in GpuUse(0.31, (), (), 900, 81559).row()


def test_metrics_and_log_parsing():
    text = ('# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)\n'
            'nv_gpu_utilization{gpu_uuid="GPU-1"} 0.42\nnv_gpu_utilization{gpu_uuid="GPU-2"} 0\n'
            'nv_gpu_utilization_other 7\n')
    assert gauge_values(text, "nv_gpu_utilization") == [0.42, 0.0]
    log = ("I1201 sam_encoder: x (PyTorch 2.10.0+cu128 on cuda:1, TF32 on, fp32)\n"
           "I1201 face_detector: y (PyTorch 2.13.0+cpu on cpu, TF32 off, fp32)\n")
    assert adapter_devices(log) == ("cuda:1", "cpu")
    assert pool_fallbacks(log) == 0
    assert pool_fallbacks(log + "W1201 memory.cc:212] Failed to allocate CUDA memory with byte size 78643200 on GPU 0: "
                          "CNMEM_STATUS_OUT_OF_MEMORY, falling back to pinned system memory\n" * 2) == 2


def test_exit_status_never_passes_a_failure_or_an_empty_run():
    ok, skip = ProfileResult("cpu", "ok"), skipped("onnx", "no GPU")
    fail = failed("pytorch", "exited", "I1201 loading\nE1201 12:00 model.cc:1] \"bad model\"\nI1201 unloaded\n")
    assert exit_code([ok, skip]) == 0 and exit_code([ok, fail, skip]) == 1 and exit_code([skip]) == 2
    assert '| E1201 12:00 model.cc:1] "bad model"' in fail.text() and "unloaded" not in fail.text()
    assert "| b" in failed("x", "exited", "a\nb").text() and "no GPU" in skip.text()  # no error line: the tail


@pytest.mark.e2e
def test_cpu_mode_reports_every_profile_even_when_one_fails():
    result = subprocess.run(
        [sys.executable, "perf/gpu_check.py", "--cpu", "--models", "standin", "--frames", "2", "--streams", "1", "2",
         "--profiles", "pytorch", "onnx", "cpu", "--torch-device", "cuda"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr[-3000:]
    pytorch, onnx, cpu = (out[out.index(f"\n{name:9} "):] for name in ("pytorch", "onnx", "cpu"))
    # Triton itself refuses KIND_GPU instances without a GPU (the adapter's own refusal: test_torch_placement)
    assert pytorch.startswith("\npytorch   FAILED") and "KIND_GPU but no GPUs are available" in pytorch
    assert onnx.startswith("\nonnx      skipped") and "--cpu mode" in onnx.splitlines()[2]
    assert cpu.startswith("\ncpu       ok")
    assert "same status on 2/2 frames" in cpu and "mean mask IoU 1.0000" in cpu or "no frame with a mask" in cpu
    assert " 1 streams: p50" in cpu and " 2 streams: p50" in cpu and "p99" in cpu and "fps/stream" in cpu
