"""GitHub Actions step outputs: `name=value` lines appended to $GITHUB_OUTPUT (a no-op outside a runner)."""

from __future__ import annotations

import os


def write(values: dict[str, str]) -> None:
    """Append single-line outputs; the composite actions map them to their own outputs."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in values.items():
            text = str(value)
            if "\n" in text:
                raise ValueError(f"step output '{name}' must be one line")
            handle.write(f"{name}={text}\n")
