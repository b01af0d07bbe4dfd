"""Drift's counting on Spark (`modelrail drift --engine spark`, or `drift.engine: spark`).

Spark reads the current data (a CSV or Parquet file, or a partitioned Parquet data set) with the refusals of the
Spark data gate, and each partition is counted into the reference's bins where it is (`mapInArrow`): the same
ColumnCounts as the pandas engine, so for the same rows both engines give the same counts and verdicts. Only each
partition's counts come back to the driver. Local mode by default; with `spark.master` naming a cluster, the workers
need this package installed (they import it to count).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from modelrail.gates.drift_columns import ColumnCounts, Settings

# The column Spark adds to name each row's file (for the record's rows per file); never a data column's name.
FILE_COLUMN = "__modelrail_file__"


def count(
    profile: dict, wanted: list[str], current: Path, settings: Settings
) -> tuple[dict[str, ColumnCounts], list[str], dict[Path, int]]:
    """Counts per reference column, the current data's columns, and its rows per file."""
    import json

    from pyspark.sql import functions as F

    from modelrail.engines import spark_session
    from modelrail.spark_data import load_spark_table

    # The record's digests come from the gate's own hashing thread: the table is not hashed a second time here.
    table = load_spark_table(spark_session(settings.config), current, digests=())
    present = [str(name) for name in table.columns]
    profiles = {name: profile["columns"][name] for name in wanted if name in present}
    frame = table.frame.select(*[F.col(f"`{name}`") for name in profiles], F.input_file_name().alias(FILE_COLUMN))

    def count_partition(batches):
        import pyarrow as pa
        import pyarrow.compute as pc

        from modelrail.gates.drift_columns import ColumnCounts

        counts = {name: ColumnCounts(name, column) for name, column in profiles.items()}
        files: dict[str, int] = {}
        for batch in batches:
            for item in pc.value_counts(batch.column(FILE_COLUMN)).to_pylist():
                files[item["values"]] = files.get(item["values"], 0) + item["counts"]
            for name, column in counts.items():
                column.add(batch.column(name))
        state = {"columns": {name: column.state() for name, column in counts.items()}, "files": files}
        yield pa.RecordBatch.from_pydict({"state": [json.dumps(state)]})

    columns = {name: ColumnCounts(name, profile["columns"][name]) for name in wanted}
    rows: dict[Path, int] = {}
    for row in frame.mapInArrow(count_partition, "state string").toLocalIterator():
        state = json.loads(row["state"])
        for name, part in state["columns"].items():
            columns[name].merge(part)
        for uri, found in state["files"].items():
            file = Path(unquote(urlparse(uri).path))
            rows[file] = rows.get(file, 0) + found
    return columns, present, _as_given(current, rows)


def _as_given(current: Path, rows: dict[Path, int]) -> dict[Path, int]:
    """Rows per file, named as the pandas engine names them (under `current` as given), in name order."""
    if not current.is_dir():
        return {current: sum(rows.values())}
    root = current.resolve()
    return {current / file.relative_to(root): found for file, found in sorted(rows.items())}
