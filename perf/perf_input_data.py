"""perf_analyzer ``--input-data`` JSON made from real video frames: one data stream per video.

    .venv/bin/python perf/perf_input_data.py [--videos A.mp4 B.mp4] [--frames 10] [--max-side 480]

The ``gazesam`` ensemble holds per-stream state (sequence-batched steps), so perf_analyzer drives it as
Triton sequences. perf_analyzer's JSON format ("Real Input Data" in its docs) then takes a list of
*streams*, each a list of *steps*::

    {"data": [[step, step, ...], [step, ...]]}
    step = {"FRAME": {"content": {"b64": <H*W*3 uint8 BGR bytes>}, "shape": [H, W, 3]},
            "FRAME_TIME": [<seconds>]}

Each sequence perf_analyzer starts plays one stream from its first step (start flag) to its last (end
flag) under one correlation ID, taking streams round-robin. Run it without ``--sequence-length`` so a
sequence is exactly one stream: a longer one would loop the stream and send FRAME_TIME backwards.

FRAME_TIME is the frame's position in its video (frame index / fps), so it increases within a stream.
``--max-side`` downscales frames (never upscales) to keep the JSON small: base64 costs 4/3 of
H×W×3 bytes per frame (480×270: about 0.5 MB).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from clients.video_source import open_video, read_frames
from gazesam.contracts import ENSEMBLE, MAX_FRAME_SIDE, MIN_FRAME_SIDE, TensorSpec

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VIDEOS_DIR = ROOT.parent / "shared" / "media" / "videos"
DEFAULT_OUTPUT = ROOT / "perf" / "out" / "input_data.json"


@dataclass(frozen=True)
class StreamFrame:
    """One step of a stream: ``frame`` (H, W, 3) uint8 BGR, taken ``time_s`` seconds into its video."""

    frame: np.ndarray
    time_s: float


def _input_spec(name: str) -> TensorSpec:
    specs = {spec.name: spec for spec in ENSEMBLE.inputs}
    if name not in specs:
        raise KeyError(f"the ensemble has no input {name!r}; gazesam.contracts lists {sorted(specs)}")
    return specs[name]


def downscaled(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    """``frame`` resized so its longer side is at most ``max_side`` (aspect kept); unchanged when smaller."""
    if max_side is None or max(frame.shape[:2]) <= max_side:
        return frame
    height, width = frame.shape[:2]
    scale = max_side / max(height, width)
    size = (max(MIN_FRAME_SIDE, round(width * scale)), max(MIN_FRAME_SIDE, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def read_stream(video: Path, frames: int, stride: int = 1, start: int = 0,
                max_side: int | None = None) -> list[StreamFrame]:
    """``frames`` frames of ``video``: indices start, start+stride, ...; FRAME_TIME = index / fps."""
    if frames < 1 or stride < 1 or start < 0:
        raise ValueError(f"need frames >= 1, stride >= 1, start >= 0; got {frames}, {stride}, {start}")
    capture, info = open_video(video)  # VideoSourceError (a ValueError) names what is wrong with the file
    capture.release()
    indices = range(start, start + frames * stride, stride)
    images = read_frames(video, indices=indices)
    return [StreamFrame(downscaled(image, max_side), index / info.fps) for index, image in zip(indices, images)]


def step_entry(step: StreamFrame) -> dict:
    """One perf_analyzer step for the ensemble's inputs, checked against their contracts."""
    frame_spec, time_spec = _input_spec("FRAME"), _input_spec("FRAME_TIME")
    frame = np.ascontiguousarray(step.frame, dtype=frame_spec.np_dtype)
    if not frame_spec.accepts_shape(frame.shape) or not all(MIN_FRAME_SIDE <= s <= MAX_FRAME_SIDE
                                                            for s in frame.shape[:2]):
        raise ValueError(f"frame shape {frame.shape} is not a valid {frame_spec.name} {frame_spec.shape}")
    time = np.array([step.time_s], dtype=time_spec.np_dtype)
    return {
        frame_spec.name: {"content": {"b64": base64.b64encode(frame.tobytes()).decode("ascii")},
                          "shape": list(frame.shape)},
        time_spec.name: time.tolist(),
    }


def decode_step(entry: dict) -> StreamFrame:
    """The inverse of :func:`step_entry` (for checks and tests)."""
    frame_spec, time_spec = _input_spec("FRAME"), _input_spec("FRAME_TIME")
    frame_item = entry[frame_spec.name]
    raw = np.frombuffer(base64.b64decode(frame_item["content"]["b64"]), dtype=frame_spec.np_dtype)
    frame = raw.reshape(frame_item["shape"])
    time = np.asarray(entry[time_spec.name], dtype=time_spec.np_dtype)
    return StreamFrame(frame, float(time[0]))


def input_data_document(streams: list[list[StreamFrame]]) -> dict:
    """perf_analyzer's JSON document: ``{"data": [stream, ...]}``, a stream being a list of steps."""
    if not streams or any(not stream for stream in streams):
        raise ValueError("need at least one stream, and no empty stream")
    for number, stream in enumerate(streams):
        times = [step.time_s for step in stream]
        if any(later <= earlier for earlier, later in zip(times, times[1:])):
            raise ValueError(f"stream {number}: FRAME_TIME must increase within a stream, got {times}")
    return {"data": [[step_entry(step) for step in stream] for stream in streams]}


def default_videos() -> list[Path]:
    return sorted(DEFAULT_VIDEOS_DIR.glob("*.mp4"))


def write_input_data(output: Path, videos: list[Path], frames: int, stride: int = 1, start: int = 0,
                     max_side: int | None = 480) -> dict:
    """Write the JSON for one stream per video; return a short description of what was written."""
    if not videos:
        raise FileNotFoundError(f"no videos given and none found in {DEFAULT_VIDEOS_DIR}")
    streams = [read_stream(Path(video), frames, stride, start, max_side) for video in videos]
    document = input_data_document(streams)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    partial.write_text(json.dumps(document))
    partial.replace(output)
    return {
        "path": str(output),
        "streams": len(streams),
        "frames_per_stream": frames,
        "frame_shapes": sorted({tuple(stream[0].frame.shape) for stream in streams}),
        "videos": [Path(video).name for video in videos],
        "bytes": output.stat().st_size,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python perf/perf_input_data.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_input_data_arguments(parser)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file (default: %(default)s)")
    return parser


def add_input_data_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The options that choose the frames (shared with perf/run_perf_analyzer.py); returns their group."""
    group = parser.add_argument_group("input data (real video frames)")
    group.add_argument("--videos", type=Path, nargs="+", default=None,
                       help=f"one stream per video (default: every *.mp4 in {DEFAULT_VIDEOS_DIR})")
    group.add_argument("--frames", type=int, default=10, help="frames per stream = sequence length (default: 10)")
    group.add_argument("--stride", type=int, default=1,
                       help="take every STRIDE-th frame (default: 1, consecutive frames as a camera sends them)")
    group.add_argument("--start", type=int, default=0, help="index of each stream's first frame (default: 0)")
    group.add_argument("--max-side", type=int, default=480,
                       help="downscale so the longer side is at most this many pixels; 0 keeps full size "
                            "(default: 480)")
    return group


def input_data_from_args(args: argparse.Namespace, output: Path) -> dict:
    return write_input_data(output, args.videos or default_videos(), args.frames, args.stride, args.start,
                            args.max_side or None)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        written = input_data_from_args(args, args.output)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {written['path']}: {written['streams']} streams x {written['frames_per_stream']} frames "
          f"{written['frame_shapes']} from {', '.join(written['videos'])} ({written['bytes'] / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
