"""Expectation suites stored as JSON in the model repo: load and check their shape before GX sees them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelrail.errors import ConfigError
from modelrail.files import digests, load_json_object


@dataclass
class Suite:
    path: Path
    name: str
    expectations: list[dict]
    digests: dict[str, str]


def load_suite(path: Path) -> Suite:
    """Read a GX 1.x suite JSON: {"name": ..., "expectations": [{"type": ..., "kwargs": {...}}]}."""
    # Strict JSON: an expectation's bound of NaN or Infinity would make it pass everything.
    data, raw = load_json_object(path, "a suite (with 'name' and 'expectations')", missing="no such suite file")
    expectations = data.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise ConfigError(f"{path}: key 'expectations' must be a non-empty list")
    for index, expectation in enumerate(expectations):
        where = f"{path}: expectations[{index}]"
        if not isinstance(expectation, dict):
            raise ConfigError(f"{where}: must be an object with 'type' and 'kwargs'")
        if not isinstance(expectation.get("type"), str) or not expectation["type"].startswith("expect_"):
            raise ConfigError(f"{where}: key 'type' must name an expectation, e.g. 'expect_column_to_exist'")
        if not isinstance(expectation.get("kwargs", {}), dict):
            raise ConfigError(f"{where}: key 'kwargs' must be an object")
        expectation.setdefault("kwargs", {})
    name = data.get("name") or path.stem
    if not isinstance(name, str):
        raise ConfigError(f"{path}: key 'name' must be a string")
    return Suite(path=path, name=name, expectations=expectations, digests=digests(raw))


def to_gx_suite(suite: Suite):
    """Build the GX ExpectationSuite; an unknown expectation or bad argument names the suite file."""
    import logging

    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    # GX logs and drops an expectation it cannot build; the gate must refuse the suite instead.
    logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
    built = gx.ExpectationSuite(name=suite.name)
    for index, expectation in enumerate(suite.expectations):
        try:
            config = ExpectationConfiguration(
                type=expectation["type"], kwargs=expectation["kwargs"], meta=expectation.get("meta") or {}
            )
            before = len(built.expectations)
            built.add_expectation_configuration(config)
        except Exception as exc:  # GX raises many types for a bad configuration; all mean the suite is wrong
            reason = " ".join(str(exc).split())
            where = f"{suite.path}: expectations[{index}] ({expectation['type']})"
            raise ConfigError(f"{where} is not a valid expectation: {reason}") from None
        # GX keeps one expectation per type and column: a second one silently replaces the first, whose check would
        # then never run (a range of 0-2 followed by one of 5-9 would check 5-9 only).
        if len(built.expectations) == before:
            raise ConfigError(
                f"{suite.path}: expectations[{index}] ({expectation['type']}) repeats an earlier expectation of the "
                "same type on the same column, which it would replace (fix: merge the two into one)"
            )
    return built
