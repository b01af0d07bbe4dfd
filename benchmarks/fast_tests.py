"""`make test-fast`'s wall time: the edit loop's test run (everything but the slow families), with the machine's load.

Prints the figures of this one run; docs/performance.md records a run of it. Usage:
    .venv/bin/python benchmarks/fast_tests.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fast_marker_expression() -> str:
    """The `-m` expression of the Makefile's test-fast target, so this measures what `make test-fast` runs."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return re.search(r'^test-fast:.*\n\t.*pytest -m "([^"]+)"', makefile, re.M).group(1)


def main() -> int:
    expression = fast_marker_expression()
    load = os.getloadavg()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", expression, "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    summary = next((line for line in reversed(proc.stdout.splitlines()) if " passed" in line), proc.stdout[-300:])
    print(f"pytest -m {expression!r}")
    print(f"wall time: {seconds:.0f} s (exit {proc.returncode}); {summary.strip('= ')}")
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
