"""Integrity of DVC-tracked content: re-hash the work tree's data and model outputs from their bytes.

`dvc pull` checks out whatever bytes the remote holds under an md5 path, and DVC's own state database then vouches
for them (it records the expected hash at checkout), so `dvc status` cannot see a swapped object. Here every file
is read and hashed again, the way DVC hashes it (DVC's own code: a directory's md5 is the md5 of its sorted
`[{md5, relpath}]` listing, suffixed `.dir`), and compared with dvc.lock and the `.dvc` files.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from modelrail.errors import ConfigError, ModelrailError
from modelrail.identity import load_lock

# DVC 3 writes `hash: md5` (plain md5 of the bytes); entries without it come from DVC 2, which hashed text files
# with CRLF turned into LF first.
LEGACY_HASH = "md5-dos2unix"


class IntegrityError(ModelrailError):
    """A DVC-tracked output does not hash to what dvc.lock records: whatever uses it must stop, exit 1."""

    exit_code = 1


@dataclass(frozen=True)
class Expected:
    """One output as git records it: its path, md5 and where that md5 is written."""

    path: str
    md5: str
    hash_name: str
    source: str


@dataclass(frozen=True)
class Mismatch:
    """An output whose bytes are not the ones recorded (`actual` is None when it is missing)."""

    expected: Expected
    actual: str | None

    def __str__(self) -> str:
        got = f"hashes to {self.actual}" if self.actual else "is missing (run `dvc pull` or `dvc repro`)"
        return f"{self.expected.path}: {self.expected.source} records md5 {self.expected.md5}, the work tree {got}"


def expected_outputs(repo: Path) -> list[Expected]:
    """Every output dvc.lock hashes (all stages' outs, and deps that `.dvc` files track), and every `.dvc` out."""
    lock_path = repo / "dvc.lock"
    lock = load_lock(lock_path)
    stages = lock.get("stages")
    if not isinstance(stages, dict):
        raise ConfigError(f"{lock_path}: no 'stages' mapping (run `dvc repro` first)")
    tracked = _dvc_files(repo)
    found: dict[str, Expected] = {entry.path: entry for entry in tracked}
    for name, body in stages.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{lock_path}: stage '{name}' is not a mapping")
        entries = [*(body.get("outs") or []), *(dep for dep in body.get("deps") or [] if dep.get("path") in found)]
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("path") or not entry.get("md5"):
                raise ConfigError(f"{lock_path}: stage '{name}' has an entry without path and md5: {entry!r}")
            item = Expected(entry["path"], entry["md5"], entry.get("hash", LEGACY_HASH), f"dvc.lock (stage {name})")
            found.setdefault(item.path, item)
            if found[item.path].md5 != item.md5:
                other = found[item.path]
                raise IntegrityError(
                    f"{item.path}: {other.source} records md5 {other.md5} but {item.source} records {item.md5} "
                    "(fix: `dvc repro`, then commit dvc.lock and the .dvc files together)"
                )
    return sorted(found.values(), key=lambda item: item.path)


def _dvc_files(repo: Path) -> list[Expected]:
    """The outputs of the `.dvc` files git tracks (e.g. data/raw/<sample>.csv.dvc), paths from the repo root."""
    import yaml

    try:
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--", "*.dvc"], cwd=repo, capture_output=True, text=True, check=False
        )
    except OSError:
        raise ConfigError("git is not installed: the .dvc files to verify are the ones git tracks") from None
    if proc.returncode != 0:
        raise ConfigError(f"{repo}: not a git checkout (the .dvc files to verify are the ones git tracks)")
    items = []
    for name in filter(None, proc.stdout.split("\0")):
        file = repo / name
        if not file.exists():  # git tracks it, the working tree no longer has it: a `dvc move` or removal
            raise ConfigError(f"{file}: git tracks this .dvc file but it is gone (fix: commit its move or removal)")
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{file}: not a readable .dvc file: {exc}") from None
        for out in data.get("outs") or []:
            if not isinstance(out, dict) or not out.get("path") or not out.get("md5"):
                raise ConfigError(f"{file}: an entry under 'outs' has no path and md5")
            path = Path(name).parent.joinpath(out["path"]).as_posix()
            items.append(Expected(path, out["md5"], out.get("hash", LEGACY_HASH), name))
    return items


def content_md5(path: Path, hash_name: str = "md5") -> str | None:
    """DVC's md5 of a file, or of a directory (`<md5>.dir`); None when nothing is there."""
    from dvc_data.hashfile.hash import file_md5

    if path.is_file():
        return file_md5(str(path), name=hash_name)
    if not path.is_dir():
        return None
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    tree = Tree()
    for folder, _dirs, files in os.walk(path):
        for name in files:
            file = Path(folder) / name
            tree.add(file.relative_to(path).parts, None, HashInfo(hash_name, file_md5(str(file), name=hash_name)))
    tree.digest()
    return tree.hash_info.value


def verify_outputs(
    repo: Path, paths: list[str] | None = None, only_tracked: bool = False
) -> tuple[list[Expected], list[Mismatch]]:
    """Hash each recorded output (only `paths`, if given) in the work tree; return what was checked and mismatches.

    A path in `paths` that DVC does not track is a ConfigError, or passed over with `only_tracked` (a file the
    caller reads whether or not DVC tracks it: then there is no recorded hash to hold it to)."""
    expected = expected_outputs(repo)
    if paths is not None:
        known = {item.path for item in expected}
        for path in paths:
            if path not in known and not only_tracked:
                raise ConfigError(f"{repo / 'dvc.lock'}: no output '{path}' (run `dvc repro` first)")
        expected = [item for item in expected if item.path in paths]
    mismatches = []
    for item in expected:
        actual = content_md5(repo / item.path, item.hash_name)
        if actual != item.md5:
            mismatches.append(Mismatch(item, actual))
    return expected, mismatches


def require_outputs_match_lock(repo: Path, paths: list[str] | None = None, only_tracked: bool = False) -> None:
    """Refuse (IntegrityError, exit 1) unless every recorded output (or those in `paths`) hashes to dvc.lock.

    What build, smoke, push and promote call before they use a model or data they did not compute themselves.
    """
    _checked, mismatches = verify_outputs(repo, paths, only_tracked)
    if mismatches:
        lines = "\n".join(f"  {mismatch}" for mismatch in mismatches)
        raise IntegrityError(
            f"{len(mismatches)} DVC-tracked output(s) in {repo} are not what dvc.lock records "
            f"(the DVC remote or the work tree holds other bytes; fix: `dvc repro` and `dvc push`, or repair the "
            f"remote):\n{lines}"
        )
