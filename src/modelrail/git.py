"""git, as modelrail reads a repository's history."""

from __future__ import annotations

import subprocess


def git_output(*args: str) -> str | None:
    """git's stdout, or None when git failed, is missing or hung (the report then leaves that part out)."""
    try:
        proc = subprocess.run(["git", *args], capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None
