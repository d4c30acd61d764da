"""``clients/webcam.py`` against a real tritonserver, with video files standing in for cameras.

A camera that does not exist ends with a clear message and exit status 2; a video file given as
``--source`` ends at its last frame (no stall wait, exit status 0), its stream ended on the server and its
recording complete and playable; several cameras run at once, each its own stream and recording; a
``--record`` path into a folder that does not exist is refused.
Needs the generated ``model_repository/`` (``make setup``).
"""

from __future__ import annotations

import time

import pytest

from clients import webcam
from clients.exit_status import ExitStatus

from client_support import assert_every_stream_slot_is_free, video_properties, write_clip


pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def no_display(monkeypatch):
    """Headless, as in CI: the client records instead of opening windows."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def test_a_camera_that_does_not_exist_says_so(server, capsys):
    assert webcam.main(["--camera", "9", "--url", server.grpc_url]) == ExitStatus.BAD_INPUT
    assert "cannot open camera 9" in capsys.readouterr().err


def test_a_device_path_that_does_not_exist_says_so(server, tmp_path, capsys):
    missing = tmp_path / "video99"
    assert webcam.main(["--source", str(missing), "--url", server.grpc_url]) == ExitStatus.BAD_INPUT
    assert f"cannot open {missing}" in capsys.readouterr().err


def test_a_video_file_source_ends_at_its_last_frame_with_a_playable_recording(server, tmp_path, capsys):
    source = tmp_path / "camera.mp4"
    fps, size = write_clip(source, "father_daughter_toys.mp4", 15)
    record = tmp_path / "recorded.mp4"
    started = time.monotonic()
    rc = webcam.main(["--source", str(source), "--record", str(record), "--stall-timeout", "5",
                      "--url", server.grpc_url])
    captured = capsys.readouterr()
    assert rc == ExitStatus.OK, captured.err
    assert f"{source}: end of the file" in captured.err and "stopped early" not in captured.out
    assert "frames: 15 (processed 15, failed 0)" in captured.out
    assert time.monotonic() - started < 60
    count, recorded_size, recorded_fps = video_properties(record)  # playable: it decodes, every frame
    assert (count, recorded_size) == (15, size) and recorded_fps == pytest.approx(fps)
    assert_every_stream_slot_is_free(server.grpc_url)  # the stream's end reached the server


def test_a_record_path_into_a_missing_folder_is_refused(server, tmp_path, capsys):
    source = tmp_path / "camera.mp4"
    write_clip(source, "father_daughter_toys.mp4", 2)
    record = tmp_path / "no" / "such" / "folder" / "rec.mp4"
    rc = webcam.main(["--source", str(source), "--record", str(record), "--url", server.grpc_url])
    assert rc == ExitStatus.BAD_INPUT and "its folder does not exist" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_several_cameras_each_record_their_own_stream(server, tmp_path, capsys):
    sources = [tmp_path / "left.mp4", tmp_path / "right.mp4"]
    write_clip(sources[0], "father_daughter_toys.mp4", 10)
    write_clip(sources[1], "woman_cup_shelf.mp4", 10)
    records = [tmp_path / "left_rec.mp4", tmp_path / "right_rec.mp4"]
    rc = webcam.main(["--source", str(sources[0]), "--source", str(sources[1]), "--record", str(records[0]),
                      "--record", str(records[1]), "--max-frames", "6", "--url", server.grpc_url])
    printed = capsys.readouterr().out
    assert rc == ExitStatus.OK
    assert printed.count("frames: 6 (processed 6, failed 0)") == 2
    for record in records:
        assert video_properties(record)[0] == 6
    assert_every_stream_slot_is_free(server.grpc_url)  # the 6th frame carried each stream's end


def test_a_record_path_per_camera_or_none(server, tmp_path, capsys):
    source = tmp_path / "camera.mp4"
    write_clip(source, "father_daughter_toys.mp4", 2)
    rc = webcam.main(["--source", str(source), "--camera", "0", "--record", str(tmp_path / "one.mp4"),
                      "--url", server.grpc_url])
    assert rc == ExitStatus.BAD_INPUT and "give --record once per camera" in capsys.readouterr().err
