"""Print the score of the last `mutmut run` per module, then every surviving mutant with its diff.

Run by `make mutation` after `mutmut run`, from the repository root (mutmut keeps its results in mutants/).
"""

from __future__ import annotations

import collections
import subprocess
import sys
from pathlib import Path

MUTMUT = str(Path(sys.executable).parent / "mutmut")
# A killed mutant made a test fail; "no tests" (no fast test reaches the function) counts as surviving. A timeout is
# left out of the score: on a loaded machine it says more about the load than about the tests.
CAUGHT = {"killed"}
MISSED = {"survived", "no tests"}


def outcomes() -> dict[str, str]:
    """mutant name -> outcome, from `mutmut results --all true` (lines `    modelrail.x.x_f__mutmut_3: killed`)."""
    text = subprocess.run([MUTMUT, "results", "--all", "true"], capture_output=True, text=True, check=True).stdout
    pairs = (line.strip().rsplit(": ", 1) for line in text.splitlines() if ": " in line)
    return {name: outcome for name, outcome in pairs}


def main() -> int:
    results = outcomes()
    if not results:
        print("no mutation results: run `mutmut run` first", file=sys.stderr)
        return 2
    by_module: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name, outcome in results.items():
        by_module[module_of(name)][outcome] += 1
    print(f"{'module':32} {'killed':>7} {'survived':>9} {'score':>6}  other")
    total = collections.Counter()
    for module, counts in sorted(by_module.items()):
        total += counts
        print(_row(module, counts))
    print(_row("all", total))
    survivors = sorted(name for name, outcome in results.items() if outcome in MISSED)
    print(f"\n{len(survivors)} surviving mutants (each: kill it with a test, or explain it in docs/performance.md):")
    for name in survivors:
        diff = subprocess.run([MUTMUT, "show", name], capture_output=True, text=True).stdout
        print(f"\n{diff.strip()}")
    return 0


def module_of(name: str) -> str:
    """`modelrail.gates.drift` of `modelrail.gates.drift.x__stream__mutmut_3` and of a method's
    `modelrail.gates.drift_columns.xǁColumnCountsǁresult__mutmut_7`."""
    return name.split("__mutmut")[0].rsplit(".", 1)[0]


def _row(module: str, counts: collections.Counter) -> str:
    caught = sum(counts[o] for o in CAUGHT)
    missed = sum(counts[o] for o in MISSED)
    score = f"{100 * caught / (caught + missed):.0f}%" if caught + missed else "-"
    other = ", ".join(f"{o} {n}" for o, n in sorted(counts.items()) if o not in CAUGHT | MISSED)
    return f"{module:32} {caught:>7} {missed:>9} {score:>6}  {other}"


if __name__ == "__main__":
    sys.exit(main())
