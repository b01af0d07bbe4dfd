"""git, as modelrail reads a repository's history."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_output(*args: str) -> str | None:
    """git's stdout, or None when git failed, is missing or hung (the report then leaves that part out)."""
    try:
        proc = subprocess.run(["git", *args], capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def head(repo: Path) -> str | None:
    """The commit checked out at `repo`, or None when it is no git checkout with a commit (or git is missing)."""
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=False)
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None
