"""Task-kind benchmark: per task kind, in one run, bake, first `dvc repro` and no-op `dvc repro`, side by side.

Goal: no task kind costs more than 1.3x the binary one at any step. docs/performance.md records a run. Usage:
    .venv/bin/python benchmarks/task_kinds.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TASKS = ("binary-classification", "multiclass-classification", "regression")
GOAL = 1.3


def timed(args: list[str], cwd: Path, env: dict, repeat: int = 1) -> float:
    """Median wall time of a command, which must succeed."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(task: str, work: Path, env: dict) -> dict[str, float]:
    from cookiecutter.main import cookiecutter

    start = time.perf_counter()
    repo = Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(work / task), extra_context={"task": task}))
    figures = {"bake": time.perf_counter() - start}
    env = {**env, "PYTHONPATH": str(repo / "src")}
    dvc = [sys.executable, "-m", "dvc", "repro"]
    figures["first dvc repro"] = timed(dvc, repo, env)
    figures["no-op dvc repro"] = timed(dvc, repo, env, repeat=3)
    return figures


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="modelrail-bench-tasks-"))
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    results = {}
    for task in TASKS:
        # Printed as measured: a run cut short still leaves the kinds it finished.
        results[task] = measure(task, work, env)
        print(task, {step: round(seconds, 2) for step, seconds in results[task].items()}, flush=True)
    steps = list(results[TASKS[0]])
    print(f"{'step':<18}" + "".join(f"{task:>28}" for task in TASKS))
    for step in steps:
        base = results[TASKS[0]][step]
        cells = []
        for task in TASKS:
            ratio = results[task][step] / base
            mark = "" if ratio <= GOAL else " MISSED"
            cells.append(f"{results[task][step]:8.2f} s ({ratio:4.2f}x){mark}")
        print(f"{step:<18}" + "".join(f"{cell:>28}" for cell in cells))
    print(f"(goal: each step within {GOAL}x of binary-classification; work dir: {work}; {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
