"""`modelrail gate data`: validate data files against a Great Expectations suite and record the verdict."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from modelrail.data_files import Table, load_table
from modelrail.engines import PANDAS, SPARK
from modelrail.errors import DataError
from modelrail.files import inside_repo
from modelrail.gates.records import Check, GateResult, publish
from modelrail.gates.suites import Suite, load_suite, to_gx_suite

TOOLS = ("great_expectations", "pandas", "pyarrow")
_EXAMPLES = 5
# A suite names pandas dtypes (`suite init` drafts them); on Spark the same column has these schema types.
SPARK_TYPES = {
    "float64": ["DoubleType"],
    "float32": ["FloatType"],
    "float": ["DoubleType", "FloatType"],
    # CSV inference picks the narrowest integer type that holds the column; pandas reads every one as int64.
    "int64": ["LongType", "IntegerType", "ShortType", "ByteType"],
    "int32": ["IntegerType"],
    "int": ["LongType", "IntegerType", "ShortType", "ByteType"],
    "str": ["StringType"],
    "object": ["StringType"],
    "bool": ["BooleanType"],
    "datetime64[ns]": ["TimestampType", "TimestampNTZType"],
    "datetime64[us]": ["TimestampType", "TimestampNTZType"],
}


def run(
    data_paths: list[Path],
    suite_path: Path,
    record_path: Path,
    summary_path: Path,
    engine: str = PANDAS,
    config: dict | None = None,
) -> GateResult:
    """Validate every data file against the suite on the chosen engine; write the gate record and summary either way."""
    suite = load_suite(suite_path)
    checks: list[Check] = []
    inputs: dict = {"suite": {"path": str(suite_path), **suite.digests}, "engine": engine, "data": []}
    load, validate = _engine(engine, config or {}, suite)
    tables = []
    for path in data_paths:
        try:
            table = load(path)
        except DataError as exc:
            checks.append(Check(name="readable", success=False, message=str(exc), file=str(path)))
            inputs["data"].append({"path": str(path)})
            continue
        tables.append(table)
        inputs["data"].append({"path": str(path), "rows": table.rows, **table.digests})
    if tables:
        gx_suite = to_gx_suite(_for_engine(suite, engine))
        for table in tables:
            checks.extend(validate(table, gx_suite))
    tools = TOOLS + (("pyspark",) if engine == SPARK else ())
    result = GateResult("data", checks, inputs, record_path, summary_path, tools)
    publish(result)
    return result


def _engine(engine: str, config: dict, suite: Suite):
    """The loader and validator of one engine; the Spark session starts only when Spark is chosen."""
    if engine == PANDAS:
        return load_table, _validate
    from modelrail.engines import spark_session
    from modelrail.spark_data import load_spark_table

    spark = spark_session(config)
    type_lists = _suite_type_lists(suite)
    return (lambda path: load_spark_table(spark, path)), lambda table, gx_suite: _validate_spark(
        table, gx_suite, type_lists
    )


def check_table(table: Table, suite: Suite) -> list[Check]:
    """The suite's checks on a table loaded elsewhere (drift runs the raw-data suite on the current data)."""
    return _validate(table, to_gx_suite(suite))


def _context():
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    return context


def _validate(table: Table, gx_suite) -> list[Check]:
    batch = (
        _context()
        .data_sources.add_pandas("modelrail")
        .add_dataframe_asset(table.path.name)
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": table.frame})
    )
    validation = batch.validate(gx_suite, result_format="SUMMARY")
    return [_to_check(outcome, table) for outcome in validation.results]


def _validate_spark(table, gx_suite, type_lists: dict) -> list[Check]:
    batch = (
        _context()
        .data_sources.add_spark("modelrail")
        .add_dataframe_asset(table.path.name or "data")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": table.frame})
    )
    validation = batch.validate(gx_suite, result_format="SUMMARY")
    return [_to_check(outcome, table, type_lists) for outcome in validation.results]


def _for_engine(suite: Suite, engine: str) -> Suite:
    """On Spark, a type expectation's pandas dtype names become the matching Spark schema type names."""
    if engine == PANDAS:
        return suite
    expectations = []
    for expectation in suite.expectations:
        kwargs = expectation["kwargs"]
        typed = expectation["type"] == "expect_column_values_to_be_in_type_list"
        if typed and isinstance(kwargs.get("type_list"), list):
            names = [spark for name in kwargs["type_list"] for spark in SPARK_TYPES.get(str(name), [str(name)])]
            expectation = {**expectation, "kwargs": {**kwargs, "type_list": names}}
        expectations.append(expectation)
    return replace(suite, expectations=expectations)


def _suite_type_lists(suite: Suite) -> dict:
    """Column -> the suite's own type list, so that a Spark record states the suite's words, as pandas's does."""
    return {
        expectation["kwargs"].get("column"): expectation["kwargs"].get("type_list")
        for expectation in suite.expectations
        if expectation["type"] == "expect_column_values_to_be_in_type_list"
    }


def _to_check(outcome, table, type_lists: dict | None = None) -> Check:
    config = outcome.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    column = kwargs.get("column")
    if type_lists is not None and config.type == "expect_column_values_to_be_in_type_list":
        kwargs["type_list"] = type_lists.get(column, kwargs.get("type_list"))
    result = dict(outcome.result or {})
    details: dict = {"kwargs": kwargs}
    for key in ("observed_value", "element_count", "unexpected_count", "unexpected_percent"):
        if result.get(key) is not None:
            details[key] = _plain(result[key])
    # Values from a file outside the repository (a symlink out of it) are never quoted into records or reports.
    quotable = inside_repo(table.path)
    examples = [_plain(value) for value in (result.get("partial_unexpected_list") or [])[:_EXAMPLES] if quotable]
    if examples:
        details["unexpected_examples"] = examples
        # Rows counted from 1 without the header, as a spreadsheet or `sed -n` (plus one) shows them.
        indexes = result.get("partial_unexpected_index_list") or []
        if len(indexes) >= len(examples):
            details["unexpected_rows"] = [_plain(index) + 1 for index in indexes[: len(examples)]]
    if outcome.success:
        message = "ok"
    elif column is not None and column not in table.columns:
        details["missing_column"] = True  # reported once per file for all such checks, not once per check
        message = f"column '{column}' is missing from {table.path}"
    else:
        message = _failure_message(config.type, kwargs, details, table)
    return Check(
        name=config.type,
        success=bool(outcome.success),
        message=message,
        file=str(table.path),
        column=column,
        details=details,
    )


def _failure_message(kind: str, kwargs: dict, details: dict, table) -> str:
    present = set(table.columns)
    where = f"{table.path}: column '{kwargs['column']}'" if "column" in kwargs else str(table.path)
    if "column_list" in kwargs or "column_set" in kwargs:
        expected = list(kwargs.get("column_list") or kwargs.get("column_set") or [])
        missing = [name for name in expected if name not in present]
        extra = [name for name in table.columns if name not in expected]
        details["missing_columns"], details["unexpected_columns"] = missing, [str(name) for name in extra]
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected column(s): {', '.join(map(str, extra))}")
        if not parts:
            parts.append("columns are out of order")
        return f"{table.path}: {'; '.join(parts)}"
    if kind == "expect_column_values_to_be_in_type_list":
        found = table.type_name(kwargs["column"])
        found = f"text ({found})" if found in ("str", "StringType") else found
        if isinstance(table, Table):  # pandas: count the values that do not fit; Spark checks the schema type only
            _count_wrong_types(table.frame[kwargs["column"]], kwargs["type_list"], details)
        message = f"{where}: expected type {' or '.join(kwargs['type_list'])}, found {found}"
        if "unexpected_count" in details:
            message += f": {details['unexpected_count']} of {details['element_count']} values{_examples(details)}"
        return message
    expected = ", ".join(f"{key}={value}" for key, value in kwargs.items() if key != "column")
    if "unexpected_count" in details:
        seen = f"{details['unexpected_count']} of {details.get('element_count', '?')} values fail"
        return f"{where}: {seen} {kind}({expected}){_examples(details)}"
    if "observed_value" in details:
        return f"{where}: {kind}({expected}) observed {details['observed_value']}"
    return f"{where}: {kind}({expected}) failed"


def _examples(details: dict) -> str:
    """`, e.g. row 3: 300, row 9: -5` from a check's examples and their rows (values alone if rows are unknown)."""
    examples = details.get("unexpected_examples")
    if not examples:
        return ""
    rows = details.get("unexpected_rows") or []
    if len(rows) == len(examples):
        return ", e.g. " + ", ".join(f"row {row}: {value!r}" for row, value in zip(rows, examples, strict=True))
    return f", e.g. {examples}"


def _count_wrong_types(series, type_list: list[str], details: dict) -> None:
    """How many values do not fit a numeric type (not a number; not a whole number for an integer type), with
    examples: a column's type is decided by its worst values, and the check alone only says which type it found."""
    import pandas as pd

    if not any(name.lower().startswith(("int", "float", "double", "number")) for name in type_list):
        return
    present = series.notna()
    numbers = pd.to_numeric(series, errors="coerce")
    misfits = present & numbers.isna()
    if all(name.lower().startswith("int") for name in type_list):
        misfits |= present & (numbers % 1 != 0)  # 8.5 in an integer column is a number, but not one that fits
    wrong = series[misfits]
    details["element_count"] = int(present.sum())
    details["unexpected_count"] = len(wrong)
    # GX's own percentage for a type check is of the column (100), not of the values counted here.
    details["unexpected_percent"] = 100 * len(wrong) / details["element_count"] if details["element_count"] else 0.0
    details["unexpected_examples"] = [_plain(value) for value in wrong.head(_EXAMPLES)]
    details["unexpected_rows"] = [int(index) + 1 for index in wrong.head(_EXAMPLES).index]


def _plain(value):
    """JSON-safe form of numpy/pandas scalars and NaN, for the record."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
