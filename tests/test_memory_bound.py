"""Memory is bounded by the documented frame limit, not by the largest request ever sent: after a refused
300 MB and a refused 900 MB frame, the server's memory (the launcher, tritonserver and every stub) and its
/dev/shm regions are back within 10% of their level after warm-up, and the server still serves.

Each stub's shared-memory pool cannot grow past the launcher's file-size bound (four largest frames), so
such a frame is refused before it reaches a stub; tritonserver returns the gRPC buffers it received.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam.contracts import ENSEMBLE_NAME
from gazesam_triton.process_memory import tree_memory
from gazesam_triton.server_leftovers import SHM_DIR, region_prefix
from gazesam_triton.server_process import TritonProcess

from conftest import STANDIN_REPOSITORY, generated

pytestmark = pytest.mark.e2e

MAX_GROWTH = 0.10
SETTLE_S = 3.0
MIB = 2**20


def shm_bytes(server: TritonProcess) -> int:
    """Bytes the server's /dev/shm regions occupy (allocated blocks, not their nominal size)."""
    return sum(p.stat().st_blocks * 512 for p in SHM_DIR.glob(f"{region_prefix(server.grpc_port)}*"))


def huge_frame(server: TritonProcess, side: int) -> str:
    """Send one ``side`` x ``side`` x 3 frame (far over the limit) as a new stream; the server's answer."""
    frame = grpcclient.InferInput("FRAME", [side, side, 3], "UINT8")
    frame.set_data_from_numpy(np.zeros((side, side, 3), np.uint8))
    frame_time = grpcclient.InferInput("FRAME_TIME", [1], "FP64")
    frame_time.set_data_from_numpy(np.zeros(1))
    with pytest.raises(InferenceServerException) as refused:
        grpcclient.InferenceServerClient(server.grpc_url).infer(
            ENSEMBLE_NAME, [frame, frame_time], sequence_id=new_stream_id(), sequence_start=True, sequence_end=True,
            client_timeout=120)
    return refused.value.message()


def test_refused_huge_frames_leave_no_memory_behind(tmp_path):
    with TritonProcess(generated(STANDIN_REPOSITORY), tmp_path / "serve.log") as server:
        client = GazeSamClient(server.grpc_url, "grpc", timeout_s=60)
        good, stream = np.full((240, 320, 3), 90, np.uint8), new_stream_id()
        for i in range(20):
            client.infer(good, i / 30, stream, start=i == 0)
        time.sleep(SETTLE_S)
        warm_rss, warm_shm = tree_memory(server.process.pid).rss_bytes, shm_bytes(server)
        rows = [f"after warm-up: server RSS {warm_rss / MIB:.0f} MiB, /dev/shm {warm_shm / MIB:.0f} MiB"]
        for side, label in ((10_000, "300 MB"), (17_320, "900 MB")):
            answer = huge_frame(server, side)
            time.sleep(SETTLE_S)
            rss, shm = tree_memory(server.process.pid).rss_bytes, shm_bytes(server)
            rows.append(f"after a refused {label} frame: RSS {rss / MIB:.0f} MiB ({rss / warm_rss - 1:+.1%}), "
                        f"/dev/shm {shm / MIB:.0f} MiB ({shm / warm_shm - 1:+.1%}); answer: {answer[:110]}")
            assert rss < warm_rss * (1 + MAX_GROWTH) and shm < warm_shm * (1 + MAX_GROWTH), "\n".join(rows)
            assert client.infer(good, 1.0, stream, start=True).status is not None  # still serving
        print("\n" + "\n".join(rows))
