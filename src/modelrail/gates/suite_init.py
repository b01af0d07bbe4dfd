"""`modelrail suite init`: draft an expectation suite from one or more data files, for a human to review."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from modelrail.data_files import load_table
from modelrail.errors import ConfigError
from modelrail.files import write_json_atomic

VALUE_SET_MAX = 10  # columns with at most this many distinct values get an in-set expectation
# A float column gets a value set only when each distinct value repeats this often on average: codes such as 1.0/2.0
# repeat, while a handful of measurements that happen to be few stay a range.
FLOAT_SET_REPEATS = 5
MARGIN = 0.1  # ranges are widened by this share of the observed range, so new honest data still fits
# The row-count minimum is this share of the smallest file seen: a truncated export fails, a normal refresh passes.
ROW_COUNT_SHARE = 0.5


@dataclass
class SuiteDraft:
    path: Path
    name: str
    expectations: list[dict]


def run(data_paths: list[Path], out_path: Path, name: str | None, force: bool) -> SuiteDraft:
    """Draft a suite that every file in `data_paths` passes: the union of their types, values and ranges."""
    if out_path.is_dir():
        raise ConfigError(f"{out_path}: is a directory (fix: --out names the suite file, e.g. {out_path}/raw.json)")
    if out_path.exists() and not force:
        raise ConfigError(f"{out_path}: already exists (review and edit it, or pass --force to redraft)")
    frames = [load_table(path).frame for path in data_paths]
    columns = [str(c) for c in frames[0].columns]
    for path, frame in zip(data_paths[1:], frames[1:], strict=True):
        if [str(c) for c in frame.columns] != columns:
            raise ConfigError(
                f"{path}: its columns differ from {data_paths[0]}'s, so one suite cannot fit both "
                "(fix: draft a suite per file layout)"
            )
    name = name or out_path.stem
    smallest = min(len(frame) for frame in frames)
    expectations = [
        _expect("expect_table_columns_to_match_ordered_list", column_list=columns),
        _expect("expect_table_row_count_to_be_between", min_value=_row_minimum(smallest), max_value=None),
    ]
    for column in frames[0].columns:
        expectations.extend(_column_expectations(str(column), [frame[column] for frame in frames]))
    suite = {
        "name": name,
        "expectations": expectations,
        "meta": {
            "drafted_by": "modelrail suite init",
            "drafted_from": [str(path) for path in data_paths],
            "rows": [len(frame) for frame in frames],
        },
    }
    write_json_atomic(out_path, suite)
    return SuiteDraft(path=out_path, name=name, expectations=expectations)


def _row_minimum(rows: int) -> int:
    return max(1, math.floor(rows * ROW_COUNT_SHARE))


def _expect(kind: str, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": {}}


def _type_names(series) -> set[str]:
    # GX checks an object column value by value, by Python type name (str; date, list, ... from Parquet); other
    # columns by dtype name.
    if series.dtype == object:
        return {type(value).__name__ for value in series.dropna()} or {"str"}
    return {str(series.dtype)}


def _column_expectations(column: str, parts: list) -> list[dict]:
    import pandas as pd
    from pandas.api import types

    kinds = sorted(set().union(*(_type_names(series) for series in parts)))
    drafted = [_expect("expect_column_values_to_be_in_type_list", column=column, type_list=kinds)]
    if not any(series.isna().any() for series in parts):
        drafted.append(_expect("expect_column_values_to_not_be_null", column=column))
    values = pd.concat([series.dropna() for series in parts], ignore_index=True)
    is_float = any(types.is_float_dtype(series) for series in parts)
    is_number = all(types.is_numeric_dtype(s) and not types.is_bool_dtype(s) for s in parts)
    # Value sets only of what JSON holds exactly: text, numbers, booleans (not dates or lists).
    settable = is_number or all(types.is_bool_dtype(s) for s in parts) or kinds == ["str"]
    distinct = values.unique() if settable else ()
    if is_float:
        distinct = [value for value in distinct if math.isfinite(value)]
    few = settable and len(distinct) <= VALUE_SET_MAX
    if few and (not is_float or len(values) >= FLOAT_SET_REPEATS * len(distinct)):
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
