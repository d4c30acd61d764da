"""Serve ``model_repository/`` with the Triton server that the ``nvidia-pytriton`` wheel ships, supervised.

    python -m gazesam_triton.serve [--host 127.0.0.1] [--http-port 8000] [--grpc-port 8001] [--no-http]

That build has only the Python backend; it needs the backend stub for this Python version placed
in the backend folder, and the stub must find this virtual environment's packages (it derives its
``sys.prefix`` from the first ``python3`` on ``PATH``). This launcher arranges both. In the NGC
container, ``--tritonserver /opt/tritonserver/bin/tritonserver`` serves with the image's own server
and backends instead (docker/).

Before starting, it checks the repository (every network's ``model.onnx`` loads and matches its
contract) and exits with status 2 and one line naming the bad file and the command that rebuilds it.
Then it supervises tritonserver (gazesam_triton.supervisor): restarted, with back-off and a log line
saying why, when it dies or a Python-backend stub dies; stale /dev/shm regions and orphaned stubs of
earlier runs are removed first.

Least exposure by default: binds 127.0.0.1 unless ``--host`` says otherwise; model control mode is
``none`` (no load/unload over the network); the shared-memory, logging, trace and model-repository APIs
need the header ``gazesam-admin-key`` with this user's key (gazesam_triton.admin_key; the project's
clients send it); the HTTP port is a guard that checks sizes and declared shapes before Triton parses a
request (gazesam_triton.http_guard), or off with ``--no-http``; each stub's shared-memory pool, and so
the memory one request can take, is bounded (``--max-file-mib``).
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import shutil
import signal
import sys
import sysconfig
from pathlib import Path

from gazesam.input_limits import MAX_FRAME_BYTES

from .admin_key import ensure_admin_key, restricted_api_arguments
from .repository_check import RepositoryError, check_repository
from .server_leftovers import region_prefix

MIB = 2**20
DEFAULT_MAX_FILE_MIB = math.ceil(4 * MAX_FRAME_BYTES / MIB)
"""Each stub's shared-memory pool holds a request's inputs and outputs (the largest: a frame in, a
frame out) with room to spare; a request too big for it is refused before it reaches the stub."""

ROOT = Path(__file__).resolve().parents[2]
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
DEFAULT_BACKEND_DIR = ROOT / ".venv" / "triton_backends" / f"python{PYTHON_VERSION}"
"""The embedded server's backends, one folder per Python version: each holds the stub built for that version,
so servers of two venvs (.venv on 3.11, .venv312) never replace each other's stub."""


def pytriton_server_dir() -> Path:
    import pytriton

    return Path(pytriton.__file__).resolve().parent / "tritonserver"


STUB_WRAPPER = """#!/bin/sh
# The Python backend stub, without the malloc settings the supervisor gives tritonserver: they return a huge
# request's buffers there, but would slow the stubs' own numpy and ONNX Runtime allocations.
# Written by gazesam_triton.serve (docker/Dockerfile installs the same).
unset GLIBC_TUNABLES
exec "$(dirname "$0")/triton_python_backend_stub.bin" "$@"
"""


def prepare_backend_dir(dest: Path) -> Path:
    """A backend folder with the python backend and the stub for the running Python version (behind
    :data:`STUB_WRAPPER`)."""
    server = pytriton_server_dir()
    python_dir = dest / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    stub = server / "python_backend_stubs" / PYTHON_VERSION / "triton_python_backend_stub"
    if not stub.is_file():
        raise FileNotFoundError(f"nvidia-pytriton ships no python backend stub for Python {PYTHON_VERSION} ({stub})")
    for item in [p for p in (server / "backends" / "python").iterdir() if p.is_file()]:
        _install(item, python_dir / item.name)
    _install(stub, python_dir / f"{stub.name}.bin")
    wrapper = python_dir / stub.name
    if not wrapper.is_file() or wrapper.read_text(errors="replace") != STUB_WRAPPER:
        partial = wrapper.with_name(f".{wrapper.name}.{os.getpid()}")
        partial.write_text(STUB_WRAPPER)
        partial.chmod(0o755)
        os.replace(partial, wrapper)
    return dest


def _install(src: Path, dest: Path) -> None:
    """Copy via a temporary name and rename, so a running server's files are never written in place."""
    if dest.is_file() and dest.stat().st_size == src.stat().st_size:
        return
    partial = dest.with_name(f".{dest.name}.{os.getpid()}")
    shutil.copy2(src, partial)
    os.replace(partial, dest)


def running_libpython_dir() -> str | None:
    """The folder of the running interpreter's shared libpython (None: a static build). The stub links
    libpythonX.Y.so, which a pyenv or other private build keeps off the loader's default path."""
    return sysconfig.get_config_var("LIBDIR") if sysconfig.get_config_var("Py_ENABLE_SHARED") else None


def server_env() -> dict[str, str]:
    env = os.environ.copy()
    libs = Path(sysconfig.get_paths()["purelib"]) / "nvidia_pytriton.libs"
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(libs), running_libpython_dir(),
                                                           env.get("LD_LIBRARY_PATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def server_command(args: argparse.Namespace, backend_dir: Path, admin_key: str = "", guard_key: str = "",
                   upstream_http_port: int = 0) -> list[str]:
    """tritonserver's command line. ``guard_key`` / ``upstream_http_port``: Triton's HTTP service on that
    loopback port behind the HTTP guard's key (empty with ``--no-http``: no HTTP service at all)."""
    http = (["--http-address=127.0.0.1", f"--http-port={upstream_http_port}"] if guard_key
            else ["--allow-http=false"])
    return [
        args.tritonserver or str(pytriton_server_dir() / "bin" / "tritonserver"),
        f"--model-repository={args.model_repository}",
        f"--backend-directory={backend_dir}",
        "--model-control-mode=none",
        *http,
        f"--grpc-address={args.host}",
        f"--metrics-address={args.host}",
        f"--grpc-port={args.grpc_port}",
        f"--metrics-port={args.metrics_port}",
        f"--backend-config=python,shm-region-prefix-name={region_prefix(args.grpc_port)}",
        "--grpc-infer-allocation-pool-size=0",  # a huge request's buffers are freed, not kept for reuse
        *(restricted_api_arguments(admin_key, guard_key or None) if admin_key else []),
        "--exit-on-error=true",
        f"--log-verbose={args.log_verbose}",
    ]


PASSED_THROUGH = ("--cuda-memory-pool-byte-size", "--pinned-memory-pool-byte-size", "--backend-config")
"""tritonserver options the launcher passes on unchanged (the GPU memory flags of perf.gpu_server)."""


def passed_through(extra: list[str]) -> list[str]:
    """``extra`` when every item is one of :data:`PASSED_THROUGH` as ``--name=value``; ValueError names the first other."""
    for item in extra:
        if item.split("=", 1)[0] not in PASSED_THROUGH or "=" not in item:
            raise ValueError(f"unknown option {item!r} (tritonserver options passed on: {', '.join(PASSED_THROUGH)}, "
                             "as --name=value)")
    return extra


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gazesam_triton.serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=f"Other options of the form --name=value ({', '.join(PASSED_THROUGH)}) "
                                            "are passed to tritonserver as they are.")
    parser.add_argument("--model-repository", default=str(ROOT / "model_repository"))
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, local only)")
    parser.add_argument("--http-port", type=int, default=8000, help="the HTTP guard's port (default: %(default)s)")
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--no-http", action="store_true",
                        help="serve gRPC only: no HTTP endpoint at all (the clients' default protocol is gRPC)")
    parser.add_argument("--log-verbose", type=int, default=0)
    parser.add_argument("--max-file-mib", type=int, default=DEFAULT_MAX_FILE_MIB,
                        help="the largest file tritonserver and its stubs may grow (RLIMIT_FSIZE): it bounds each "
                             "stub's shared-memory pool, so a larger request is refused before it reaches a stub "
                             "(default: %(default)s MiB, four largest frames; raise it for a profile whose server "
                             "writes bigger files, e.g. ONNX Runtime's TensorRT engine cache)")
    parser.add_argument("--ready-timeout", type=float, default=600.0,
                        help="seconds a start may take before it counts as failed and is retried (default: %(default)s)")
    parser.add_argument("--tritonserver", help="a tritonserver binary with its own backends (the NGC image's); "
                                               "default: the nvidia-pytriton wheel's, with the backend assembled here")
    parser.add_argument("--backend-dir", default=str(DEFAULT_BACKEND_DIR),
                        help="the backend folder: assembled here (default: %(default)s), or with --tritonserver "
                             "used as it is (the NGC image's: /opt/tritonserver/backends)")
    return parser


def python_models(repository: Path) -> int:
    """How many of the repository's models run on the Python backend (one stub process each)."""
    return sum('backend: "python"' in config.read_text() for config in repository.glob("*/config.pbtxt"))


def readiness_probe(args: argparse.Namespace):
    """A function that says whether the server answers ready on its gRPC port."""
    import tritonclient.grpc as grpcclient

    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    client = grpcclient.InferenceServerClient(f"{host}:{args.grpc_port}")

    def is_ready() -> bool:
        try:
            return bool(client.is_server_ready(client_timeout=2))
        except Exception:  # not listening yet, or starting
            return False

    return is_ready


def main(argv: list[str] | None = None) -> int:
    from .http_guard import HttpGuard
    from .server_process import free_port
    from .supervisor import ServerLimits, Supervisor, log

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    try:
        extra = passed_through(extra)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        check_repository(args.model_repository)
    except RepositoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    backend_dir = Path(args.backend_dir) if args.tritonserver else prepare_backend_dir(Path(args.backend_dir))
    guard_key, upstream = ("", 0) if args.no_http else (secrets.token_hex(16), free_port())
    command = server_command(args, backend_dir, ensure_admin_key(), guard_key, upstream) + extra
    supervisor = Supervisor(command, server_env(), region_prefix(args.grpc_port),
                            ServerLimits(args.max_file_mib * MIB), readiness_probe(args), args.ready_timeout,
                            expected_stubs=python_models(Path(args.model_repository)))
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    guard = None
    if not args.no_http:
        try:
            guard = HttpGuard(args.host, args.http_port, upstream, guard_key, supervisor.is_serving).start()
        except OSError as exc:
            print(f"error: cannot listen on {args.host}:{args.http_port} for HTTP: {exc}", file=sys.stderr)
            return 2
        log(f"HTTP guard on {args.host}:{args.http_port} (Triton's HTTP service behind it on 127.0.0.1:{upstream})")
    try:
        return supervisor.run()
    finally:
        if guard is not None:
            guard.stop()


if __name__ == "__main__":
    sys.exit(main())
