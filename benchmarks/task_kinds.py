"""Task-kind benchmark: per task kind, in one run, bake, first `dvc repro`, no-op `dvc repro`, image build and
start to healthy, side by side.

Goal: no task kind costs more than 1.3x the binary one at any step. docs/performance.md records a run.

The image builds are timed as CI runs them after its first image: the dependency layers (the same Dockerfile,
requirements and wheelhouse for every kind) are in the engine's cache, built once untimed from the binary repo with
a marked model, so each kind's timed build makes its own model layers and reuses the rest. Each kind's wheelhouse
is filled before its build is timed. Start to healthy is the median of a few starts per kind, each after a `sync`.
Each kind's image is removed after its starts (vfs keeps a full copy of the file system per layer). Needs the
engine of infra/ (this script runs infra/docker-up.sh). Usage:
    .venv/bin/python benchmarks/task_kinds.py [--starts 3]
    .venv/bin/python benchmarks/task_kinds.py --bakes 5   # the bake step alone: 5 bakes per kind, kinds alternating
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from containerize import build, engine_env, free_port, start

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TASKS = ("binary-classification", "multiclass-classification", "regression")
GOAL = 1.3
CONTEXT = ("Dockerfile", ".dockerignore", "models/model", "build/wheelhouse", "serving")


def timed(args: list[str], cwd: Path, env: dict, repeat: int = 1) -> float:
    """Median wall time of a command, which must succeed."""
    times = []
    for _ in range(repeat):
        start_time = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start_time)
    return statistics.median(times)


def pipeline(task: str, work: Path, env: dict) -> tuple[Path, dict[str, float]]:
    from cookiecutter.main import cookiecutter

    start_time = time.perf_counter()
    repo = Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(work / task), extra_context={"task": task}))
    figures = {"bake": time.perf_counter() - start_time}
    env = {**env, "PYTHONPATH": str(repo / "src")}
    dvc = [sys.executable, "-m", "dvc", "repro"]
    figures["first dvc repro"] = timed(dvc, repo, env)
    figures["no-op dvc repro"] = timed(dvc, repo, env, repeat=3)
    return repo, figures


def warm_up(client, repo: Path, work: Path, base: str) -> str:
    """Build the binary repo's image once, from a copy whose model folder holds one more file: every layer but the
    model's is then cached for the timed builds, and no kind's own model layer is."""
    from modelrail.container import wheelhouse

    wheelhouse.build(repo, repo / "models/model", progress=False)
    context = work / "warm-up"
    for part in CONTEXT:
        source, target = repo / part, context / part
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (context / "models/model/WARM-UP").write_text("not the model of any kind\n")
    image_id, _ = build(client, context, "bench/task-kinds-warm-up:1", False, {"BASE_IMAGE": base})
    return image_id


def image_figures(client, repo: Path, base: str, starts: int) -> dict[str, float]:
    """`modelrail containerize build` (its wheelhouse already filled), then start to healthy; the image removed."""
    from modelrail.container import build as container_build
    from modelrail.container import wheelhouse

    wheelhouse.build(repo, repo / "models/model", progress=False)
    start_time = time.perf_counter()
    built = container_build.run(repo, base_image=base, progress=False)
    figures = {"image build": time.perf_counter() - start_time}
    samples = []
    try:
        for _ in range(starts):
            port = free_port()
            os.sync()  # the build leaves layers to write back; let the disk settle before each start
            container, seconds = start(client, built.image_id, port, {"PORT": str(port)})
            container.remove(force=True, v=True)
            samples.append(seconds)
    finally:
        client.images.remove(built.image_id, force=True)
    figures["start to healthy"] = statistics.median(samples)
    print(f"  start-to-healthy samples: {', '.join(f'{value:.1f}' for value in samples)} s", flush=True)
    return figures


def bakes_only(repeat: int) -> None:
    """The bake step alone, `repeat` times per kind in turn (a one-second step: one sample says little); medians."""
    from cookiecutter.main import cookiecutter

    work = Path(tempfile.mkdtemp(prefix="modelrail-bench-bakes-"))
    samples: dict[str, list[float]] = {task: [] for task in TASKS}
    for round_ in range(repeat):
        for task in TASKS:
            start_time = time.perf_counter()
            output = str(work / f"{task}-{round_}")
            cookiecutter(str(ROOT), no_input=True, output_dir=output, extra_context={"task": task})
            samples[task].append(time.perf_counter() - start_time)
    base_seconds = statistics.median(samples[TASKS[0]])
    for task in TASKS:
        median = statistics.median(samples[task])
        values = ", ".join(f"{value:.2f}" for value in samples[task])
        print(f"{task:<28} bake median {median:.2f} s ({median / base_seconds:.2f}x)  samples: {values}")
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3, help="start-to-healthy samples per kind (default: 3)")
    parser.add_argument("--bakes", type=int, help="only time this many bakes per kind, the kinds alternating")
    options = parser.parse_args()
    if options.bakes:
        return bakes_only(options.bakes)
    starts = options.starts
    from modelrail.container import engine as docker_engine

    work = Path(tempfile.mkdtemp(prefix="modelrail-bench-tasks-"))
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    repos, results = {}, {}
    for task in TASKS:
        # Printed as measured: a run cut short still leaves the kinds it finished.
        repos[task], results[task] = pipeline(task, work, env)
        print(task, {step: round(seconds, 2) for step, seconds in results[task].items()}, flush=True)

    engine_env()
    client = docker_engine.connect()
    base = os.environ["MODELRAIL_BASE_IMAGE"]
    warm = warm_up(client, repos[TASKS[0]], work, base)
    try:
        for task in TASKS:
            results[task].update(image_figures(client, repos[task], base, starts))
            print(task, {step: round(seconds, 2) for step, seconds in results[task].items()}, flush=True)
    finally:
        client.images.remove(warm, force=True)

    steps = list(results[TASKS[0]])
    print(f"{'step':<18}" + "".join(f"{task:>28}" for task in TASKS))
    for step in steps:
        base_seconds = results[TASKS[0]][step]
        cells = []
        for task in TASKS:
            ratio = results[task][step] / base_seconds
            mark = "" if ratio <= GOAL else " MISSED"
            cells.append(f"{results[task][step]:8.2f} s ({ratio:4.2f}x){mark}")
        print(f"{step:<18}" + "".join(f"{cell:>28}" for cell in cells))
    print(f"(goal: each step within {GOAL}x of binary-classification; work dir: {work}; {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
