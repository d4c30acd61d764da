"""Command line: ``python -m build_engines {fetch,standins,macs,repository}``.

Typical offline setup (what ``make setup`` runs)::

    python -m build_engines fetch --from ../shared/models   # real files we have
    python -m build_engines standins --size tiny             # stand-ins for the rest
    python -m build_engines repository --standin-size tiny   # write model_repository/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gazesam.model_files import ContractError, ModelFileError
from gazesam.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "models"


def _cmd_fetch(args: argparse.Namespace) -> int:
    from .fetch import fetch_all

    from_dir = Path(args.from_dir).resolve() if args.from_dir else None
    if from_dir is not None and not from_dir.is_dir():
        print(f"error: --from {from_dir} is not a folder", file=sys.stderr)
        return 2
    results = fetch_all(Path(args.models_dir) / "real", from_dir, args.timeout)
    for r in results:
        digest = f"sha256 {r.sha256}" if r.sha256 else ""
        print(f"{r.source.network:12} {r.source.file_name:22} {r.status:10} {r.detail} {digest}")
    missing = [r.source.file_name for r in results if r.status == "missing"]
    if missing:
        print(
            f"\n{len(missing)} file(s) not available here: {', '.join(missing)}.\n"
            "Those networks will use STAND-INS (random weights) until you fetch them: "
            "'python -m build_engines standins'."
        )
    return 0


def _cmd_standins(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .manifest import SOURCES
    from .standins import write_standin

    models_dir = Path(args.models_dir)
    todo = [s for s in SOURCES if args.all or not (models_dir / "real" / s.file_name).is_file()]
    out_dir = models_dir / "standins" / args.size
    for source in tqdm(todo, desc=f"stand-ins ({args.size})", unit="model"):
        path = write_standin(source.family, args.size, out_dir / source.file_name, seed=args.seed)
        tqdm.write(f"STAND-IN {source.network:12} {path}")
    skipped = [s.file_name for s in SOURCES if s not in todo]
    if skipped:
        print(f"real files present, no stand-in needed: {', '.join(skipped)}")
    return 0


def _cmd_macs(args: argparse.Namespace) -> int:
    from .macs import print_macs_table

    print_macs_table(args.size)
    return 0


def _cmd_repository(args: argparse.Namespace) -> int:
    from .repository import write_repository

    family = args.detector_family or load_settings().detector.family
    provenance = write_repository(Path(args.out), Path(args.models_dir), family, args.standin_size)
    print(f"wrote {args.out} (CPU profile, detector family {family})")
    for network, label in provenance.items():
        marker = "  <-- STAND-IN" if label.startswith("stand-in") else ""
        print(f"  {network:12} {label}{marker}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m build_engines", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", default=str(MODELS_DIR), help="model store (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)

    fetch = sub.add_parser("fetch", help="get the real model files (download, or copy with --from)")
    fetch.add_argument("--from", dest="from_dir", help="copy from this folder instead of downloading")
    fetch.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds")
    fetch.set_defaults(func=_cmd_fetch)

    standins = sub.add_parser("standins", help="generate stand-in ONNX models for networks without real files")
    standins.add_argument("--size", choices=("tiny", "full"), default="tiny",
                          help="tiny: fast, for tests; full: upstream-sized compute (default: %(default)s)")
    standins.add_argument("--seed", type=int, default=0)
    standins.add_argument("--all", action="store_true", help="also for networks that have a real file")
    standins.set_defaults(func=_cmd_standins)

    macs = sub.add_parser("macs", help="print each stand-in's MACs beside the upstream figure")
    macs.add_argument("--size", choices=("tiny", "full"), default="full")
    macs.set_defaults(func=_cmd_macs)

    repo = sub.add_parser("repository", help="write the Triton model repository (CPU profile)")
    repo.add_argument("--out", default=str(ROOT / "model_repository"))
    repo.add_argument("--standin-size", choices=("tiny", "full"), default="tiny",
                      help="which stand-ins to serve where no real file exists (default: %(default)s)")
    repo.add_argument("--detector-family", choices=("yolox", "yolo_nas_ort"),
                      help="default: the family in settings.toml")
    repo.set_defaults(func=_cmd_repository)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ModelFileError, ContractError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
