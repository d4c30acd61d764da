"""The one-command demo: start the local Triton server, annotate a sample video, stop the server.

    python clients/demo.py [--video ../shared/media/videos/father_daughter_toys.mp4] [--output-dir output] [--max-frames N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clients import video
from gazesam_triton.serve import ROOT
from gazesam_triton.server_process import TritonProcess

SAMPLE = ROOT.parent / "shared" / "media" / "videos" / "father_daughter_toys.mp4"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clients/demo.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=SAMPLE, help="default: %(default)s")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "output", help="default: %(default)s")
    parser.add_argument("--model-repository", type=Path, default=ROOT / "model_repository")
    parser.add_argument("--max-frames", type=int, default=0,
                        help="annotate only the video's first N frames (default: all of them)")
    args = parser.parse_args(argv)
    log = args.output_dir / "tritonserver.log"
    print(f"starting tritonserver on 127.0.0.1 (log: {log}) ...")
    with TritonProcess(args.model_repository, log) as server:
        return video.main(["--video", str(args.video), "--output-dir", str(args.output_dir),
                           "--url", server.grpc_url, "--max-frames", str(args.max_frames)])


if __name__ == "__main__":
    sys.exit(main())
