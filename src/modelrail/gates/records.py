"""Gate records: the JSON proof of what a gate checked, and the Markdown that reports it."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from modelrail import __version__, github
from modelrail.files import finite, write_atomic, write_json_atomic
from modelrail.markdown import escape


@dataclass
class Check:
    """One check of a gate: what was checked, whether it passed, and what was seen."""

    name: str
    success: bool
    message: str
    file: str | None = None
    column: str | None = None
    details: dict = field(default_factory=dict)


@dataclass
class GateResult:
    """What a gate command returns: the CLI maps `passed` to the exit code."""

    gate: str
    checks: list[Check]
    inputs: dict
    record_path: Path
    summary_path: Path
    tools: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.success for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.success]


def _versions(tools: tuple[str, ...]) -> dict[str, str]:
    versions = {"modelrail": __version__, "python": platform.python_version()}
    for tool in tools:
        try:
            versions[tool] = metadata.version(tool)
        except metadata.PackageNotFoundError:
            versions[tool] = "not installed"
    return versions


def to_record(result: GateResult) -> dict:
    return {
        "gate": result.gate,
        "passed": result.passed,
        "inputs": finite(result.inputs),
        "checks": [
            {key: finite(value) for key, value in vars(check).items() if value not in (None, {})}
            for check in result.checks
        ],
        "versions": _versions(result.tools),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _table(checks: list[Check]) -> list[str]:
    rows = ["| | check | file | column | result |", "|---|---|---|---|---|"]
    for check in checks:
        rows.append(
            f"| {'✅' if check.success else '❌'} | {escape(check.name)} | {escape(check.file or '')} "
            f"| {escape(check.column or '')} | {escape(check.message)} |"
        )
    return rows


def render_summary(result: GateResult) -> str:
    """Markdown for the terminal, $GITHUB_STEP_SUMMARY and the pull-request report: failures first."""
    passed = [check for check in result.checks if check.success]
    heading = "✅ passed" if result.passed else "❌ FAILED"
    # Named by the record: the raw and the feature gates are both data gates, and summaries are read side by side.
    name = "" if result.record_path.stem == result.gate else f"{escape(result.record_path.stem)}: "
    lines = [f"### {name}{result.gate} gate {heading}", "", f"{len(passed)} of {len(result.checks)} checks passed.", ""]
    if result.failures:
        lines += [*_table(result.failures), ""]
    if passed:
        lines += ["<details><summary>Passed checks</summary>", "", *_table(passed), "", "</details>", ""]
    return "\n".join(lines)


def render_terminal(result: GateResult) -> tuple[list[str], list[tuple[str | None, str]]]:
    """The terminal's share of a gate: a one-line verdict (and the notes of passed checks that carry one), and each
    failure once as (file, message), grouped where one cause fails many checks (a missing column fails every check
    on it). The full table is in the Markdown summary."""
    verdict = (
        f"{result.gate} gate {'passed' if result.passed else 'FAILED'}: "
        f"{len(result.checks) - len(result.failures)} of {len(result.checks)} checks passed "
        f"(record {result.record_path}, full table {result.summary_path})"
    )
    notes = [f"NOTE: {check.message}" for check in result.checks if check.success and check.details.get("note")]
    missing: dict[str | None, dict[str, None]] = {}  # file -> missing columns, in the order first seen
    on_missing: dict[str | None, int] = {}
    failures: list[tuple[str | None, str]] = []
    for check in result.failures:
        if check.details.get("missing_column") or check.details.get("missing_columns"):
            missing.setdefault(check.file, {}).update(
                dict.fromkeys(check.details.get("missing_columns") or [check.column])
            )
            on_missing[check.file] = on_missing.get(check.file, 0) + 1
            if check.details.get("unexpected_columns"):
                failures.append(
                    (
                        check.file,
                        f"{check.file}: unexpected column(s): {', '.join(check.details['unexpected_columns'])}",
                    )
                )
        else:
            failures.append((check.file, check.message))
    grouped = [
        (
            file,
            f"{file}: {len(columns)} missing column(s): {', '.join(columns)} ({on_missing[file]} checks fail on them)",
        )
        for file, columns in missing.items()
    ]
    return [verdict, *notes], list(dict.fromkeys(grouped + failures))


def publish(result: GateResult, details: str = "") -> str:
    """Write the record and summary atomically; inside GitHub Actions also annotate and summarise.

    `details` is gate-specific Markdown (e.g. the drift table and charts) appended after the checks.
    """
    summary = render_summary(result) + (f"{details.rstrip()}\n" if details else "")
    write_json_atomic(result.record_path, to_record(result))
    write_atomic(result.summary_path, summary)
    for file, message in render_terminal(result)[1]:
        github.error(f"{result.gate} gate: {message}", file)
    github.summary(summary + "\n")
    return summary
