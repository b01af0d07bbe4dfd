"""Promotion benchmark: `modelrail promote` (no rebuild) against retraining and rebuilding the same model.

Bakes a repo, trains it and builds its image once (warm-up: wheelhouse, base layers), then times a retrain
(`dvc repro --force`, all six stages) and the rebuild after it (`modelrail containerize build`: the layer cache is
kept, the model layers rebuild because the retrained model's files changed). The image is pushed to infra/'s
registry and the model registered, as the validate workflow does; then `modelrail promote --env staging` is timed
with its image part (pull by digest, tag, push, verify), the no-op re-run, `--env production`, and the floor of
importing docker and mlflow. Needs the engine of infra/ (`eval "$(infra/docker-up.sh)"`, or this script runs it).
Usage:
    .venv/bin/python benchmarks/promote.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from containerize import engine_env

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROMOTE_GOAL_S = 15.0
REBUILD_SHARE_GOAL = 0.1


def command_env(repo: Path) -> dict:
    """The environment the baked repo's Makefile would give its commands (tests/template/test_template.py's `run`)."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(repo / "src"),
        "DVC_NO_ANALYTICS": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "GITHUB_ACTOR": "benchmark",
    }
    for name in ("MLFLOW_TRACKING_URI", "MODELRAIL_ENV", "MODELRAIL_NO_IMAGE", "GITHUB_OUTPUT"):
        env.pop(name, None)
    return env


def timed(args: list[str], repo: Path) -> float:
    """Wall time of one command in the baked repo, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=repo, env=command_env(repo), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds


def git(repo: Path, *args: str) -> None:
    timed(["git", *args], repo)


def merge(repo: Path, source: str, env: str) -> None:
    """What merging the promotion pull request does: the environment branch (the bake made it) takes `source`."""
    git(repo, "checkout", "-q", env)
    git(repo, "merge", "-q", "--no-ff", "-m", f"Merge {source} into {env}", source)


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.template import bake

    engine_env()
    namespace = f"{os.environ['MODELRAIL_REGISTRY']}/bench-promote-{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="modelrail-bench-promote-"))
    repo = bake(work)
    dvc = [sys.executable, "-m", "dvc", "repro"]
    modelrail = str(BIN / "modelrail")
    build = [modelrail, "containerize", "build"]
    figures: list[tuple[str, float]] = []

    figures.append(("first dvc repro (cold)", timed(dvc, repo)))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first training")
    figures.append(("first containerize build (cold: wheelhouse, all layers)", timed(build, repo)))

    retrain = timed([*dvc, "--force"], repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "retrain")
    rebuild = timed(build, repo)
    figures.append(("retrain: dvc repro --force (6 stages)", retrain))
    figures.append(("rebuild: containerize build after the retrain", rebuild))
    figures.append(("retrain + rebuild", retrain + rebuild))

    timed([modelrail, "register"], repo)
    timed([modelrail, "containerize", "push", "--registry", namespace], repo)
    merge(repo, "main", "staging")
    release = [modelrail, "promote", "--registry", namespace, "--env"]
    promote = timed([*release, "staging"], repo)
    figures.append(("promote --env staging (image + alias + record)", promote))
    figures.append(("promote --env staging again (nothing to do)", timed([*release, "staging"], repo)))
    merge(repo, "staging", "production")
    production = timed([*release, "production"], repo)
    figures.append(("promote --env production (image + alias + record)", production))

    floor = timed([sys.executable, "-c", "import docker, mlflow"], repo)
    figures.append(("floor: python -c 'import docker, mlflow'", floor))

    width = max(len(name) for name, _ in figures)
    print(f"{'measure':<{width}}  {'seconds':>8}")
    for name, seconds in figures:
        print(f"{name:<{width}}  {seconds:8.2f}")
    slowest = max(promote, production)
    share = slowest / (retrain + rebuild)
    print(f"ratio promote / (retrain + rebuild): {share:.3f} (slowest promotion, {slowest:.2f} s)")
    print(f"ratio promote / rebuild alone: {slowest / rebuild:.3f}")
    print(f"goal: promotion under {PROMOTE_GOAL_S:.0f} s: {'met' if slowest < PROMOTE_GOAL_S else 'NOT met'}")
    for against, seconds in (("retrain + rebuild", retrain + rebuild), ("the rebuild alone", rebuild)):
        met = slowest / seconds < REBUILD_SHARE_GOAL
        print(f"goal: promotion under a tenth of {against}: {'met' if met else 'NOT met'}")
    print(f"({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
