"""The DVC pipeline as the report sees it: stages and their outputs in order, and which outputs are out of date."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def read_stages() -> dict:
    import yaml

    try:
        return (yaml.safe_load(Path("dvc.yaml").read_text(encoding="utf-8")) or {}).get("stages", {})
    except (OSError, ValueError):
        return {}


def outs(stage: dict) -> list[str]:
    entries = [*(stage.get("outs") or []), *(stage.get("metrics") or []), *(stage.get("plots") or [])]
    return [out if isinstance(out, str) else next(iter(out)) for out in entries]


def output_order() -> dict[str, int]:
    """Every output in dvc.yaml -> its position, so records are listed in pipeline order."""
    outputs: dict[str, int] = {}
    for stage in read_stages().values():
        for out in outs(stage):
            outputs.setdefault(out, len(outputs))
    return outputs


def written_since(rel: str, since: float | None) -> bool:
    return since is not None and Path(rel).is_file() and Path(rel).stat().st_mtime >= since


def stale_outputs() -> set[str]:
    """Outputs of stages that are out of date: changed per `dvc status`, or downstream of such a stage."""
    stages = read_stages()
    if not stages:
        return set()
    proc = dvc("status", "--json")
    try:
        changed = set(json.loads(proc.stdout or "{}")) if proc is not None and proc.returncode == 0 else set(stages)
    except json.JSONDecodeError:
        changed = set(stages)
    producer = {out: name for name, stage in stages.items() for out in outs(stage)}
    grew = True
    while grew:  # `dvc status` names only stages whose own deps changed; staleness flows downstream
        grew = False
        for name, stage in stages.items():
            deps = [dep if isinstance(dep, str) else next(iter(dep)) for dep in stage.get("deps") or []]
            if name not in changed and any(producer.get(dep) in changed for dep in deps):
                changed.add(name)
                grew = True
    return {out for name in changed if name in stages for out in outs(stages[name])}


def dvc(*args: str) -> subprocess.CompletedProcess | None:
    exe = shutil.which("dvc")
    command = [exe] if exe else [sys.executable, "-m", "dvc"]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    try:
        return subprocess.run([*command, *args], capture_output=True, text=True, check=False, env=env, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None
