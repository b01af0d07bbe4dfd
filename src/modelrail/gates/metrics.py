"""A metrics file: read strictly, looked up by dotted name (the model gate and the champion share both)."""

from __future__ import annotations

from pathlib import Path

from modelrail.files import load_json_object


def load_metrics(path: Path) -> tuple[dict, bytes]:
    """The metrics object; strict JSON, so NaN, Infinity and 1e999 are refused here, naming the file."""
    return load_json_object(
        path, "metrics (name -> number)", missing="no such metrics file (run the evaluate stage first)"
    )


def lookup(metrics: dict, name: str):
    """Metric by name; a dotted name reaches into nested objects (DVC metrics files may nest)."""
    value = metrics
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
