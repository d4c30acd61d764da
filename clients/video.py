"""Annotate videos with the gazesam service: one output frame per input frame, each video its own stream.

    python clients/video.py --video A.mp4 [--video B.mp4 ...] [--output-dir output] [--url 127.0.0.1:8001]

Each video is one stream on the server (a Triton sequence): its frames are sent one at a time, in order,
the first with the stream's start flag and the last with its end flag (the reader reads one frame ahead to
know it). FRAME_TIME is the frame's position in the video, frame index / fps: exact for constant-rate
video and the same on every run, whereas CAP_PROP_POS_MSEC depends on the container and backend.
Several videos run concurrently, one worker each (at most --parallel, which is capped at the server's
stream limit); reading and drawing/encoding run on their own threads beside the requests. Each video
gets ``<output-dir>/<name>_gazesam.mp4`` with its input's frame count, size and fps, a progress bar and
a summary; several videos also get totals. ``--results-json`` adds ``<name>_gazesam.json`` with every
frame's result.

Server trouble: a request that gets no answer (server down or restarting) is retried with exponential
back-off (--retries, --retry-max-wait) on a new connection, and the stream is started again on the
server, which the summary counts. A frame the server refuses, or one that runs out of retries, is written
unannotated and counted as failed; the output keeps its input's frame count either way.
Start the server first (``python -m gazesam_triton.serve``).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from clients import exit_status
from clients.annotation import annotate, result_record
from clients.backoff import Backoff
from clients.exit_status import ExitStatus
from clients.frame_reader import FrameReader, frames_with_last_flag
from clients.video_source import VideoInfo, VideoSourceError, open_video
from clients.gazesam_client import GazeSamClient, ServedModels
from clients.notices import notice
from clients.run_summary import RunSummary
from clients.server_options import (
    ServerNotReady, add_server_arguments, backoff_from, check_server, client_factory,
)
from clients.stream_loop import StreamFrame, send_stream
from clients.stream_sender import SendOutcome, StreamSender
from clients.video_writer import BackgroundVideoWriter, VideoOutputError
from gazesam.contracts import MAX_FRAME_SIDE, MIN_FRAME_SIDE
from gazesam.frame_check import FrameError, check_frame_size


class VideoInputError(RuntimeError):
    """A video cannot be used as input (missing, unreadable, or its output would clash with another's)."""


@dataclass(frozen=True)
class VideoJob:
    """One input video and where its annotated copy (and optional per-frame results) go."""

    source: Path
    output: Path
    results_json: Path | None


@dataclass(frozen=True)
class StreamOptions:
    """What every video's worker shares."""

    connect: Callable[[int], GazeSamClient]  # connect(stream_id): a new client; each worker thread opens its own
    backoff: Backoff
    served: ServedModels
    max_frames: int  # 0: every frame
    slot_wait_s: float  # how long a stream waits for a slot on a full server


def check_frame_size_of(video: Path, info: VideoInfo) -> None:
    """VideoInputError when the server would refuse every frame of ``video`` (a side out of its range)."""
    width, height = info.size
    try:
        check_frame_size(height, width)
    except FrameError:
        raise VideoInputError(f"{video} is {width}x{height} (width x height); the server takes frames with both "
                              f"sides from {MIN_FRAME_SIDE} to {MAX_FRAME_SIDE} pixels") from None


def plan_jobs(videos: list[Path], output_dir: Path, results_json: bool) -> list[VideoJob]:
    """One job per video; every video must be a readable file and every output name distinct."""
    jobs, outputs = [], {}
    for video in videos:
        try:
            capture, info = open_video(video)
        except VideoSourceError as exc:
            raise VideoInputError(str(exc)) from None
        capture.release()
        check_frame_size_of(video, info)
        output = output_dir / f"{video.stem}_gazesam.mp4"
        if output in outputs:
            raise VideoInputError(f"{video} and {outputs[output]} would both write {output}; rename one")
        outputs[output] = video
        jobs.append(VideoJob(video, output, output.with_suffix(".json") if results_json else None))
    return jobs


def process_video(job: VideoJob, options: StreamOptions, position: int, stop: threading.Event) -> RunSummary:
    """Send ``job``'s frames as one stream and write every frame, annotated or not, to its output."""
    capture, info = open_video(job.source)
    reader = FrameReader(capture, options.max_frames).start()
    total = min(info.frame_count, options.max_frames) if options.max_frames else info.frame_count
    name = job.source.name
    sender = StreamSender(options.connect, options.backoff, on_event=lambda m: notice(f"{name}: {m}"),
                          slot_wait_s=options.slot_wait_s)
    summary, records = RunSummary(), []
    started = time.perf_counter()
    writer = None
    try:
        writer = BackgroundVideoWriter(job.output, info.fps, info.size)
        if writer.output_size != info.size:
            notice(f"{name}: {info.size[0]}x{info.size[1]} has an odd side and MPEG-4 needs even ones: "
                   f"{job.output.name} is {writer.output_size[0]}x{writer.output_size[1]} (last column/row repeated)")
        frames = (StreamFrame(captured.image, index / info.fps, last)
                  for index, captured, last in frames_with_last_flag(reader))

        def use(frame: StreamFrame, outcome: SendOutcome) -> None:
            writer.put(functools.partial(annotate, frame.image, outcome.result, options.served))
            if job.results_json:
                records.append(result_record(len(records), frame.time_s, outcome))

        with tqdm(total=total or None, unit="frame", desc=name, position=position, leave=True) as bar:
            send_stream(frames, sender, summary, name, stop, use, bar, stop_reason="interrupted")
        if not stop.is_set() and info.frame_count and summary.frames < total:
            summary.stopped_because = (f"the video ended after {summary.frames} of the {total} frames its "
                                       "container states (truncated or damaged?)")
            notice(f"{name}: {summary.stopped_because}")
    finally:
        sender.close()
        if reader.stop():
            capture.release()
        if writer is not None:
            writer.close()  # finalises the file: complete and playable whatever stopped us
    summary.server = sender.stats
    summary.wall_s = time.perf_counter() - started
    if job.results_json:
        write_results_json(job, info, writer.output_size, sender.stream_id, records, summary, options.served)
    return summary


def write_results_json(job: VideoJob, info: VideoInfo, output_size: tuple[int, int], stream_id: int,
                       records: list[dict], summary: RunSummary, served: ServedModels) -> None:
    document = {
        "stand_in_models": served.banner,  # None only when every network runs real weights
        "models": served.to_json(),
        "video": str(job.source),
        "output": str(job.output),
        "fps": info.fps,
        "size": list(info.size),  # the input's width, height; the frame results are in its pixels
        "output_size": list(output_size),  # the output video's (even sides: an odd one is padded by a pixel)
        "stream_id": stream_id,
        "frame_time": "frame index / fps, seconds",
        "frames": records,
        "summary": summary.as_dict(),
    }
    job.results_json.write_text(json.dumps(document, indent=1) + "\n")


def run_videos(jobs: list[VideoJob], options: StreamOptions,
               parallel: int) -> tuple[list[tuple[VideoJob, RunSummary]], list[str], bool]:
    """Every job, ``parallel`` at a time: (each finished job with its summary, one error line per job that
    could not run, whether Ctrl+C stopped them). One video's failure never discards the others' results."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="video") as pool:
        futures = [pool.submit(process_video, job, options, i, stop) for i, job in enumerate(jobs)]
        try:
            while not all(f.done() for f in futures):
                time.sleep(0.2)  # a wait the main thread can leave on Ctrl+C
        except KeyboardInterrupt:
            stop.set()
            for future in futures:
                future.cancel()
            notice("interrupted: finishing the files written so far")
        done, errors = [], []
        for job, future in zip(jobs, futures):
            if future.cancelled():
                continue
            if isinstance(future.exception(), (VideoInputError, VideoOutputError)):
                errors.append(f"{job.source}: {future.exception()}")
            else:
                done.append((job, future.result()))
    return done, errors, stop.is_set()


def report(done: list[tuple[VideoJob, RunSummary]], wall_s: float) -> None:
    """One summary per video, then the totals when there are several."""
    for job, summary in done:
        print(f"wrote {job.output}" + (f" and {job.results_json}" if job.results_json else ""))
        for line in summary.lines():
            print(f"  {line}")
    if len(done) > 1:
        print(f"total over {len(done)} videos:")
        for line in RunSummary.combine([summary for _, summary in done], wall_s).lines():
            print(f"  {line}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clients/video.py", description=__doc__, epilog=exit_status.HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", required=True, type=Path, action="append", metavar="FILE",
                        help="input video file; repeat for several videos, processed concurrently")
    parser.add_argument("--output-dir", type=Path, default=Path("output"), help="default: %(default)s")
    parser.add_argument("--results-json", action="store_true",
                        help="also write <output-dir>/<name>_gazesam.json: every frame's result (status, boxes, "
                             "class, scores, track ID, gaze, a SHA-256 of the mask) and the summary")
    parser.add_argument("--max-frames", type=int, default=0, metavar="N",
                        help="process only the first N frames of each video (default: all)")
    parser.add_argument("--parallel", type=int, default=0, metavar="N",
                        help="videos processed at once (default: all of them, at most the streams the server "
                             "runs at once, which it states)")
    add_server_arguments(parser, timeout_s=120.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        backoff = backoff_from(args)
        if args.max_frames < 0 or args.parallel < 0:
            raise ValueError("--max-frames and --parallel must be >= 0")
        jobs = plan_jobs(args.video, args.output_dir, args.results_json)
    except (ValueError, VideoInputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    try:
        served = check_server(args)
    except ServerNotReady as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.SERVER_NOT_READY
    if served.max_streams and args.parallel > served.max_streams:
        print(f"error: --parallel {args.parallel} is more than the {served.max_streams} streams the server runs at "
              "once", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    print(served.caption())
    if served.banner:
        print(f"WARNING: {served.banner}")
    options = StreamOptions(client_factory(args), backoff, served, args.max_frames, args.slot_wait)
    started = time.perf_counter()
    done, errors, interrupted = run_videos(jobs, options, args.parallel or min(len(jobs), served.max_streams or len(jobs)))
    report(done, time.perf_counter() - started)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if interrupted:
        return ExitStatus.INTERRUPTED
    if errors:
        return ExitStatus.BAD_INPUT
    incomplete = any(summary.failed or summary.stopped_because for _, summary in done)
    return ExitStatus.UNANNOTATED if incomplete else ExitStatus.OK


if __name__ == "__main__":
    sys.exit(main())
