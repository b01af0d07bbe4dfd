"""The gate records the pull-request report reads: this run's, those left over, and the base branch's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from modelrail.errors import ConfigError
from modelrail.files import parse_json, read_regular
from modelrail.git import git_output
from modelrail.pipeline import output_order, written_since


@dataclass
class Gate:
    """One gate record as the report sees it: from this run, or left over from an earlier commit."""

    path: str
    record: dict | None
    fresh: bool
    base: dict | None = None

    @property
    def state(self) -> str:
        if self.record is None or not self.fresh:
            return "not run"
        return "passed" if self.record.get("passed") is True else "failed"


def read_gates(gates_dir: Path, stale: set[str], since: float | None, base_rev: str | None) -> list[Gate]:
    outputs = output_order()
    paths = sorted(gates_dir.glob("*.json"), key=lambda p: (outputs.get(p.as_posix(), len(outputs)), p.name))
    base_paths = []
    if base_rev:
        listing = git_output("ls-tree", "--name-only", f"{base_rev}:{gates_dir.as_posix()}") or ""
        base_paths = [gates_dir / name for name in listing.split() if name.endswith(".json")]
    gates = []
    for path in paths + [p for p in base_paths if p not in paths]:
        rel = path.as_posix()
        record = load_record(_read(path))
        if since is None:
            fresh = rel not in stale
        else:
            # Written by this run, or the output of a stage that dvc.lock proves is up to date.
            fresh = written_since(rel, since) or (rel in outputs and rel not in stale)
        base_record = load_record(git_output("show", f"{base_rev}:{rel}")) if base_rev else None
        gates.append(Gate(rel, record, fresh and record is not None, base_record))
    return gates


def _read(path: Path) -> bytes | None:
    try:
        return read_regular(path)
    except ConfigError:  # missing, a directory, a FIFO, too large: no record
        return None


def load_record(text: str | bytes | None) -> dict | None:
    """A gate record, or None when there is none or it is malformed (then the gate counts as not passed)."""
    if not text:
        return None
    try:
        record = parse_json(text.encode("utf-8") if isinstance(text, str) else text, "gate record")
    except ConfigError:
        return None
    if not isinstance(record, dict):
        return None
    checks = record.get("checks") if isinstance(record.get("checks"), list) else []
    record["checks"] = [_check_fields(check) for check in checks if isinstance(check, dict)]
    if not isinstance(record.get("inputs"), dict):
        record["inputs"] = {}
    return record


def _check_fields(check: dict) -> dict:
    """A check with the fields the report reads in the types it reads them (a record is a claim, not a schema)."""
    for key in ("name", "column", "file", "message"):
        if check.get(key) is not None and not isinstance(check[key], str):
            check[key] = json.dumps(check[key])[:200]
    if not isinstance(check.get("details"), dict):
        check["details"] = {}
    check["success"] = check.get("success") is True
    return check
