"""Smoke-gate benchmark: how long `modelrail containerize smoke` takes against a built image, for a checkout.

The gate's time is start-to-healthy plus the requests; the probes for malformed and oversized requests (issue 13)
add 50 MB of invalid JSON and two bodies over the limit. To compare with the gate before them, run it once for this
checkout and once for an older one (`git archive <rev> | tar -x -C DIR`, then `--root DIR`): each bakes its own
template, builds its own image and times its own gate code. Needs the engine of infra/ (this script runs
infra/docker-up.sh). Usage:
    .venv/bin/python benchmarks/smoke.py [--root DIR] [--runs 5]
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

HERE = Path(__file__).resolve().parents[1]


def engine_env() -> None:
    proc = subprocess.run([str(HERE / "infra/docker-up.sh")], capture_output=True, text=True, check=True)
    for line in proc.stdout.splitlines():
        if line.startswith("export "):
            name, value = line.removeprefix("export ").split("=", 1)
            os.environ[name] = value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE, help="checkout whose template and gate to time")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of the gate (default: 5)")
    options = parser.parse_args()
    root = options.root.resolve()
    # The checkout's own modelrail and template helpers, ahead of the installed ones.
    sys.path[:0] = [str(root / "src"), str(root / "tests")]
    from support.template import bake, dvc

    from modelrail.container import build as container_build
    from modelrail.container import smoke as container_smoke

    engine_env()
    work = Path(tempfile.mkdtemp(prefix="modelrail-bench-smoke-"))
    repo = bake(work)
    dvc(repo, "repro")
    os.chdir(repo)
    built = container_build.run(repo, base_image=os.environ["MODELRAIL_BASE_IMAGE"], progress=False)
    seconds, requests = [], 0
    for index in range(options.runs):
        os.sync()  # the build leaves layers to write back; let the disk settle before each timed run
        start = time.perf_counter()
        result = container_smoke.run(
            built.image_id,
            Path("models/model"),
            Path("data/prepared/test.csv"),
            Path("expectations/predictions.json"),
            Path(f"build/bench/container-{index}.json"),
            Path(f"build/bench/container-{index}.md"),
            Path("build/bench/predictions.csv"),
        )
        seconds.append(time.perf_counter() - start)
        requests = sum(check.name.startswith("refuses ") for check in result.checks)
        if not result.passed:
            raise SystemExit(f"the smoke gate failed: {[c.message for c in result.failures]}")
    healthy = [c.details.get("seconds") for c in result.checks if c.name == "healthy"]
    print(f"checkout: {root}")
    print(f"malformed-request probes: {requests}")
    print(f"smoke gate samples: {', '.join(f'{value:.1f}' for value in seconds)} s")
    print(f"smoke gate median: {statistics.median(seconds):.2f} s (last run healthy after {healthy[0]} s)")


if __name__ == "__main__":
    main()
