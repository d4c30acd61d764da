"""``clients/video.py`` against a real tritonserver: each video one stream, several videos at once.

Two real videos processed together give exactly what each gives alone (decoded output frames byte for
byte, and every frame's result in the ``--results-json`` sidecar); outputs keep their input's frame count,
size and fps; every stream ends (its server slot is free afterwards); bad input gets a clear message.
Plus the overlay of a held mask. Needs the generated ``model_repository/`` (``make setup``).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from clients import video
from clients.annotation import NOT_PROCESSED, annotate, status_text
from clients.exit_status import ExitStatus
from clients.gazesam_client import FrameResult, NetworkInfo, ServedModels
from gazesam.contracts import MIN_FRAME_SIDE, Status
from clients.overlay import BANNER_COLOR, MASK_COLOR
from gazesam_triton.server_process import TritonProcess, free_port

from conftest import shared_path
from client_support import (
    assert_every_stream_slot_is_free, decoded_frames, video_properties, write_clip, write_raw_avi,
)
from real_media import video_frame

VIDEOS = ("father_daughter_toys.mp4", "woman_cup_shelf.mp4")
MAX_FRAMES = 30

pytestmark = pytest.mark.e2e


def run_client(server: TritonProcess, videos: list[Path], out_dir: Path, *extra: str, protocol: str = "grpc") -> int:
    url = server.grpc_url if protocol == "grpc" else server.http_url
    args = [a for v in videos for a in ("--video", str(v))]
    return video.main([*args, "--output-dir", str(out_dir), "--url", url, "--protocol", protocol,
                       "--max-frames", str(MAX_FRAMES), "--results-json", *extra])


@pytest.fixture(scope="module")
def alone(server, tmp_path_factory) -> dict[str, Path]:
    """Each real video processed on its own (its first MAX_FRAMES frames); name -> output folder."""
    outputs = {}
    for name in VIDEOS:
        out_dir = tmp_path_factory.mktemp(f"alone_{Path(name).stem}")
        assert run_client(server, [shared_path("media", "videos", name)], out_dir) == ExitStatus.OK
        outputs[name] = out_dir
    return outputs


def results_json(out_dir: Path, name: str) -> dict:
    return json.loads((out_dir / f"{Path(name).stem}_gazesam.json").read_text())


def frame_results(out_dir: Path, name: str) -> list[dict]:
    return results_json(out_dir, name)["frames"]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_two_videos_together_equal_each_alone(server, alone, tmp_path, capsys, protocol):
    videos = [shared_path("media", "videos", name) for name in VIDEOS]
    assert run_client(server, videos, tmp_path, protocol=protocol) == ExitStatus.OK
    printed = capsys.readouterr().out
    for name in VIDEOS:
        together, apart = frame_results(tmp_path, name), frame_results(alone[name], name)
        assert len(together) == MAX_FRAMES and together == apart, f"{name}: per-frame results differ"
        output = f"{Path(name).stem}_gazesam.mp4"
        frames, apart_frames = decoded_frames(tmp_path / output), decoded_frames(alone[name] / output)
        assert len(frames) == MAX_FRAMES == len(apart_frames)
        for i, (a, b) in enumerate(zip(frames, apart_frames)):
            assert np.array_equal(a, b), f"{name}: output frame {i} differs"
        assert [f["index"] for f in together if f["stream_start"]] == [0]  # one stream, started once
        fps = results_json(tmp_path, name)["fps"]
        assert [f["frame_time"] for f in together] == [i / fps for i in range(MAX_FRAMES)]  # index / fps
    statuses = {f["status"] for name in VIDEOS for f in frame_results(tmp_path, name)}
    print(f"{protocol}: statuses seen: {sorted(statuses)}")
    assert statuses & {"OK", "HELD"}, "no frame found a target: the comparison would be too weak"
    assert printed.count("frames: 30 (processed 30, failed 0)") == 2  # one summary per video ...
    assert "total over 2 videos:" in printed and "frames: 60 (processed 60, failed 0)" in printed  # ... and totals


def test_every_stream_ends_and_frees_its_server_slot(server, alone, tmp_path):
    videos = [shared_path("media", "videos", name) for name in VIDEOS]
    assert run_client(server, videos, tmp_path) == ExitStatus.OK
    assert_every_stream_slot_is_free(server.grpc_url)


def test_output_keeps_frame_count_size_and_fps(server, tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    fps, size = write_clip(clip, "woman_cup_shelf.mp4", 12)
    rc = video.main(["--video", str(clip), "--output-dir", str(tmp_path / "out"), "--url", server.grpc_url])
    assert rc == ExitStatus.OK
    count, out_size, out_fps = video_properties(tmp_path / "out" / "clip_gazesam.mp4")
    assert (count, out_size) == (12, size) and out_fps == pytest.approx(fps)
    printed = capsys.readouterr().out
    assert "frames: 12 (processed 12, failed 0)" in printed and "latency ms: p50" in printed
    assert "STAND-IN MODELS" in printed  # offline, gaze/depth/SAM are stand-ins and the client says so


def write_avi(path: Path, size: tuple[int, int], frames: int) -> None:
    """An MJPG AVI of ``frames`` frames of ``size`` (width, height)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, size)
    for i in range(frames):
        writer.write(np.random.default_rng(i).integers(0, 255, (size[1], size[0], 3), np.uint8))
    writer.release()


def test_a_video_the_server_would_refuse_is_rejected_before_any_frame_is_sent(server, tmp_path, capsys):
    clip = tmp_path / "strip.avi"  # 200 wide, 24 high: under contracts.MIN_FRAME_SIDE
    write_avi(clip, (200, MIN_FRAME_SIDE - 8), 3)
    rc = video.main(["--video", str(clip), "--output-dir", str(tmp_path / "out"), "--url", server.grpc_url])
    err = capsys.readouterr().err
    assert rc == ExitStatus.BAD_INPUT and not (tmp_path / "out").exists()
    assert f"is 200x{MIN_FRAME_SIDE - 8} (width x height); the server takes frames with both sides from" in err


def test_an_odd_sized_video_keeps_every_pixel_and_says_so(server, tmp_path, capsys):
    clip = tmp_path / "odd.avi"
    frames = [cv2.resize(video_frame("woman_cup_shelf.mp4", i), (641, 479)) for i in range(4)]
    write_raw_avi(clip, frames)  # OpenCV's writers cannot make one: they crop to even sides
    rc = video.main(["--video", str(clip), "--output-dir", str(tmp_path / "out"), "--url", server.grpc_url,
                     "--results-json"])
    captured = capsys.readouterr()
    assert rc == ExitStatus.OK
    assert "641x479 has an odd side and MPEG-4 needs even ones: odd_gazesam.mp4 is 642x480" in captured.err, captured
    assert video_properties(tmp_path / "out" / "odd_gazesam.mp4")[:2] == (4, (642, 480))
    document = json.loads((tmp_path / "out" / "odd_gazesam.json").read_text())
    assert document["size"] == [641, 479] and document["output_size"] == [642, 480]
    written = decoded_frames(tmp_path / "out" / "odd_gazesam.mp4")[0]
    edge = np.abs(written[:479, 600:641].astype(int) - frames[0][:, 600:641]).mean()  # the right edge is there
    assert edge < 20, f"the output's last columns differ from the input's by {edge:.1f} on average"


def test_a_truncated_video_is_reported_and_not_ok(server, tmp_path, capsys):
    whole, cut = tmp_path / "whole.avi", tmp_path / "cut.avi"
    write_avi(whole, (320, 240), 40)
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # its header still says 40 frames
    rc = video.main(["--video", str(cut), "--output-dir", str(tmp_path / "out"), "--url", server.grpc_url])
    captured = capsys.readouterr()
    assert rc == ExitStatus.UNANNOTATED
    assert "frames its container states (truncated or damaged?)" in captured.err and "stopped early" in captured.out


def test_a_folder_and_a_zero_timeout_are_rejected_clearly(server, tmp_path, capsys):
    assert video.main(["--video", str(tmp_path), "--url", server.grpc_url]) == ExitStatus.BAD_INPUT
    assert "is a folder, not a video file" in capsys.readouterr().err
    clip = tmp_path / "clip.mp4"
    write_clip(clip, "woman_cup_shelf.mp4", 2)
    assert video.main(["--video", str(clip), "--url", server.grpc_url, "--timeout", "0"]) == ExitStatus.BAD_INPUT
    assert "--timeout must be a positive number of seconds" in capsys.readouterr().err


def test_a_missing_file_is_rejected_clearly(server, tmp_path, capsys):
    rc = video.main(["--video", str(tmp_path / "nope.mp4"), "--url", server.grpc_url])
    assert rc == ExitStatus.BAD_INPUT and "no such video" in capsys.readouterr().err


def test_a_file_that_is_not_a_video_is_rejected_clearly(server, tmp_path, capsys):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    rc = video.main(["--video", str(junk), "--url", server.grpc_url, "--output-dir", str(tmp_path)])
    assert rc == ExitStatus.BAD_INPUT and "cannot open video" in capsys.readouterr().err


def test_two_videos_that_would_write_the_same_output_are_rejected(server, tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_clip(tmp_path / "a" / "clip.mp4", "woman_cup_shelf.mp4", 2)
    write_clip(tmp_path / "b" / "clip.mp4", "woman_cup_shelf.mp4", 2)
    rc = video.main(["--video", str(tmp_path / "a" / "clip.mp4"), "--video", str(tmp_path / "b" / "clip.mp4"),
                     "--url", server.grpc_url, "--output-dir", str(tmp_path / "out")])
    assert rc == ExitStatus.BAD_INPUT and "would both write" in capsys.readouterr().err


def test_no_server_is_a_clear_error(tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, "woman_cup_shelf.mp4", 2)
    rc = video.main(["--video", str(clip), "--url", f"127.0.0.1:{free_port()}", "--output-dir", str(tmp_path)])
    assert rc == ExitStatus.SERVER_NOT_READY and "not ready" in capsys.readouterr().err


def _result(status: Status, mask: np.ndarray) -> FrameResult:
    has_target = status in (Status.OK, Status.HELD)
    return FrameResult(
        status=status, mask=mask, target_box=np.array([40, 40, 120, 100], np.float32),
        target_class=41 if has_target else -1, target_score=0.8 if has_target else 0.0,
        face_box=np.array([200, 20, 260, 80], np.float32), face_score=0.9, face_track_id=1,
        gaze_yaw_pitch=np.zeros(2, np.float32), gaze_ray=np.array([230, 50, 150, 20], np.float32),
    )


def test_a_held_mask_is_drawn_and_labelled_held():
    frame = np.zeros((240, 320, 3), np.uint8)
    mask = np.zeros((240, 320), np.uint8)
    mask[50:90, 50:110] = 255
    held = annotate(frame, _result(Status.HELD, mask), None)
    no_target = annotate(frame, _result(Status.NO_TARGET, np.zeros_like(mask)), None)
    np.testing.assert_array_equal(held[70, 80], np.array(MASK_COLOR) // 2)  # the held mask, blended
    assert not no_target[70, 80].any()
    assert status_text(_result(Status.HELD, mask)) == "held"
    assert not np.array_equal(held, annotate(frame, _result(Status.OK, mask), None))  # "held" vs "ok"


def test_the_stand_in_banner_stays_on_every_kind_of_frame():
    frame = np.zeros((240, 320, 3), np.uint8)
    served = ServedModels("standin", {
        "face_detector": NetworkInfo("real", "face: ProxylessGaze face detector"),
        "gaze_estimator": NetworkInfo("stand-in (tiny)", "gaze: L2CS-Net ResNet-50 [STAND-IN]"),
    })
    assert served.standins == ["gaze_estimator"] and "gaze_estimator" in served.banner
    all_real = ServedModels("offline", {"face_detector": NetworkInfo("real", "face: ProxylessGaze face detector")})
    assert all_real.banner is None
    for result in (None, _result(Status.HELD, np.zeros((240, 320), np.uint8))):
        out = annotate(frame, result, served)
        np.testing.assert_array_equal(out[2, 2], BANNER_COLOR)
        assert not np.array_equal(annotate(frame, result, all_real)[2, 2], BANNER_COLOR)  # no stand-in, no banner
    assert NOT_PROCESSED.startswith("not processed")


def test_one_video_that_cannot_be_written_does_not_lose_the_others(server, tmp_path, capsys):
    good, blocked = tmp_path / "good.mp4", tmp_path / "blocked.mp4"
    write_clip(good, "woman_cup_shelf.mp4", 6)
    write_clip(blocked, "father_daughter_toys.mp4", 6)
    out = tmp_path / "out"
    (out / "blocked_gazesam.mp4").mkdir(parents=True)  # a folder where the output file should go
    rc = video.main(["--video", str(good), "--video", str(blocked), "--output-dir", str(out),
                     "--url", server.grpc_url])
    assert rc == ExitStatus.BAD_INPUT
    assert video_properties(out / "good_gazesam.mp4")[0] == 6
    captured = capsys.readouterr()
    assert "blocked.mp4" in captured.err and "wrote " + str(out / "good_gazesam.mp4") in captured.out


class _FakeFpsCapture:
    def __init__(self, fps: float):
        self.fps = fps

    def get(self, prop: int) -> float:
        return self.fps


@pytest.mark.parametrize("reported, expected", [(25.0, 25.0), (0.0, 30.0), (-1.0, 30.0), (float("nan"), 30.0)])
def test_a_source_without_a_frame_rate_gets_the_default(reported, expected):
    from clients.video_source import capture_fps

    assert capture_fps(_FakeFpsCapture(reported), default=30.0) == expected
