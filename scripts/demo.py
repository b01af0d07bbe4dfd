"""`make demo`: bake the template with its default answers and run the baked repo's whole gated pipeline.

Everything runs offline on the embedded defaults: MLflow on a SQLite file, a DVC remote in a local folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def main(output: Path) -> int:
    from cookiecutter.main import cookiecutter

    if output.exists():
        shutil.rmtree(output)  # a demo always starts from a fresh bake and a fresh remote
    print(f"==> Baking the template with its default answers into {output}/", flush=True)
    repo = Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(output)))
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(repo / "src"),
        "DVC_NO_ANALYTICS": "1",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    # Each of the six stages is a Python process importing Great Expectations or MLflow; uv installs without
    # bytecode, so with bytecode writing off (PYTHONDONTWRITEBYTECODE, set in many containers) every stage compiles
    # them again: half the demo's CPU time. The first stage writes it into the demo's own .venv, the rest reuse it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    print("==> Running the pipeline with every gate: dvc repro", flush=True)
    status = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=repo, env=env).returncode
    # Failed gates first: a report is read from the top.
    gates = sorted((repo / "gates").glob("*.md"), key=lambda md: (_passed(md.with_suffix(".json")), md.name))
    report = output / "report.md"
    metrics = (repo / "metrics/metrics.json").read_text() if (repo / "metrics/metrics.json").exists() else "{}"
    parts = [f"# Pipeline report for {repo.name}", "", "## Metrics", "", "```json", metrics.strip(), "```", ""]
    report.write_text("\n".join(parts + [gate.read_text() for gate in gates]))
    run_file = repo / "models/run.json"
    run_id = json.loads(run_file.read_text())["run_id"] if run_file.exists() else "(no run: a gate failed first)"
    print(
        f"""
==> {"Pipeline passed every gate" if status == 0 else "Pipeline STOPPED at a failing gate"}
  baked repo    : {repo}
  MLflow run    : {run_id} in {repo / "mlflow.db"}
  gate records  : {", ".join(str(p) for p in sorted((repo / "gates").glob("*.json")))}
  report        : {report}
  open the MLflow UI:
    cd {repo} && {BIN / "mlflow"} ui --backend-store-uri sqlite:///mlflow.db
"""
    )
    return status


def _passed(record: Path) -> bool:
    return record.is_file() and json.loads(record.read_text()).get("passed") is True


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/demo").resolve()))
