"""Scale benchmark: the raw-data gate on pandas and on Spark local[2], and drift streamed over many rows.

Data is resampled from the template's sample data (so the raw suite still describes it) and written as Parquet data
set folders of 1M-row parts. Every command runs as its own process; wall time and the peak resident memory of that
process tree's Python side (and for Spark the JVM's) are printed. docs/performance.md records a run of it. Usage:
    .venv/bin/python benchmarks/scale.py [--gate-rows 1000000 10000000] [--drift-rows 20000000] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The binary-classification sample (breast cancer, 30 numeric columns + target) and its raw suite.
SAMPLE = ROOT / "templates/samples/binary-classification"
BIN = Path(sys.executable).parent
PART_ROWS = 1_000_000


def data_set(folder: Path, rows: int, seed: int, jitter: float = 0.0) -> Path:
    """`rows` rows resampled from the sample data, in 1M-row Parquet parts; reused when already there."""
    import numpy as np
    import pandas as pd

    marker = folder / f".rows-{rows}"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sample = pd.read_csv(SAMPLE / "data.csv")
    rng = np.random.default_rng(seed)
    for part, start in enumerate(range(0, rows, PART_ROWS)):
        frame = sample.sample(n=min(PART_ROWS, rows - start), replace=True, random_state=rng).reset_index(drop=True)
        if jitter:
            numeric = [name for name in frame.columns if name != "target"]
            frame[numeric] *= rng.normal(1, jitter, size=(len(frame), len(numeric)))
        # Row groups of 128k rows, as writers of large data sets use: a reader's batch is at most one row group.
        frame.to_parquet(folder / f"part-{part:05d}.parquet", index=False, row_group_size=131_072)
    marker.write_text("")
    return folder


def _tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants (Spark's JVM is a child of the CLI)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            with open(f"/proc/{current}/task/{current}/children") as children:
                stack.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def run(args: list[str], cwd: Path, env: dict, ok: tuple[int, ...] = (0,)) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system of the process tree) and peak resident memory (sampled every 0.2 s
    over the process tree) of one command. On a shared machine wall time measures the load too; CPU time does not."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.2):
            peak = max(peak, _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(map(str, args))} exited {proc.returncode}:\n{stderr[-3000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu, peak


def read_once(folder: Path) -> str:
    """A child process that reads every Parquet part once, batch by batch, every column to numpy (the floor for drift's
    time). np.from_dlpack as drift does: pyarrow's to_numpy would add the import of pandas, which reading does not need.
    """
    return (
        "import numpy as np, pyarrow.parquet as pq, pathlib\n"
        f"for f in sorted(pathlib.Path({str(folder)!r}).glob('*.parquet')):\n"
        "    for b in pq.ParquetFile(f).iter_batches(batch_size=262144):\n"
        "        [np.from_dlpack(c) for c in b.columns]\n"
    )


def read_as_drift(folder: Path) -> str:
    """Reading once the way drift reads: every row group memory-mapped, one per core at a time (data_files.read_part).
    The floor above is the plain way; this one is drift's own reading without its counting and hashing."""
    return (
        "import os, numpy as np, pathlib\nfrom concurrent.futures import ThreadPoolExecutor\n"
        "from modelrail.data_files import data_parts, read_part\n"
        "def read(part):\n"
        "    for batch in read_part(part, 262144, threads=False):\n"
        "        [np.from_dlpack(c) for c in batch.columns]\n"
        "with ThreadPoolExecutor(len(os.sched_getaffinity(0))) as pool:\n"
        f"    list(pool.map(read, data_parts(pathlib.Path({str(folder)!r}))))\n"
    )


def hash_once(folder: Path) -> str:
    """A child process that computes the digests drift's record holds for the current data (sha256 of every file),
    alone: drift does it in a second thread, and on a loaded machine it competes with the counting."""
    return (
        "import pathlib\nfrom modelrail.data_files import data_set_files\nfrom modelrail.files import folder_digests\n"
        "from modelrail.gates.drift import DIGESTS\n"
        f"folder = pathlib.Path({str(folder)!r})\nfolder_digests(folder, data_set_files(folder), DIGESTS)\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gate-rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--drift-rows", type=int, default=20_000_000)
    parser.add_argument("--engines", nargs="*", default=["pandas", "spark"])
    parser.add_argument("--work", type=Path, help="folder for the generated data (default: a new temporary one)")
    options = parser.parse_args()
    work = options.work or Path(tempfile.mkdtemp(prefix="modelrail-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    modelrail = [str(BIN / "modelrail")]
    # Spark local[2] with room for its driver; pandas needs no configuration.
    (work / "modelrail.yaml").write_text(
        "environments: [production]\nspark:\n  master: local[2]\n  conf: {spark.driver.memory: 4g}\n"
    )
    print(f"# scale benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# load before: {os.getloadavg()}")
    print("| what | rows | seconds | CPU seconds | peak memory (MB) |")
    print("|---|---|---|---|---|")

    def report(what: str, rows: int, measured: tuple[float, float, int]) -> None:
        seconds, cpu, peak = measured
        print(f"| {what} | {rows:,} | {seconds:.1f} | {cpu:.1f} | {peak / 2**20:.0f} |", flush=True)

    suite = SAMPLE / "raw.json"

    def gates(rows: int) -> None:
        folder = data_set(work / f"raw-{rows}", rows, seed=1)
        for engine in options.engines:
            gate = [*modelrail, "gate", "data", "--engine", engine, "--data", str(folder), "--suite", str(suite)]
            measured = run([*gate, "--record", f"gates/{engine}-{rows}.json"], work, env)
            report(f"raw gate, {engine}", rows, measured)

    # Small gates first, then drift, then the large gates: the figures that take longest come last.
    for rows in sorted(rows for rows in options.gate_rows if rows <= PART_ROWS):
        gates(rows)
    if options.drift_rows:
        reference = data_set(work / "reference-1000000", 1_000_000, seed=2)
        current = data_set(work / f"current-{options.drift_rows}", options.drift_rows, seed=3, jitter=0.01)
        measured = run([sys.executable, "-c", read_once(current)], work, env)
        report("read the current data once (pyarrow batches)", options.drift_rows, measured)
        measured = run([sys.executable, "-c", read_as_drift(current)], work, env)
        report("read it once as drift does (memory-mapped row groups, one per core)", options.drift_rows, measured)
        measured = run([sys.executable, "-c", hash_once(current)], work, env)
        report("sha256 of the current data's files, alone", options.drift_rows, measured)
        drift = [*modelrail, "drift", "--current", str(current), "--record", "gates/drift.json"]
        # Drift's verdict (0 or 1) does not matter here; only a crash does.
        first = [*drift, "--reference", str(reference), "--save-profile", "profile.json"]
        measured = run(first, work, env, (0, 1))
        report("drift, reference data (profile computed) + current streamed", options.drift_rows, measured)
        measured = run([*drift, "--reference", "profile.json"], work, env, (0, 1))
        report("drift, saved profile + current streamed", options.drift_rows, measured)
        if "spark" in options.engines:
            measured = run([*drift, "--reference", "profile.json", "--engine", "spark"], work, env, (0, 1))
            report("drift, saved profile + current counted on Spark local[2]", options.drift_rows, measured)
    for rows in sorted(rows for rows in options.gate_rows if rows > PART_ROWS):
        gates(rows)
    print(f"# load after: {os.getloadavg()}")
    print(f"# data in {work}")


if __name__ == "__main__":
    main()
