"""Read a CSV file, a Parquet file or a Parquet data set folder into a Spark DataFrame, refusing what is malformed.

The same refusals as data_files.py (empty, no header, duplicate or empty column names, not UTF-8, binary, truncated
rows, no rows), so that a gate on Spark records what the gate on pandas records. The CSV checks stream the file:
nothing here holds more than one chunk of it in this process's memory.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path

from modelrail.data_files import CSV_SUFFIXES, PARQUET_SUFFIXES, check_header, parquet_parts, shorten
from modelrail.errors import ConfigError, DataError
from modelrail.files import ALL_DIGESTS, file_digests, folder_digest

CHUNK = 1 << 20
# Hadoop expands these in a path; a folder named `{{cookiecutter.project_slug}}` must be read literally.
_GLOB = "\\{}[]*?"


@dataclass
class SparkTable:
    path: Path
    frame: object  # pyspark.sql.DataFrame
    columns: list[str]
    rows: int
    digests: dict[str, str]

    def type_name(self, column: str) -> str:
        return type(self.frame.schema[column].dataType).__name__


def load_spark_table(spark, path: Path, digests: tuple[str, ...] = ALL_DIGESTS) -> SparkTable:
    """A DataFrame over the file or folder; DataError names the file (and line) when it cannot be trusted.

    `digests`: the hashes of the file (a folder: sha256 over its parts) for the record; () for none."""
    if path.is_dir():
        parts = parquet_parts(path)
        frame = _read(spark, "parquet", path, f"{path}: not a readable Parquet data set")
        return _table(path, frame, folder_digest(path, parts) if digests else {})
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        raise ConfigError(f"{path}: unsupported file type '{path.suffix}' (use .csv or .parquet)")
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    hashed = file_digests(path, digests) if digests else {}
    if suffix in PARQUET_SUFFIXES:
        return _table(path, _read(spark, "parquet", path, f"{path}: not a readable Parquet file"), hashed)
    _scan_csv_text(path)
    frame = _read(spark, "csv", path, f"{path}: malformed or truncated CSV")
    return _table(path, frame, hashed, parse_all=True)


def _read(spark, kind: str, path: Path, failure: str):
    literal = "".join(f"\\{char}" if char in _GLOB else char for char in str(path.resolve()))
    reader = spark.read
    if kind == "csv":
        # FAILFAST: a row with too few or too many fields is an error, not a row padded with nulls.
        reader = reader.options(header=True, inferSchema=True, mode="FAILFAST", enforceSchema=False)
    try:
        return getattr(reader, kind)(literal)
    except Exception as exc:  # Spark raises AnalysisException, Py4JJavaError, ...: all mean the input is unreadable
        raise DataError(f"{failure}: {shorten(_spark_reason(exc))}") from None


def _table(path: Path, frame, digests: dict[str, str], parse_all: bool = False) -> SparkTable:
    check_header(path, frame.columns)
    try:
        if parse_all:
            # Counting non-nulls of every column makes Spark parse every field (a plain count() would not), so
            # FAILFAST finds a truncated row here rather than inside an expectation.
            from pyspark.sql import functions as F

            rows = frame.agg(F.count(F.lit(1)), *[F.count(F.col(f"`{name}`")) for name in frame.columns]).first()[0]
        else:
            rows = frame.count()
    except Exception as exc:
        what = "malformed or truncated CSV" if parse_all else "not a readable Parquet data set"
        raise DataError(f"{path}: {what}: {shorten(_spark_reason(exc))}") from None
    if rows == 0:
        raise DataError(f"{path}: has a header but no rows" if parse_all else f"{path}: has no rows")
    return SparkTable(path=path, frame=frame, columns=list(frame.columns), rows=rows, digests=digests)


def _scan_csv_text(path: Path) -> None:
    """UTF-8 text without NUL bytes, with a header row: checked chunk by chunk, as data_files checks it whole."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, offset, first, blank = 1, 0, b"", True
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            if len(first) < CHUNK and b"\n" not in first:
                first += chunk
            nul = chunk.find(b"\x00")
            if nul != -1:
                where = line + chunk.count(b"\n", 0, nul)
                raise DataError(f"{path}: binary data, not CSV text (NUL byte on line {where})")
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                start = max(exc.start, 0)
                where = line + chunk.count(b"\n", 0, start)
                reason = f"byte {offset + start}: {exc.reason}"
                raise DataError(f"{path}: line {where}: bytes that are not UTF-8 ({reason})") from None
            blank = blank and not chunk.strip()
            line += chunk.count(b"\n")
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            reason = f"byte {offset - 1}: {exc.reason}"
            raise DataError(f"{path}: line {line}: bytes that are not UTF-8 ({reason})") from None
    if blank:
        raise DataError(f"{path}: the file is empty")
    header = next(csv.reader([first.split(b"\n", 1)[0].decode("utf-8", "replace").lstrip("\ufeff")]), [])
    check_header(path, [name.strip() for name in header])


def _spark_reason(exc: Exception) -> str:
    """The first line of Spark's message, without the JVM stack trace."""
    text = getattr(exc, "desc", None) or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
