"""Read a CSV or Parquet file into a DataFrame, refusing anything malformed with a message that says why."""

from __future__ import annotations

import csv
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelrail.errors import ConfigError, DataError
from modelrail.files import digests, folder_digest, max_data_bytes, read_regular

if TYPE_CHECKING:
    import pandas as pd

CSV_SUFFIXES = {".csv"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


@dataclass
class Table:
    path: Path
    frame: pd.DataFrame
    digests: dict[str, str]

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        return [str(name) for name in self.frame.columns]

    def type_name(self, column: str) -> str:
        dtype = self.frame[column].dtype
        return "str" if dtype.kind == "O" else str(dtype)


def read_bytes(path: Path) -> bytes:
    """A data file's bytes: a regular file (symlinks followed) of at most MODELRAIL_MAX_DATA_MB."""
    if path.suffix.lower() not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        raise ConfigError(f"{path}: unsupported file type '{path.suffix[:20]}' (use .csv or .parquet)")
    return read_regular(path, max_data_bytes())


def parquet_parts(folder: Path) -> list[Path]:
    """The Parquet files of a (possibly hive-partitioned) data set folder, skipping `_SUCCESS`, `.crc` and the like."""
    parts = sorted(
        file
        for file in folder.rglob("*")
        if file.is_file()
        and file.suffix.lower() in PARQUET_SUFFIXES
        and not any(part.startswith((".", "_")) for part in file.relative_to(folder).parts)
    )
    if not parts:
        raise ConfigError(f"{folder}: a folder is read as a Parquet data set, but it holds no .parquet files")
    return parts


def load_table(path: Path) -> Table:
    """Load a data file or a Parquet data set folder; DataError names the file (and line or column) when it is bad."""
    if path.is_dir():
        return _load_parquet_folder(path)
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
    check_header(path, [name.strip() for name in header])

    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        # An empty field is missing in a text column too (pyarrow's default keeps it as ''), as pandas and Spark
        # read it: a not-null expectation on a text column must see it.
        options = pacsv.ConvertOptions(strings_can_be_null=True)
        table = pacsv.read_csv(pa.BufferReader(data), convert_options=options)
    except pa.ArrowInvalid as exc:
        reason = str(exc).removeprefix("CSV parse error: ")
        raise DataError(f"{path}: malformed or truncated CSV: {shorten(reason)}") from None
    return _to_frame(table)


def _parse_parquet(path: Path, data: bytes) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet file: {shorten(str(exc))}") from None
    check_header(path, table.column_names)
    return _to_frame(table)


def _load_parquet_folder(folder: Path) -> Table:
    import pyarrow as pa
    import pyarrow.dataset as ds

    parts = parquet_parts(folder)
    try:
        # Hive partition folders (`label=a/`) become columns, as Spark reads them.
        table = ds.dataset(parts, format="parquet", partitioning="hive", partition_base_dir=str(folder)).to_table()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{folder}: not a readable Parquet data set: {shorten(str(exc))}") from None
    check_header(folder, table.column_names)
    frame = _to_frame(table)
    if frame.empty:
        raise DataError(f"{folder}: the Parquet data set has no rows")
    return Table(path=folder, frame=frame, digests=folder_digest(folder, parts))


def _to_frame(table) -> pd.DataFrame:
    """Text columns become 'object': GX 1.x type checks know numpy dtypes and 'object', not pandas 3's 'str'."""
    import pyarrow as pa

    frame = table.to_pandas()
    for field in table.schema:
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            frame[field.name] = frame[field.name].astype(object)
    return frame


def check_header(path: Path, names: list[str]) -> None:
    if not names or all(not name for name in names):
        raise DataError(f"{path}: no header row with column names")
    for index, name in enumerate(names, start=1):
        if not name:
            raise DataError(f"{path}: column {index} has an empty name in the header")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"{path}: duplicate column name(s) in the header: {', '.join(map(repr, duplicates))}")


def shorten(text: str, limit: int = 200) -> str:
    """The parser's reason without the content it quotes: the file may be a link to one outside the repository."""
    text = re.sub(r"(got \d+)\b.*", r"\1", " ".join(text.split()))
    text = re.sub(r"'[^']*'", "'...'", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_number(arrow_type) -> bool:
    """Integer or floating point (not bool): a column drift bins by value ranges."""
    import pyarrow as pa

    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)


def data_set_files(path: Path) -> list[Path]:
    """A file, or a folder's .csv and .parquet files (logs, partitions) in name order, hidden ones skipped."""
    if not path.is_dir():
        read_bytes_check(path)
        return [path]
    files = sorted(
        file
        for file in path.rglob("*")
        if file.is_file()
        and file.suffix.lower() in CSV_SUFFIXES | PARQUET_SUFFIXES
        and not any(part.startswith((".", "_")) for part in file.relative_to(path).parts)
    )
    if not files:
        raise ConfigError(f"{path}: the folder holds no .csv or .parquet files (point --current at the data)")
    return files


def read_bytes_check(path: Path) -> None:
    """What read_bytes refuses, without reading the file: an unsupported type, a missing file, a folder."""
    if path.suffix.lower() not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        raise ConfigError(f"{path}: unsupported file type '{path.suffix}' (use .csv or .parquet)")
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")


@dataclass(frozen=True)
class Part:
    """A piece of a data set that reads on its own: one row group of a Parquet file (`row_group`), or a CSV file."""

    file: Path
    row_group: int | None = None


def data_parts(path: Path) -> list[Part]:
    """A file's or a folder's parts in reading order: what iter_batches reads, in pieces that can be read apart."""
    import pyarrow.parquet as pq

    parts = []
    for file in data_set_files(path):
        if file.stat().st_size == 0:
            raise DataError(f"{file}: the file is empty")
        if file.suffix.lower() in PARQUET_SUFFIXES:
            with _readable(file):
                groups = pq.ParquetFile(file).num_row_groups
            parts += [Part(file, group) for group in range(groups)]
        else:
            parts.append(Part(file))
    return parts


def read_part(part: Part, batch_rows: int, threads: bool = True):
    """A part's pyarrow RecordBatches with rows, one at a time; `threads=False` decodes on this thread alone."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    with _readable(part.file):
        if part.row_group is not None:
            # Mapped, not read: pyarrow decodes from the page cache without first copying the file's bytes.
            parquet = pq.ParquetFile(part.file, memory_map=True)
            reader = parquet.iter_batches(batch_size=batch_rows, row_groups=[part.row_group], use_threads=threads)
        else:
            # Blocks of ~batch_rows short rows; types are inferred from the first block, as pandas's reader does.
            options = pacsv.ReadOptions(block_size=max(batch_rows * 64, 1 << 20), use_threads=threads)
            reader = pacsv.open_csv(part.file, read_options=options)
        first = True
        for batch in reader:
            if first:
                check_header(part.file, [str(name) for name in batch.schema.names])
                first = False
            if batch.num_rows:
                yield batch


def iter_batches(path: Path, batch_rows: int):
    """(file, pyarrow RecordBatch) for a file or folder, one batch at a time: memory does not grow with the rows."""
    for part in data_parts(path):
        for batch in read_part(part, batch_rows):
            yield part.file, batch


@contextmanager
def _readable(file: Path):
    """pyarrow's and the system's read errors as the DataError that names the file."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowException, OSError) as exc:
        parquet = file.suffix.lower() in PARQUET_SUFFIXES
        what = "not a readable Parquet file" if parquet else "malformed or truncated CSV"
        raise DataError(f"{file}: {what}: {shorten(str(exc).removeprefix('CSV parse error: '))}") from None
