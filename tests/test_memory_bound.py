"""Memory is bounded by the documented frame limit, not by the largest request ever sent. Each stub's
shared-memory pool cannot grow past the launcher's file-size bound (four largest frames), so a refused 300 MB
or 900 MB frame never reaches a stub: the stubs' memory and the server's /dev/shm regions stay within 10% of
their level after warm-up (before the fix: +341 MB in frame_check's stub and +1.2 GB of /dev/shm). What is
left is tritonserver itself, which must receive a gRPC message whole before anything can refuse it (Triton
2.51 has no size option for gRPC): under the supervisor's malloc settings it gives the buffers back, so the
whole server's memory returns within 10% too (before the fix: 1.06 GB -> 3.99 GB after a 900 MB body).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from clients.gazesam_client import GazeSamClient, new_stream_id
from gazesam.contracts import ENSEMBLE
from gazesam_triton.process_memory import process_tree, tree_memory
from gazesam_triton.server_leftovers import SHM_DIR, region_prefix
from gazesam_triton.server_process import TritonProcess

from conftest import STANDIN_REPOSITORY, generated

pytestmark = pytest.mark.e2e

MAX_GROWTH = 0.10
SETTLE_S = 3.0
FRAMES_AFTER = 5
MIB = 2**20


def shm_bytes(server: TritonProcess) -> int:
    """Bytes the server's /dev/shm regions occupy (allocated blocks, not their nominal size)."""
    return sum(p.stat().st_blocks * 512 for p in SHM_DIR.glob(f"{region_prefix(server.grpc_port)}*"))


def stubs_rss(server: TritonProcess) -> int:
    """RSS of the Python-backend stubs (tritonserver's descendants)."""
    return sum(tree_memory(pid).rss_bytes for pid in process_tree(server.tritonserver_pid())[1:])


def huge_frame(server: TritonProcess, side: int) -> str:
    """Send one ``side`` x ``side`` x 3 frame (far over the limit) as a new stream; the server's answer."""
    frame = grpcclient.InferInput("FRAME", [side, side, 3], "UINT8")
    frame.set_data_from_numpy(np.zeros((side, side, 3), np.uint8))
    frame_time = grpcclient.InferInput("FRAME_TIME", [1], "FP64")
    frame_time.set_data_from_numpy(np.zeros(1))
    with pytest.raises(InferenceServerException) as refused:
        grpcclient.InferenceServerClient(server.grpc_url).infer(
            ENSEMBLE.key, [frame, frame_time], sequence_id=new_stream_id(), sequence_start=True, sequence_end=True,
            client_timeout=120)
    return refused.value.message()


def test_refused_huge_frames_leave_no_memory_behind(tmp_path):
    with TritonProcess(generated(STANDIN_REPOSITORY), tmp_path / "serve.log") as server:
        client = GazeSamClient(server.grpc_url, "grpc", timeout_s=60)
        good, stream = np.full((240, 320, 3), 90, np.uint8), new_stream_id()
        for i in range(20):
            client.infer(good, i / 30, stream, start=i == 0)
        time.sleep(SETTLE_S)
        warm = (stubs_rss(server), shm_bytes(server), tree_memory(server.tritonserver_pid()).rss_bytes,
                tree_memory(server.process.pid).rss_bytes)
        rows = [f"after warm-up: stubs RSS {warm[0] / MIB:.0f} MiB, /dev/shm {warm[1] / MIB:.0f} MiB, "
                f"whole server {warm[3] / MIB:.0f} MiB"]
        sent = 20
        for side, label in ((10_000, "300 MB"), (17_320, "900 MB")):
            answer = huge_frame(server, side)
            stream = new_stream_id()  # a new stream: sending the huge frame can outlast the last one's lease
            for i in range(FRAMES_AFTER):  # the server goes on serving (glibc trims freed memory as it does)
                client.infer(good, sent / 30, stream, start=i == 0)
                sent += 1
            time.sleep(SETTLE_S)
            stubs, shm = stubs_rss(server), shm_bytes(server)
            server_rss = tree_memory(server.tritonserver_pid()).rss_bytes - stubs
            rows.append(f"after a refused {label} frame and {FRAMES_AFTER} good ones: stubs RSS {stubs / MIB:.0f} MiB "
                        f"({stubs / warm[0] - 1:+.1%}), /dev/shm {shm / MIB:.0f} MiB ({shm / warm[1] - 1:+.1%}), "
                        f"tritonserver {server_rss / MIB:.0f} MiB ({server_rss / (warm[2] - warm[0]) - 1:+.1%}); "
                        f"answer: {answer[:90]}")
            assert stubs < warm[0] * (1 + MAX_GROWTH) and shm < warm[1] * (1 + MAX_GROWTH), "\n".join(rows)
            assert tree_memory(server.process.pid).rss_bytes < warm[3] * (1 + MAX_GROWTH), "\n".join(rows)
            assert "Failed to increase the shared memory pool size" in answer  # refused before the stub
        print("\n" + "\n".join(rows))
