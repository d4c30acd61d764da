"""Start the Triton server that the ``nvidia-pytriton`` wheel ships, serving ``model_repository/``.

    python -m gazesam_triton.serve [--host 127.0.0.1] [--http-port 8000] [--grpc-port 8001]

That build has only the Python backend; it needs the backend stub for this Python version placed
in the backend folder, and the stub must find this virtual environment's packages (it derives its
``sys.prefix`` from the first ``python3`` on ``PATH``). This launcher arranges both.
Before starting, it checks the repository (every network's ``model.onnx`` loads and matches its
contract) and exits with status 2 and one line naming the bad file and the command that rebuilds it.
Security: binds 127.0.0.1 unless ``--host`` says otherwise; model control mode is ``none``
(no load/unload over the network).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

from .repository_check import RepositoryError, check_repository

ROOT = Path(__file__).resolve().parents[2]


def pytriton_server_dir() -> Path:
    import pytriton

    return Path(pytriton.__file__).resolve().parent / "tritonserver"


def prepare_backend_dir(dest: Path) -> Path:
    """A backend folder with the python backend and the stub for the running Python version."""
    server = pytriton_server_dir()
    python_dir = dest / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = server / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.is_file():
        raise FileNotFoundError(f"nvidia-pytriton ships no python backend stub for Python {version} ({stub})")
    for item in [p for p in (server / "backends" / "python").iterdir() if p.is_file()] + [stub]:
        _install(item, python_dir / item.name)
    return dest


def _install(src: Path, dest: Path) -> None:
    """Copy via a temporary name and rename, so a running server's files are never written in place."""
    if dest.is_file() and dest.stat().st_size == src.stat().st_size:
        return
    partial = dest.with_name(f".{dest.name}.{os.getpid()}")
    shutil.copy2(src, partial)
    os.replace(partial, dest)


def server_env() -> dict[str, str]:
    env = os.environ.copy()
    libs = Path(sysconfig.get_paths()["purelib"]) / "nvidia_pytriton.libs"
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(libs), env.get("LD_LIBRARY_PATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def server_command(args: argparse.Namespace, backend_dir: Path) -> list[str]:
    return [
        str(pytriton_server_dir() / "bin" / "tritonserver"),
        f"--model-repository={args.model_repository}",
        f"--backend-directory={backend_dir}",
        "--model-control-mode=none",
        f"--http-address={args.host}",
        f"--grpc-address={args.host}",
        f"--metrics-address={args.host}",
        f"--http-port={args.http_port}",
        f"--grpc-port={args.grpc_port}",
        f"--metrics-port={args.metrics_port}",
        "--exit-on-error=true",
        f"--log-verbose={args.log_verbose}",
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gazesam_triton.serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-repository", default=str(ROOT / "model_repository"))
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, local only)")
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--log-verbose", type=int, default=0)
    parser.add_argument("--backend-dir", default=str(ROOT / ".venv" / "triton_backends"),
                        help="where to assemble the python backend (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_repository(args.model_repository)
    except RepositoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    backend_dir = prepare_backend_dir(Path(args.backend_dir))
    process = subprocess.Popen(server_command(args, backend_dir), env=server_env())
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait()


if __name__ == "__main__":
    sys.exit(main())
