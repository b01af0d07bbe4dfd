"""Small test data sets and checks on what a write leaves behind."""

from __future__ import annotations

from pathlib import Path

GOOD_CSV = "height,count,label\n" + "".join(f"{1.5 + i / 10},{i},{'ab'[i % 2]}\n" for i in range(20))


def leftovers(directory: Path) -> list[str]:
    """Temporary files an interrupted or failed write would leave behind."""
    return sorted(p.name for p in directory.rglob("*.tmp"))
