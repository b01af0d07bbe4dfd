"""First-hour benchmark: `make demo` from nothing, a bake, and the baked repo's `make setup` from nothing.

"From nothing" means a copy of this checkout's tracked files with no `.venv` and a warm package cache (uv's, as a
machine that has installed these pins once has). Prints every figure of this one run; docs/performance.md records
them. Usage:
    .venv/bin/python benchmarks/first_hour.py [--bakes 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def copy_checkout(target: Path) -> Path:
    """The tracked files as they are in the working tree (uncommitted changes included), and nothing else."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in filter(None, files.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    subprocess.run(["git", "init", "--quiet"], cwd=target, check=True)
    return target


def cpu_seconds() -> float:
    """User + system time of this process and its finished children: on a shared machine the wall time says more
    about the other work than about ours, the CPU time does not."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def timed(args: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """Wall and CPU time of one command, which must succeed; its output is kept only to explain a failure."""
    start, cpu = time.perf_counter(), cpu_seconds()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed in {cwd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start, cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bakes", type=int, default=5, help="bakes to take the median of")
    bakes = parser.parse_args().bakes
    from cookiecutter.main import cookiecutter

    work = Path(tempfile.mkdtemp(prefix="modelrail-first-hour-"))
    # The copy's own Makefile must find its tools, not this venv's: keep only the system PATH (uv stays on it
    # when the machine has it).
    system_path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != BIN)
    env = {**os.environ, "PATH": system_path, "DVC_NO_ANALYTICS": "1", "GX_ANALYTICS_ENABLED": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("VIRTUAL_ENV", None)
    try:
        checkout = copy_checkout(work / "modelrail")
        install, install_cpu = timed(["make", ".venv/.demo-installed"], checkout, env)
        shutil.rmtree(checkout / ".venv")
        demo, demo_cpu = timed(["make", "demo"], checkout, env)
        print(
            f"make demo from nothing (no .venv, warm cache): {demo:.1f} s wall, {demo_cpu:.1f} s CPU; "
            f"its install alone: {install:.1f} s wall, {install_cpu:.1f} s CPU"
        )

        walls, cpus = [], []
        for index in range(bakes):
            start, cpu = time.perf_counter(), cpu_seconds()
            cookiecutter(str(checkout), no_input=True, output_dir=str(work / f"bake-{index}"))
            walls.append(time.perf_counter() - start)
            cpus.append(cpu_seconds() - cpu)
        print(
            f"bake (cookiecutter + hooks), median of {bakes}: {statistics.median(walls):.2f} s wall, "
            f"{statistics.median(cpus):.2f} s CPU (wall each: {', '.join(f'{t:.2f}' for t in walls)})"
        )

        repo = work / "bake-0" / "breast-cancer-classifier"
        setup, setup_cpu = timed(["make", "setup"], repo, env)
        print(
            "baked repo's make setup from nothing (modelrail from the checkout, warm cache): "
            f"{setup:.1f} s wall, {setup_cpu:.1f} s CPU"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
