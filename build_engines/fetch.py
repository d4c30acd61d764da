"""Fetching real model files: download from upstream (resumable) or copy from a local folder.

Every file is checked against its contract and its sha256 is printed and recorded in
``models/real/SHA256SUMS``; a known upstream digest that does not match is an error.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from gazesam.model_files import ModelFileError, load_checked

from .manifest import SOURCES, ModelSource

CHUNK = 1 << 20


@dataclass(frozen=True)
class FetchResult:
    source: ModelSource
    status: str  # "copied" | "downloaded" | "present" | "missing"
    detail: str
    sha256: str | None = None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


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


def _verify(source: ModelSource, path: Path) -> str:
    digest = sha256_of(path)
    if source.sha256 and digest != source.sha256:
        raise ModelFileError(
            f"{path}: sha256 {digest} differs from the known upstream digest {source.sha256}; "
            "the file is corrupt or not the upstream model. Delete it and fetch again."
        )
    load_checked(path, source.contract)
    return digest


def fetch_one(source: ModelSource, dest_dir: Path, from_dir: Path | None, timeout: float) -> FetchResult:
    dest = dest_dir / source.file_name
    if from_dir is not None:
        local = from_dir / source.file_name
        if not local.is_file():
            return FetchResult(source, "missing", f"not in {from_dir}")
        shutil.copyfile(local, dest)
        return FetchResult(source, "copied", f"from {local}", _verify(source, dest))
    if dest.is_file():
        return FetchResult(source, "present", str(dest), _verify(source, dest))
    if source.url is None:
        return FetchResult(source, "missing", "no download address; copy it in with --from DIR")
    try:
        _download(source.url, dest, timeout)
    except (urllib.error.URLError, OSError) as exc:
        return FetchResult(source, "missing", f"download from {source.url} failed: {exc}")
    return FetchResult(source, "downloaded", source.url, _verify(source, dest))


def fetch_all(dest_dir: Path, from_dir: Path | None = None, timeout: float = 30.0) -> list[FetchResult]:
    """Fetch every source into ``dest_dir``; raises ModelFileError/ContractError on a bad file."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    results = [fetch_one(source, dest_dir, from_dir, timeout) for source in SOURCES]
    sums = [f"{r.sha256}  {r.source.file_name}" for r in results if r.sha256]
    (dest_dir / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return results

