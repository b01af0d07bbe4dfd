"""Foundation benchmark: bake, first and no-op `dvc repro`, `modelrail --help`, and the data gate on 1M rows.

Prints every figure measured in this one run; docs/performance.md records a run of it. Usage:
    .venv/bin/python benchmarks/foundation.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(args: list[str], cwd: Path, env: dict, repeat: int = 1) -> float:
    """Median wall time of a command, which must succeed."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def big_csv(source: Path, target: Path, rows: int) -> None:
    """Resample the real sample data to `rows` rows, so the suite still describes it."""
    import pandas as pd

    frame = pd.read_csv(source)
    frame.sample(n=rows, replace=True, random_state=0).to_csv(target, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    from cookiecutter.main import cookiecutter

    work = Path(tempfile.mkdtemp(prefix="modelrail-bench-"))
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    figures: list[tuple[str, float, str]] = []

    start = time.perf_counter()
    repo = Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(work)))
    figures.append(("bake (cookiecutter + hooks: git, dvc init/add/push)", time.perf_counter() - start, ""))
    env["PYTHONPATH"] = str(repo / "src")
    dvc = [sys.executable, "-m", "dvc", "repro"]
    figures.append(("first dvc repro (6 stages)", timed(dvc, repo, env), ""))
    noop = timed(dvc, repo, env, repeat=3)
    figures.append(("no-op dvc repro", noop, f"goal < 3 s: {'met' if noop < 3 else 'MISSED'}"))

    helps = timed([str(BIN / "modelrail"), "--help"], repo, env, repeat=5)
    bare = timed([sys.executable, "-c", "pass"], repo, env, repeat=5)
    figures.append(("modelrail --help", helps, f"goal < 0.5 s: {'met' if helps < 0.5 else 'MISSED'}"))
    figures.append(("python -c pass", bare, f"--help costs {helps - bare:.3f} s over bare Python"))

    data = work / "big.csv"
    big_csv(repo / "data/raw/breast_cancer.csv", data, rows)
    size = data.stat().st_size / 1e6
    floor_code = f"import great_expectations, pandas; pandas.read_csv({str(data)!r})"
    floor = timed([sys.executable, "-c", floor_code], repo, env, repeat=3)
    gate_args = [str(BIN / "modelrail"), "gate", "data", "--data", str(data), "--suite", "expectations/raw.json"]
    gate_args += ["--record", str(work / "big.json")]
    gate = timed(gate_args, repo, env, repeat=3)
    figures.append((f"floor: import GX + pandas, read {rows:,} rows ({size:.0f} MB)", floor, ""))
    ratio = gate / floor
    figures.append(
        (
            f"modelrail gate data on {rows:,} rows",
            gate,
            f"{ratio:.2f}x the floor; goal 1.5x: {'met' if ratio <= 1.5 else 'MISSED'}",
        )
    )

    width = max(len(name) for name, _, _ in figures)
    print(f"{'measure':<{width}}  {'seconds':>8}  note")
    for name, seconds, note in figures:
        print(f"{name:<{width}}  {seconds:8.3f}  {note}")
    print(f"(work dir: {work}; {os.cpu_count()} cores, Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
