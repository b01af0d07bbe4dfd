"""GitHub Actions: step outputs ($GITHUB_OUTPUT), `::error::` annotations and the job summary ($GITHUB_STEP_SUMMARY).

The one writer of all three; outside a runner, outputs and the summary are no-ops and annotations are not printed.
"""

from __future__ import annotations

import os
import secrets

from modelrail.errors import ConfigError


def in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def write(values: dict[str, str]) -> None:
    """Append single-line outputs; the composite actions map them to their own outputs."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in values.items():
            text = str(value)
            if "\n" in text or "\r" in text:
                raise ConfigError(f"step output '{name}' must be one line, got a line break in {text[:60]!r}")
            handle.write(f"{name}={text}\n")


def write_multiline(name: str, value: str) -> None:
    """A multi-line output, between a random delimiter the value cannot contain by chance or by design."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    delimiter = f"modelrail_{secrets.token_hex(16)}"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def _escape_data(text: str) -> str:
    # The runner's workflow-command encoding: a newline in the message would end the command.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def error(message: str, file: str | None = None) -> None:
    """An `::error::` annotation on stdout, inside GitHub Actions only."""
    if not in_actions():
        return
    where = f" file={_escape_property(file)}" if file else ""
    print(f"::error{where}::{_escape_data(message)}", flush=True)


def summary(markdown: str) -> None:
    """Append Markdown to the job summary (already escaped by the caller where it holds data)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(markdown if markdown.endswith("\n") else markdown + "\n")
