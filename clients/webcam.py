"""Live gaze-guided segmentation from one or more cameras through the gazesam service.

    python clients/webcam.py [--camera 0] [--camera 1] [--source /dev/video2] [--record cam0.mp4 ...]

Each camera is one stream on the server (a Triton sequence): its frames are sent one at a time, in
order, the first with the stream's start flag; FRAME_TIME is the frame's capture time on the monotonic
clock, in seconds since the stream's first frame. Several cameras run concurrently, one worker each.
``--source`` takes a device path, a video file or a URL instead of an index (a file plays as a camera
would, as fast as it is processed).

Shows a window per camera when a display and a GUI-enabled OpenCV exist (q or Esc quits); otherwise
records each annotated stream to a file (Ctrl+C stops): ``--record`` once per camera, in order, or by
default ``output/webcam_<camera>.mp4``. The default install has headless OpenCV, so it records;
``pip install opencv-python==4.11.0.86`` in place of the headless wheel gives the windows.

A camera that delivers no frame for --stall-timeout seconds (unplugged, a file at its end) is reported
and stopped; its recording is finalised and playable. When a stream stops, its last frame is sent once
more with the end flag so the server frees the stream's slot at once; if that cannot reach the server,
the server drops the stream when it has been silent past its lease (serving.toml [streams]). Server
trouble is handled as in clients/video.py (retries with back-off, the stream started again, frames
without an answer recorded unannotated and counted).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from clients import exit_status
from clients.annotation import annotate
from clients.backoff import Backoff
from clients.exit_status import ExitStatus
from clients.frame_reader import CapturedFrame, FrameReader, SourceStalled
from clients.video_source import capture_fps
from clients.gazesam_client import GazeSamClient, ServedModels
from clients.notices import notice
from clients.run_summary import RunSummary
from clients.server_options import (
    ServerNotReady, add_server_arguments, backoff_from, check_server, client_factory,
)
from clients.stream_loop import StreamFrame, send_stream
from clients.stream_sender import SendOutcome, StreamSender
from clients.video_writer import BackgroundVideoWriter, VideoOutputError

QUIT_KEYS = {ord("q"), 27}
DEFAULT_RECORD_DIR = Path("output")
_DEFAULT_FPS = 30.0


class CameraError(RuntimeError):
    """A camera cannot be opened, or the options for the cameras do not fit together."""


def display_available() -> bool:
    """True when a window can be shown: a display is set and OpenCV was built with a GUI."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    gui = [line for line in cv2.getBuildInformation().splitlines() if "GUI:" in line]
    return bool(gui) and "NONE" not in gui[0].upper()


@dataclass(frozen=True)
class CameraJob:
    """One camera (an index, or a device path / file / URL) and where its annotated stream is recorded."""

    source: int | str
    record: Path | None

    @property
    def label(self) -> str:
        return f"camera {self.source}" if isinstance(self.source, int) else str(self.source)

    @property
    def slug(self) -> str:
        return f"camera{self.source}" if isinstance(self.source, int) else Path(str(self.source)).stem

    @property
    def is_file(self) -> bool:
        """A video file played as a camera: its end is the normal end of the stream, not a stall."""
        return isinstance(self.source, str) and Path(self.source).is_file()


@dataclass(frozen=True)
class CameraOptions:
    connect: Callable[[int], GazeSamClient]  # connect(stream_id): a new client; each worker thread opens its own
    backoff: Backoff
    served: ServedModels
    max_frames: int  # 0: no limit
    stall_timeout_s: float
    slot_wait_s: float  # how long a camera's stream waits for a slot on a full server


def plan_jobs(sources: list[int | str], records: list[Path] | None, show: bool) -> list[CameraJob]:
    """One job per source; ``records`` is empty or one path per source (default without a display)."""
    if records and len(records) != len(sources):
        raise CameraError(f"give --record once per camera ({len(sources)}), or not at all; got {len(records)}")
    if len(set(sources)) != len(sources):
        raise CameraError("a camera is given twice")
    jobs = []
    for i, source in enumerate(sources):
        record = records[i] if records else None
        jobs.append(CameraJob(source, record))
    if not show and not records:
        jobs = [CameraJob(j.source, DEFAULT_RECORD_DIR / f"webcam_{j.slug}.mp4") for j in jobs]
    paths = [j.record for j in jobs if j.record is not None]
    missing = [str(p) for p in (records or []) if not p.parent.is_dir()]
    if missing:
        raise CameraError(f"--record {missing[0]}: its folder does not exist (create it first; only the default "
                          f"{DEFAULT_RECORD_DIR}/ is created)")
    if len(set(paths)) != len(paths):
        raise CameraError(f"two cameras would record to the same file: {[str(p) for p in paths]}")
    return jobs


def open_cameras(jobs: list[CameraJob]) -> list[cv2.VideoCapture]:
    """Every job's capture, opened; CameraError (and nothing left open) when one cannot be."""
    captures = []
    for job in jobs:
        capture = cv2.VideoCapture(job.source)
        if not capture.isOpened():
            for opened in captures:
                opened.release()
            raise CameraError(f"cannot open {job.label} (is it connected, and is it free?)")
        captures.append(capture)
    return captures


class CameraStream:
    """One camera's worker: capture, server, overlay, recording; ``latest`` is the last annotated frame."""

    def __init__(self, job: CameraJob, capture: cv2.VideoCapture, options: CameraOptions, stop: threading.Event):
        self.job, self.options, self.stop = job, options, stop
        self.latest: np.ndarray | None = None
        self.summary = RunSummary()
        self._capture = capture
        self._fps = capture_fps(capture, _DEFAULT_FPS)
        self._writer: BackgroundVideoWriter | None = None

    def run(self, position: int) -> RunSummary:
        options, label = self.options, self.job.label
        stall_s = 0.0 if self.job.is_file else options.stall_timeout_s  # a file's failed read is its end
        reader = FrameReader(self._capture, options.max_frames, stall_s, queue_size=2).start()
        sender = StreamSender(options.connect, options.backoff, on_event=lambda m: notice(f"{label}: {m}"),
                              slot_wait_s=options.slot_wait_s)
        started = time.perf_counter()
        try:
            with tqdm(unit="frame", desc=label, position=position, leave=True) as bar:
                send_stream(self._frames(reader), sender, self.summary, label, self.stop, self._show_and_record, bar)
        finally:
            sender.close()
            if reader.stop():
                self._capture.release()
            if self._writer is not None:
                self._writer.close()  # finalises the file: complete and playable whatever stopped us
        self.summary.server = sender.stats
        self.summary.wall_s = time.perf_counter() - started
        return self.summary

    def _frames(self, reader: FrameReader) -> Iterator[StreamFrame]:
        """The camera's frames on the stream's clock (seconds since its first), until it stops or --max-frames."""
        first_s, count = None, 0
        while not self.stop.is_set() and (captured := self._next_frame(reader)) is not None:
            first_s = captured.captured_s if first_s is None else first_s
            count += 1
            yield StreamFrame(captured.image, captured.captured_s - first_s, count == self.options.max_frames)

    def _show_and_record(self, frame: StreamFrame, outcome: SendOutcome) -> None:
        shown = annotate(frame.image, outcome.result, self.options.served)
        if self.job.record is not None:
            self._writer = self._writer or BackgroundVideoWriter(self.job.record, self._fps, shown.shape[1::-1])
            self._writer.put(lambda: shown)
        self.latest = shown

    def _next_frame(self, reader: FrameReader) -> CapturedFrame | None:
        """The next captured frame, or None when the camera has stopped (noted in the summary) or hit max."""
        stall_s = self.options.stall_timeout_s
        try:
            captured = reader.next(timeout=stall_s + 1.0)  # + 1: let the reader's own stall check speak first
        except SourceStalled:
            captured = None
            self.summary.stopped_because = f"{self.job.label} delivered no frame for {stall_s:g} s (read() hangs)"
        if captured is None and reader.read_failed and self.job.is_file:
            notice(f"{self.job.label}: end of the file")
            return None
        if captured is None and reader.read_failed:
            self.summary.stopped_because = f"{self.job.label} delivered no frame for {stall_s:g} s"
        if self.summary.stopped_because:
            notice(f"{self.summary.stopped_because}; stopping it")
        return captured


def show_until_done(streams: list[CameraStream], futures: list[Future], stop: threading.Event, show: bool) -> None:
    """Show each camera's latest frame (when ``show``) until every worker ends; q, Esc or Ctrl+C stop them."""
    try:
        while not all(f.done() for f in futures):
            if not show:
                time.sleep(0.1)
                continue
            for stream in streams:
                if stream.latest is not None:
                    cv2.imshow(f"gazesam {stream.job.label}", stream.latest)
            if cv2.waitKey(15) & 0xFF in QUIT_KEYS:
                stop.set()
    except KeyboardInterrupt:
        stop.set()
        notice("stopping: finishing the recordings")
    finally:
        if show:
            cv2.destroyAllWindows()


def run_cameras(jobs: list[CameraJob], captures: list[cv2.VideoCapture], options: CameraOptions,
                show: bool) -> list[RunSummary]:
    """Every camera at once, one worker each, until all have stopped; their summaries in order."""
    stop = threading.Event()
    streams = [CameraStream(job, capture, options, stop) for job, capture in zip(jobs, captures)]
    with ThreadPoolExecutor(max_workers=len(streams), thread_name_prefix="camera") as pool:
        futures = [pool.submit(stream.run, i) for i, stream in enumerate(streams)]
        show_until_done(streams, futures, stop, show)
        return [f.result() for f in futures]


def report(jobs: list[CameraJob], summaries: list[RunSummary]) -> None:
    for job, summary in zip(jobs, summaries):
        recorded = f" wrote {job.record}" if job.record and summary.frames else " no frame, nothing recorded"
        print(f"{job.label}:" + (recorded if job.record else ""))
        for line in summary.lines():
            print(f"  {line}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clients/webcam.py", description=__doc__, epilog=exit_status.HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--camera", type=int, action="append", dest="sources", metavar="INDEX",
                        help="camera index (default: 0); repeat for several cameras")
    parser.add_argument("--source", action="append", dest="sources", metavar="PATH",
                        help="a camera by device path (/dev/video2), a video file or a stream URL; repeatable")
    parser.add_argument("--record", type=Path, action="append", metavar="FILE",
                        help="record the annotated stream here; once per camera, in the order given "
                             f"(default without a display: {DEFAULT_RECORD_DIR}/webcam_<camera>.mp4)")
    parser.add_argument("--max-frames", type=int, default=0, help="stop each camera after N frames (0 = no limit)")
    parser.add_argument("--stall-timeout", type=float, default=5.0,
                        help="stop a camera that delivers no frame for this many seconds (default: %(default)s)")
    add_server_arguments(parser, timeout_s=30.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sources = args.sources or [0]
    show = display_available()
    try:
        backoff = backoff_from(args)
        if args.max_frames < 0 or not args.stall_timeout > 0:
            raise ValueError("--max-frames must be >= 0 and --stall-timeout > 0")
        jobs = plan_jobs(sources, args.record, show)
    except (ValueError, CameraError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    try:
        served = check_server(args)
        print(served.caption())
    except ServerNotReady as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.SERVER_NOT_READY
    if served.max_streams and len(sources) > served.max_streams:
        print(f"error: {len(sources)} cameras are more than the {served.max_streams} streams the server runs at once",
              file=sys.stderr)
        return ExitStatus.BAD_INPUT
    try:
        captures = open_cameras(jobs)
    except CameraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    options = CameraOptions(client_factory(args), backoff, served, args.max_frames, args.stall_timeout, args.slot_wait)
    try:
        summaries = run_cameras(jobs, captures, options, show)
    except VideoOutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    report(jobs, summaries)
    if any(s.stopped_because for s in summaries):
        return ExitStatus.SOURCE_STOPPED
    return ExitStatus.UNANNOTATED if any(s.failed for s in summaries) else ExitStatus.OK

if __name__ == "__main__":
    sys.exit(main())
