"""Read a CSV or Parquet file into a DataFrame, refusing anything malformed with a message that says why."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelrail.errors import ConfigError, DataError
from modelrail.files import digests, max_data_bytes, read_regular

if TYPE_CHECKING:
    import pandas as pd

CSV_SUFFIXES = {".csv"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


@dataclass
class Table:
    path: Path
    frame: pd.DataFrame
    digests: dict[str, str]


def read_bytes(path: Path) -> bytes:
    """A data file's bytes: a regular file (symlinks followed) of at most MODELRAIL_MAX_DATA_MB."""
    if path.suffix.lower() not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        raise ConfigError(f"{path}: unsupported file type '{path.suffix[:20]}' (use .csv or .parquet)")
    return read_regular(path, max_data_bytes())


def load_table(path: Path) -> Table:
    """Load a data file; DataError names the file (and the line or column) when it cannot be trusted."""
    data = read_bytes(path)
    if not data.strip():
        raise DataError(f"{path}: the file is empty")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        frame = _parse_parquet(path, data)
    else:
        frame = _parse_csv(path, data)
    if frame.empty and len(frame.columns):
        raise DataError(f"{path}: has a header but no rows")
    return Table(path=path, frame=frame, digests=digests(data))


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _parse_csv(path: Path, data: bytes) -> pd.DataFrame:
    nul = data.find(b"\x00")
    if nul != -1:
        raise DataError(f"{path}: binary data, not CSV text (NUL byte on line {_line_of(data, nul)})")
    try:
        text_header = data.split(b"\n", 1)[0].decode("utf-8")
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: line {_line_of(data, exc.start)}: bytes that are not UTF-8 (byte {exc.start}: {exc.reason})"
        ) from None
    try:
        header = next(csv.reader([text_header.lstrip("\ufeff")]), [])
    except csv.Error as exc:  # the same verdict as any malformed CSV
        reason = "a carriage return (CR) without LF; line ends must be LF or CRLF" if "new-line" in str(exc) else exc
        raise DataError(f"{path}: malformed or truncated CSV: line 1 (the header): {reason}") from None
    _check_header(path, [name.strip() for name in header])

    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(pa.BufferReader(data))
    except pa.ArrowInvalid as exc:
        reason = str(exc).removeprefix("CSV parse error: ")
        raise DataError(f"{path}: malformed or truncated CSV: {_shorten(reason)}") from None
    return _to_frame(table)


def _parse_parquet(path: Path, data: bytes) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet file: {_shorten(str(exc))}") from None
    _check_header(path, table.column_names)
    return _to_frame(table)


def _to_frame(table) -> pd.DataFrame:
    """Text columns become 'object': GX 1.x type checks know numpy dtypes and 'object', not pandas 3's 'str'."""
    import pyarrow as pa

    frame = table.to_pandas()
    for field in table.schema:
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            frame[field.name] = frame[field.name].astype(object)
    return frame


def _check_header(path: Path, names: list[str]) -> None:
    if not names or all(not name for name in names):
        raise DataError(f"{path}: no header row with column names")
    for index, name in enumerate(names, start=1):
        if not name:
            raise DataError(f"{path}: column {index} has an empty name in the header")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"{path}: duplicate column name(s) in the header: {', '.join(map(repr, duplicates))}")


def _shorten(text: str, limit: int = 200) -> str:
    """The parser's reason without the content it quotes: the file may be a link to one outside the repository."""
    text = re.sub(r"(got \d+)\b.*", r"\1", " ".join(text.split()))
    text = re.sub(r"'[^']*'", "'...'", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
