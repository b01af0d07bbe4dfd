"""Small file helpers shared by the commands: atomic writes and content hashes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Write text so that readers see the old file or the whole new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: object) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def digests(data: bytes) -> dict[str, str]:
    """md5 is what DVC records in dvc.lock (artifact identity); sha256 is for integrity."""
    return {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}


def file_digests(path: Path, chunk: int = 1 << 20) -> dict[str, str]:
    """The same digests as `digests`, read in chunks so that a file larger than memory can be hashed."""
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            md5.update(block)
            sha256.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def folder_digest(folder: Path, files: list[Path]) -> dict[str, str]:
    """One sha256 for a folder of data files: over each file's relative path and sha256, in name order."""
    return folder_digests(folder, files)[0]


def folder_digests(folder: Path, files: list[Path]) -> tuple[dict[str, str], dict[Path, dict[str, str]]]:
    """folder_digest, and each file's digests on the way (each file is read once)."""
    each = {file: file_digests(file) for file in sorted(files)}
    listing = "".join(f"{file.relative_to(folder)} {digest['sha256']}\n" for file, digest in each.items())
    return {"sha256": hashlib.sha256(listing.encode()).hexdigest()}, each
