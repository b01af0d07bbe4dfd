"""Small file helpers shared by the commands: bounded reads of regular files, strict JSON, atomic writes, hashes.

Symlinks are followed (DVC links data into its cache with them), but only to a regular file: a FIFO, a device or a
directory behind a name is refused before a byte is read, and no read takes more than a size limit. Messages about
a file's content name the file and the place, never quote the content (the file may be a link to one outside the
repository).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import sys
import tempfile
from pathlib import Path

from modelrail.errors import ConfigError, ModelrailError

MiB = 1 << 20
# JSON and YAML the commands read (metrics, suites, records, modelrail.yaml) are small; anything larger is a mistake.
MAX_DOCUMENT_BYTES = 16 * MiB
# Data files are read whole (pyarrow); the limit keeps a wrong path from eating the runner's memory.
MAX_DATA_BYTES_ENV = "MODELRAIL_MAX_DATA_MB"
DEFAULT_MAX_DATA_MB = 2048
MAX_JSON_DEPTH = 64


def max_data_bytes() -> int:
    """The data-file size limit: MODELRAIL_MAX_DATA_MB (default 2048) MiB."""
    raw = os.environ.get(MAX_DATA_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_DATA_MB * MiB
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{MAX_DATA_BYTES_ENV}={raw[:20]!r}: must be a whole number of MiB, 1 or more")
    return int(raw) * MiB


def read_regular(path: Path, limit: int = MAX_DOCUMENT_BYTES, missing: str = "no such file") -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else is a ConfigError naming the file."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(f"{path}: {missing}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be opened ({exc.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"{path}: is a directory, not a file")
        raise ConfigError(f"{path}: is not a regular file (a FIFO, socket or device); refusing to read it")
    if info.st_size > limit:
        os.close(fd)
        raise ConfigError(f"{path}: {info.st_size} bytes, more than the limit of {limit} bytes")
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # the file grew while it was read
        raise ConfigError(f"{path}: more than the limit of {limit} bytes")
    return data


def inside_repo(path: Path) -> bool:
    """Whether the file (symlinks resolved) lies inside the working directory, the model repository's root."""
    return Path(path).resolve().is_relative_to(Path.cwd().resolve())


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range for a number")
    return value


def _float_sized_int(text: str) -> int:
    """An integer that a comparison with a float can take: 1e309 written out in digits is as unusable as 1e309."""
    value = int(text)
    if abs(value) > sys.float_info.max:
        raise ValueError(f"{text[:20]}... ({len(text)} digits) is out of range for a number")
    return value


def parse_json(data: bytes, where: str, error: type[ModelrailError] = ConfigError):
    """Strict JSON: UTF-8, no NaN/Infinity, no number out of float range, no 4300+ digit integer, bounded nesting."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_float_sized_int)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # NaN/Infinity, 1e999, or an integer with too many digits
        raise error(f"{where}: not valid JSON: {str(exc)[:120]}") from None
    except RecursionError:
        raise error(f"{where}: not valid JSON: nested too deeply") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise error(f"{where}: not valid JSON: nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def _depth(value) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [
            item
            for container in level
            if isinstance(container, (dict, list))
            for item in (container.values() if isinstance(container, dict) else container)
            if isinstance(item, (dict, list))
        ]
    return depth


def load_json_object(path: Path, what: str, missing: str = "no such file", error=ConfigError) -> tuple[dict, bytes]:
    """A JSON file that must hold an object (`what` says which kind, for the message), and its bytes."""
    raw = read_regular(path, missing=missing)
    value = parse_json(raw, str(path), error)
    if not isinstance(value, dict):
        raise error(f"{path}: {what} must be a JSON object, got a JSON {_json_kind(value)}")
    return value, raw


def _json_kind(value) -> str:
    kinds = {list: "list", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def finite(value):
    """A copy with every non-finite float as a string ('nan', 'inf', '-inf'): records are strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps(data: object, **options) -> str:
    """Strict JSON text (never NaN or Infinity, which strict parsers reject)."""
    return json.dumps(data, allow_nan=False, **options)


def write_atomic(path: Path, text: str) -> None:
    """Write text so that readers see the old file or the whole new one, never half of it."""
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; give a file path to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be written ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: object) -> None:
    write_atomic(path, dumps(data, indent=2, sort_keys=False) + "\n")


def digests(data: bytes) -> dict[str, str]:
    """md5 is what DVC records in dvc.lock (artifact identity); sha256 is for integrity."""
    return {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}


ALL_DIGESTS = ("md5", "sha256")


def file_digests(path: Path, names: tuple[str, ...] = ALL_DIGESTS, chunk: int = 1 << 20) -> dict[str, str]:
    """The same digests as `digests` (or only those `names`), read in chunks: a file larger than memory is hashed."""
    hashes = {name: hashlib.new(name) for name in names}
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            for one in hashes.values():
                one.update(block)
    return {name: one.hexdigest() for name, one in hashes.items()}


def folder_digest(folder: Path, files: list[Path]) -> dict[str, str]:
    """One sha256 for a folder of data files: over each file's relative path and sha256, in name order."""
    return folder_digests(folder, files)[0]


def folder_digests(
    folder: Path, files: list[Path], names: tuple[str, ...] = ALL_DIGESTS
) -> tuple[dict[str, str], dict[Path, dict[str, str]]]:
    """folder_digest, and each file's digests (`names`) on the way (each file is read once)."""
    each = {file: file_digests(file, names) for file in sorted(files)}
    return listing_digest(folder, each), each


def listing_digest(folder: Path, each: dict[Path, dict[str, str]]) -> dict[str, str]:
    """folder_digest from each file's digests, already computed: over each relative path and sha256, in name order."""
    listing = "".join(f"{file.relative_to(folder)} {digest['sha256']}\n" for file, digest in sorted(each.items()))
    return {"sha256": hashlib.sha256(listing.encode()).hexdigest()}
