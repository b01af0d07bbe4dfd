"""`dvc push` / `dvc pull` of the sample repo: an s3:// remote on SeaweedFS (loopback) vs a local-folder remote.

    python benchmarks/object_store.py [--runs 3] [--bulk 500]

Bakes the template once, runs its pipeline (so the pushed outputs are the sample data, the prepared splits and the
model), then for each remote and run: `dvc push` into an empty remote, and `dvc pull` into a fresh clone with an
empty cache. `--bulk N` adds a folder of N 64 KiB files, to show the cost per object. The store is a private
instance (own state dir and port), stopped at the end. Prints one table row per measure (median of the runs).
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
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "modelrail-bench", "AWS_SECRET_ACCESS_KEY": "modelrail-bench-secret"}
PORT = "18633"


def env(repo: Path) -> dict[str, str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "MLFLOW_"))}
    return {
        **clean,
        **CREDENTIALS,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(repo / "src"),
        "DVC_NO_ANALYTICS": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }


def sh(repo: Path, *args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=repo, env=env(repo), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def dvc(repo: Path, *args: str) -> float:
    return sh(repo, sys.executable, "-m", "dvc", *args)


def store(action: str, state: Path) -> str:
    settings = {"MODELRAIL_OBJECTSTORE_DIR": str(state), "MODELRAIL_S3_PORT": PORT, "MODELRAIL_PYTHON": sys.executable}
    proc = subprocess.run(
        [str(ROOT / "infra/services/object-store.sh"), action],
        env={**os.environ, **CREDENTIALS, **settings},
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    return proc.stdout


def measure(repo: Path, tmp: Path, remote: str, endpoint: str | None, runs: int) -> tuple[float, float, int]:
    """Median push and pull seconds, and the number of objects pushed, for `remote` (a new prefix per run)."""
    pushes, pulls, pushed = [], [], 0
    for run in range(runs):
        url = f"{remote}/run-{uuid.uuid4().hex[:8]}" if endpoint else str(tmp / f"folder-remote-{run}")
        # The git-ignored local config overrides the remote the template configured, for this run only.
        local = f"['remote \"local\"']\n    url = {url}\n" + (f"    endpointurl = {endpoint}\n" if endpoint else "")
        (repo / ".dvc/config.local").write_text(local)
        pushes.append(dvc(repo, "push", "-q"))
        if not endpoint:
            pushed = sum(1 for p in Path(url).rglob("*") if p.is_file())
        clone = tmp / f"clone-{uuid.uuid4().hex[:8]}"
        sh(tmp, "git", "clone", "-q", str(repo), str(clone))
        shutil.copy(repo / ".dvc/config.local", clone / ".dvc/config.local")
        pulls.append(dvc(clone, "pull", "-q"))
        shutil.rmtree(clone)
    return statistics.median(pushes), statistics.median(pulls), pushed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bulk", type=int, default=500, help="extra 64 KiB files in data/bulk (0: none)")
    args = parser.parse_args()
    from cookiecutter.main import cookiecutter

    tmp = Path(tempfile.mkdtemp(prefix="modelrail-bench-s3-"))
    try:
        endpoint = store("start", tmp / "store").split("AWS_ENDPOINT_URL=", 1)[1].split()[0]
        answers = {"project_slug": "bench"}
        repo = Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(tmp), extra_context=answers))
        dvc(repo, "repro")
        sh(repo, "git", "add", "-A")
        sh(repo, "git", "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "pipeline")
        rows = []
        for label, bulk in (("sample repo", 0), (f"sample repo + {args.bulk} x 64 KiB files", args.bulk)):
            if bulk:
                (repo / "data/bulk").mkdir()
                for index in range(bulk):
                    (repo / "data/bulk" / f"part-{index:04d}.bin").write_bytes(os.urandom(64 * 1024))
                dvc(repo, "add", "-q", "data/bulk")
                sh(repo, "git", "add", "-A")
                sh(repo, "git", "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "bulk")
            folder = measure(repo, tmp, "", None, args.runs)
            s3 = measure(repo, tmp, "s3://modelrail-dvc/bench", endpoint, args.runs)
            rows.append((label, folder, s3))
        header = "objects | push: folder | push: SeaweedFS | pull: folder | pull: SeaweedFS"
        print(f"| data ({args.runs} runs, median) | {header} |")
        print("|---|---|---|---|---|---|")
        for label, (fpush, fpull, objects), (spush, spull, _) in rows:
            print(f"| {label} | {objects} | {fpush:.2f} s | {spush:.2f} s | {fpull:.2f} s | {spull:.2f} s |")
    finally:
        store("stop", tmp / "store")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
