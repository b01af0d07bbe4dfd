"""`modelrail suite init`: draft an expectation suite from a data file, for a human to review."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelrail.data_files import load_table
from modelrail.errors import ConfigError
from modelrail.files import write_json_atomic

VALUE_SET_MAX = 10  # columns with at most this many distinct values get an in-set expectation
MARGIN = 0.1  # ranges are widened by this share of the observed range, so new honest data still fits


@dataclass
class SuiteDraft:
    path: Path
    name: str
    expectations: list[dict]


def run(data_path: Path, out_path: Path, name: str | None, force: bool) -> SuiteDraft:
    if out_path.is_dir():
        raise ConfigError(f"{out_path}: is a directory (fix: --out names the suite file, e.g. {out_path}/raw.json)")
    if out_path.exists() and not force:
        raise ConfigError(f"{out_path}: already exists (review and edit it, or pass --force to redraft)")
    frame = load_table(data_path).frame
    name = name or out_path.stem
    expectations = [
        _expect("expect_table_columns_to_match_ordered_list", column_list=[str(c) for c in frame.columns]),
        _expect("expect_table_row_count_to_be_between", min_value=1, max_value=None),
    ]
    for column in frame.columns:
        expectations.extend(_column_expectations(str(column), frame[column]))
    suite = {
        "name": name,
        "expectations": expectations,
        "meta": {"drafted_by": "modelrail suite init", "drafted_from": str(data_path), "rows": len(frame)},
    }
    write_json_atomic(out_path, suite)
    return SuiteDraft(path=out_path, name=name, expectations=expectations)


def _expect(kind: str, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": {}}


def _column_expectations(column: str, series) -> list[dict]:
    from pandas.api import types

    values = series.dropna()
    if series.dtype == object:
        # GX checks an object column value by value, by Python type name (str; date, list, ... from Parquet).
        type_list = sorted({type(value).__name__ for value in values}) or ["str"]
    else:
        type_list = [str(series.dtype)]
    drafted = [_expect("expect_column_values_to_be_in_type_list", column=column, type_list=type_list)]
    if not series.isna().any():
        drafted.append(_expect("expect_column_values_to_not_be_null", column=column))
    is_number = types.is_numeric_dtype(series) and not types.is_bool_dtype(series)
    # Value sets only of what JSON holds exactly: text, whole numbers, booleans (not dates, lists or floats).
    settable = types.is_integer_dtype(series) or types.is_bool_dtype(series) or type_list == ["str"]
    distinct = values.unique() if settable else ()
    if settable and len(distinct) <= VALUE_SET_MAX:
        drafted.append(_expect("expect_column_values_to_be_in_set", column=column, value_set=sorted(_plain(distinct))))
    elif is_number:
        finite = values[values.abs() != float("inf")]  # a range with an infinite end would accept anything
        if len(finite):
            low, high = float(finite.min()), float(finite.max())
            slack = (high - low) * MARGIN
            lower = low - slack if low < 0 or low - slack >= 0 else 0.0
            drafted.append(
                _expect(
                    "expect_column_values_to_be_between",
                    column=column,
                    min_value=round(lower, 6),
                    max_value=round(high + slack, 6),
                )
            )
    return drafted


def _plain(values) -> list:
    return [value.item() if hasattr(value, "item") else value for value in values]
