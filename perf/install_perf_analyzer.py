"""Install a working ``perf_analyzer`` 2.51.0 into ``.venv/perf_analyzer/``: idempotent, pinned, no root needed.

    .venv/bin/python perf/install_perf_analyzer.py [--prefix .venv/perf_analyzer] [--force]

The ``tritonclient`` 2.51.0 wheel (pinned in ``requirements.txt``, the server's release) ships the
``perf_analyzer`` binary, but not two libraries it links:

- ``libb64.so.0d``: Debian's ``libb64-0d`` (pinned version and sha256), fetched with ``apt-get download``
  and unpacked with ``dpkg -x``; when apt's package lists do not know it (fresh machine, no root), the
  lists are refreshed into a private folder under the prefix, never the system's.
- ``libcudart.so.12``: PyPI's ``nvidia-cuda-runtime-cu12`` (``perf/requirements-perf-analyzer.txt``,
  hash-checked); only the library is taken from the wheel.

Result: ``<prefix>/lib/`` holds both libraries and ``<prefix>/bin/perf_analyzer`` is a launcher that sets
``LD_LIBRARY_PATH`` and runs the wheel's binary. The wheel's own ``.venv/bin/perf_analyzer`` is left
untouched (pip owns it; it does not start without the libraries). A run that finds everything in place
only re-checks that the launcher starts and reports version 2.51.0.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from gazesam.model_files import file_sha256

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PREFIX = ROOT / ".venv" / "perf_analyzer"
CUDART_REQUIREMENTS = ROOT / "perf" / "requirements-perf-analyzer.txt"

TRITONCLIENT_VERSION = "2.51.0"
EXPECTED_VERSION_LINE = f"Perf Analyzer Version {TRITONCLIENT_VERSION}"


@dataclass(frozen=True)
class DebianLibrary:
    """One shared library taken from a pinned Debian package."""

    package: str
    version: str
    sha256: str
    member: str  # path of the library inside the package

    @property
    def soname(self) -> str:
        return Path(self.member).name


LIBB64 = DebianLibrary(
    package="libb64-0d",
    version="1.2-5+b1",
    sha256="b0e1d6fde8bdccc18c3884144aede064dc82464dd4777275fa80e74c05583e82",
    member="usr/lib/x86_64-linux-gnu/libb64.so.0d",
)
CUDART_SONAME = "libcudart.so.12"
CUDART_MEMBER = "nvidia/cuda_runtime/lib/libcudart.so.12"


class InstallError(RuntimeError):
    """A step of the install failed; the message says which and what to do."""


@dataclass(frozen=True)
class InstallStamp:
    """What an install put in place; a prefix whose stamp differs is installed again."""

    tritonclient: str
    libb64: str
    cudart_requirements_sha256: str
    binary: str


def launcher_path(prefix: Path = DEFAULT_PREFIX) -> Path:
    """The ``perf_analyzer`` command to run (exists once :func:`install` succeeded)."""
    return prefix / "bin" / "perf_analyzer"


def wheel_binary() -> Path:
    """The ``perf_analyzer`` binary that the installed tritonclient wheel placed (its RECORD names it)."""
    try:
        dist = importlib.metadata.distribution("tritonclient")
    except importlib.metadata.PackageNotFoundError:
        raise InstallError(f"tritonclient is not installed in {sys.prefix}: run 'make setup' first") from None
    if dist.version != TRITONCLIENT_VERSION:
        raise InstallError(f"tritonclient {dist.version} is installed, this installer pins {TRITONCLIENT_VERSION} "
                           "(the server's release): run 'make setup' to restore requirements.txt's pins")
    for file in dist.files or ():
        if file.name == "perf_analyzer":
            path = Path(dist.locate_file(file)).resolve()
            if path.is_file():
                return path
    raise InstallError(f"the tritonclient {TRITONCLIENT_VERSION} wheel installed no perf_analyzer binary "
                       f"(platform {platform.machine()}); it ships one for Linux x86_64 and aarch64")


def write_atomically(dest: Path, data: bytes, mode: int = 0o644) -> None:
    """Write via a temporary name and rename: a perf_analyzer running meanwhile keeps its old files intact."""
    partial = dest.with_name(f".{dest.name}.{os.getpid()}")
    partial.write_bytes(data)
    partial.chmod(mode)
    os.replace(partial, dest)


def _run(command: list[str], what: str, cwd: Path | None = None) -> str:
    """Run ``command``; on failure raise InstallError naming ``what`` with the command's output."""
    if shutil.which(command[0]) is None:
        raise InstallError(f"{what}: '{command[0]}' is not on PATH (this installer needs Debian's apt-get and dpkg)")
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise InstallError(f"{what} failed (exit {result.returncode}): {' '.join(command)}\n{output}")
    return result.stdout


def _private_apt_options(state_dir: Path) -> list[str]:
    """apt options that keep package lists and cache in ``state_dir``: no root, the system's state untouched."""
    (state_dir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state_dir / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    return [f"-o=Dir::State::Lists={state_dir / 'lists'}", f"-o=Dir::Cache={state_dir / 'cache'}",
            "-o=Debug::NoLocking=1"]


def download_deb(library: DebianLibrary, dest: Path, apt_state: Path) -> Path:
    """``apt-get download`` the pinned package into ``dest`` and check its sha256."""
    spec = f"{library.package}={library.version}"
    quiet_sandbox = ["-o=APT::Sandbox::User=root"] if os.geteuid() == 0 else []
    try:
        _run(["apt-get", *quiet_sandbox, "download", spec], f"apt-get download {spec}", cwd=dest)
    except InstallError:
        # The system's lists may be missing or stale: refresh a private copy (needs no root) and retry.
        options = _private_apt_options(apt_state)
        _run(["apt-get", *quiet_sandbox, *options, "update"], "apt-get update (private lists)")
        _run(["apt-get", *quiet_sandbox, *options, "download", spec], f"apt-get download {spec}", cwd=dest)
    debs = list(dest.glob(f"{library.package}_*.deb"))
    if len(debs) != 1:
        raise InstallError(f"apt-get download {spec} left {len(debs)} .deb files in {dest}")
    digest = file_sha256(debs[0])
    if digest != library.sha256:
        raise InstallError(f"{debs[0].name}: sha256 {digest}, expected {library.sha256} (pinned)")
    return debs[0]


def install_debian_library(library: DebianLibrary, lib_dir: Path, work: Path, apt_state: Path) -> None:
    deb = download_deb(library, work, apt_state)
    unpacked = work / "unpacked"
    _run(["dpkg", "-x", str(deb), str(unpacked)], f"dpkg -x {deb.name}")
    source = unpacked / library.member
    if not source.is_file():
        raise InstallError(f"{deb.name} holds no {library.member}")
    write_atomically(lib_dir / library.soname, source.resolve().read_bytes())


def install_cudart(lib_dir: Path, work: Path) -> None:
    """Take ``libcudart.so.12`` from the hash-pinned ``nvidia-cuda-runtime-cu12`` wheel."""
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
          "--only-binary=:all:", "--require-hashes", "-r", str(CUDART_REQUIREMENTS), "-d", str(work)],
         "pip download nvidia-cuda-runtime-cu12")
    wheels = list(work.glob("nvidia_cuda_runtime_cu12-*.whl"))
    if len(wheels) != 1:
        raise InstallError(f"pip download left {len(wheels)} nvidia_cuda_runtime_cu12 wheels in {work}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        if CUDART_MEMBER not in wheel.namelist():
            raise InstallError(f"{wheels[0].name} holds no {CUDART_MEMBER}")
        write_atomically(lib_dir / CUDART_SONAME, wheel.read(CUDART_MEMBER))


def launcher_script(binary: Path, launcher: Path) -> str:
    """A POSIX sh launcher; paths are relative to the launcher so the clone may move."""
    to_binary = os.path.relpath(binary, launcher.parent)
    return f"""#!/bin/sh
# perf_analyzer {TRITONCLIENT_VERSION} (tritonclient wheel) with the libraries it needs.
# Written by perf/install_perf_analyzer.py; run that again rather than editing this file.
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
LD_LIBRARY_PATH="$here/../lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"
export LD_LIBRARY_PATH
exec "$here/{to_binary}" "$@"
"""


def version_line(launcher: Path) -> str:
    """The first line ``perf_analyzer --version`` prints (it exits 0 on success)."""
    if not launcher.is_file():
        raise InstallError(f"{launcher} does not exist")
    result = subprocess.run([str(launcher), "--version"], capture_output=True, text=True, timeout=60)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise InstallError(f"{launcher} --version failed (exit {result.returncode}):\n{output}")
    return output.splitlines()[0] if output else ""


def current_stamp(binary: Path) -> InstallStamp:
    return InstallStamp(
        tritonclient=TRITONCLIENT_VERSION,
        libb64=f"{LIBB64.package}={LIBB64.version}",
        cudart_requirements_sha256=file_sha256(CUDART_REQUIREMENTS),
        binary=str(binary),
    )


def _installed_stamp(prefix: Path) -> InstallStamp | None:
    try:
        return InstallStamp(**json.loads((prefix / "installed.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _is_working(prefix: Path, stamp: InstallStamp) -> bool:
    if _installed_stamp(prefix) != stamp:
        return False
    try:
        return version_line(launcher_path(prefix)).startswith(EXPECTED_VERSION_LINE)
    except (InstallError, OSError, subprocess.TimeoutExpired):
        return False


def install(prefix: Path = DEFAULT_PREFIX, force: bool = False, log: Callable[[str], object] = print) -> Path:
    """Make ``<prefix>/bin/perf_analyzer`` work; return its path. Raises InstallError naming the failed step."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        raise InstallError(f"this installer supports Linux x86_64 (Debian libraries); this is "
                           f"{platform.system()} {platform.machine()}")
    prefix = Path(prefix).resolve()
    binary = wheel_binary()
    stamp = current_stamp(binary)
    if not force and _is_working(prefix, stamp):
        log(f"perf_analyzer {TRITONCLIENT_VERSION} already installed: {launcher_path(prefix)}")
        return launcher_path(prefix)
    log(f"installing perf_analyzer {TRITONCLIENT_VERSION} into {prefix}")
    lib_dir = prefix / "lib"
    lib_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="perf_analyzer_install_") as tmp:
        work = Path(tmp)
        log(f"  {LIBB64.package}={LIBB64.version} (apt-get download, dpkg -x)")
        (work / "deb").mkdir()
        install_debian_library(LIBB64, lib_dir, work / "deb", prefix / "apt")
        log(f"  {CUDART_SONAME} ({CUDART_REQUIREMENTS.relative_to(ROOT)})")
        (work / "wheel").mkdir()
        install_cudart(lib_dir, work / "wheel")
    launcher = launcher_path(prefix)
    launcher.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(launcher, launcher_script(binary, launcher).encode(), mode=0o755)
    line = version_line(launcher)
    if not line.startswith(EXPECTED_VERSION_LINE):
        raise InstallError(f"{launcher} --version says {line!r}, expected {EXPECTED_VERSION_LINE!r}")
    write_atomically(prefix / "installed.json", (json.dumps(asdict(stamp), indent=2) + "\n").encode())
    log(f"ok: {line} -> {launcher}")
    return launcher


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python perf/install_perf_analyzer.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", type=Path, default=DEFAULT_PREFIX,
                        help="install folder (default: %(default)s); the launcher is PREFIX/bin/perf_analyzer")
    parser.add_argument("--force", action="store_true", help="install again even if a working install is found")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        install(args.prefix, force=args.force)
    except InstallError as error:
        print(f"error: perf_analyzer install failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
