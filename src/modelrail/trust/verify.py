"""`modelrail verify`: re-derive every gate from the content, whatever dvc.lock and the committed records say.

A pull request commits its gate records, metrics and dvc.lock, so all of them are claims. This command
1. re-hashes every DVC-tracked data and model output in the work tree against dvc.lock (integrity.py), and
2. re-runs every gate stage of dvc.yaml, with the stages their inputs need except the one that trains the model
   (prepare, evaluate: cheap and deterministic), in a scratch copy of the repository, then compares each recomputed
   gate record with the one in the work tree. Only the time and the tool versions may differ.
Its own record (gates/verify.json) says what differed; a record that differs is replaced by the recomputed one,
so the report that follows shows what this job computed, never the claim.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from modelrail.errors import ConfigError
from modelrail.files import write_atomic
from modelrail.gates.records import Check, GateResult, publish
from modelrail.layout import Layout, load_layout

GATE_COMMAND = ("modelrail", "gate")
# Fields of a gate record that differ between two honest runs of the same gate on the same content.
VOLATILE = ("time", "versions")
MAX_DIFFERENCES = 8
# Set for the re-run stages: the baked evaluate stage recomputes metrics without logging them to MLflow again.
REDERIVE_ENV = "MODELRAIL_REDERIVE"


@dataclass
class Stage:
    """A dvc.yaml stage as DVC resolves it (vars and `${...}` interpolated)."""

    name: str
    cmd: str
    deps: list[str]
    outs: list[str]

    @property
    def is_gate(self) -> bool:
        return tuple(shlex.split(self.cmd)[:2]) == GATE_COMMAND

    @property
    def records(self) -> list[str]:
        return [out for out in self.outs if out.endswith(".json")]


def load_stages(repo: Path) -> list[Stage]:
    """The pipeline's stages in an order that runs each after the stages producing its inputs."""
    if not (repo / "dvc.yaml").is_file():
        raise ConfigError(f"{repo / 'dvc.yaml'}: no such file (the gates to re-derive are its stages)")
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    try:
        with Repo(str(repo)) as dvc_repo:
            stages = [
                Stage(
                    stage.name,
                    stage.cmd if isinstance(stage.cmd, str) else " && ".join(stage.cmd),
                    [dep.def_path for dep in stage.deps],
                    [out.def_path for out in stage.outs],
                )
                for stage in dvc_repo.index.stages
                if isinstance(stage, PipelineStage)
            ]
    except DvcException as exc:
        raise ConfigError(f"{repo / 'dvc.yaml'}: DVC cannot read the pipeline: {exc}") from None
    return _ordered(stages)


def _ordered(stages: list[Stage]) -> list[Stage]:
    producer = {out: stage.name for stage in stages for out in stage.outs}
    done: list[Stage] = []
    waiting = list(stages)
    while waiting:
        ready = next(s for s in waiting if all(producer.get(d) in (None, *[x.name for x in done]) for d in s.deps))
        done.append(ready)
        waiting.remove(ready)
    return done


def plan(stages: list[Stage], layout: Layout, only: list[str] | None = None) -> list[Stage]:
    """The gate stages (or `only`) and every stage upstream of them, stopping at the one that trains the model (the
    one writing `paths.model`). A gate stage is never skipped, whatever the layout says."""
    by_name = {stage.name: stage for stage in stages}
    for name in only or []:
        if name not in by_name:
            raise ConfigError(f"dvc.yaml: no stage '{name}' (stages: {', '.join(by_name)})")
        if not by_name[name].is_gate:
            raise ConfigError(f"dvc.yaml: stage '{name}' is not a gate (its command is not `modelrail gate ...`)")
    targets = only or [stage.name for stage in stages if stage.is_gate]
    if not targets:
        raise ConfigError("dvc.yaml: no gate stage (a stage whose command is `modelrail gate ...`) to re-derive")
    producer = {out: stage for stage in stages for out in stage.outs}
    wanted: set[str] = set()
    queue = list(targets)
    while queue:
        stage = by_name[queue.pop()]
        if stage.name in wanted or (layout.model in stage.outs and not stage.is_gate):
            continue
        wanted.add(stage.name)
        queue += [producer[dep].name for dep in stage.deps if dep in producer]
    return [stage for stage in stages if stage.name in wanted]


def run(
    repo: Path,
    record_path: Path,
    summary_path: Path,
    only: list[str] | None = None,
) -> GateResult:
    """Verify integrity, re-derive the gates in a scratch copy, compare; publish gates/verify.json."""
    from modelrail.trust import integrity

    checked, mismatches = integrity.verify_outputs(repo)
    checks = [
        Check("integrity", False, str(mismatch), file=mismatch.expected.path, details={"actual": mismatch.actual})
        for mismatch in mismatches
    ]
    inputs: dict = {"outputs": {item.path: item.md5 for item in checked}, "stages": []}
    if not mismatches:
        checks.append(Check("integrity", True, f"{len(checked)} DVC-tracked outputs hash to dvc.lock"))
        stages = plan(load_stages(repo), load_layout(repo), only)
        inputs["stages"] = [stage.name for stage in stages]
        checks += _rederive(repo, stages)
    result = GateResult("verify", checks, inputs, record_path, summary_path, tools=("dvc",))
    publish(result)
    return result


def _rederive(repo: Path, stages: list[Stage]) -> list[Check]:
    produced = {out for stage in stages for out in stage.outs}
    # Under .dvc/tmp (git ignores it): on the repository's file system, so the data can be hard-linked, not copied.
    parent = repo / ".dvc" / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="modelrail-verify-", dir=parent) as scratch_name:
        scratch = Path(scratch_name).resolve()
        _populate(repo, scratch, stages, produced)
        env = {**os.environ, "MODEL_REPO_ROOT": str(scratch), REDERIVE_ENV: "1"}
        plan_json = json.dumps([{"name": stage.name, "cmd": stage.cmd, "gate": stage.is_gate} for stage in stages])
        # One child process in the scratch folder runs them all, so great_expectations is imported once, not once
        # per gate, and this process keeps its working directory.
        proc = subprocess.run(
            [sys.executable, "-m", "modelrail.trust.rederive"],
            input=plan_json,
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
        )
        try:
            outcomes = {item["name"]: item for item in json.loads(proc.stdout.strip().splitlines()[-1])}
        except (IndexError, ValueError, TypeError, KeyError):
            tail = (proc.stderr or proc.stdout).strip()[-600:]
            return [Check("re-run stages", False, f"the re-derivation stopped unexpectedly: {tail}")]
        checks: list[Check] = []
        for stage in stages:
            outcome = outcomes.get(stage.name)
            if outcome is None:
                break  # as `dvc repro` would: nothing downstream of a failed gate ran
            # A gate exits 1 when it fails (its record says why); any other code means it could not run.
            if outcome["returncode"] not in ((0, 1) if stage.is_gate else (0,)):
                message = f"stage {stage.name} failed when re-run: {outcome['output']}"
                checks.append(Check(f"re-run {stage.name}", False, message))
                break
            if stage.is_gate:
                checks += [_compare(repo, scratch, stage, record) for record in stage.records]
        return checks


def _populate(repo: Path, scratch: Path, stages: list[Stage], produced: set[str]) -> None:
    """Scratch copy: git's files as they are in the work tree, and links to the DVC outputs the stages read."""
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ConfigError(f"{repo}: not a git checkout (verify copies the files git tracks)")
    for name in filter(None, proc.stdout.split("\0")):
        source = repo / name
        if name in produced or any(name.startswith(f"{out}/") for out in produced) or not source.is_file():
            continue
        target = scratch / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    for dep in {dep for stage in stages for dep in stage.deps} - produced:
        source, target = repo / dep, scratch / dep
        if target.exists() or not source.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # Hard links, not symlinks: MLflow refuses a model directory that resolves outside itself.
        if source.is_dir():
            shutil.copytree(source, target, copy_function=_link)
        else:
            _link(source, target)


def _link(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _compare(repo: Path, scratch: Path, stage: Stage, record: str) -> Check:
    name = f"re-derive {stage.name}"
    recomputed = _load(scratch / record)
    if recomputed is None:
        return Check(name, False, f"{record}: stage {stage.name} wrote no gate record when re-run", file=record)
    committed = _load(repo / record)
    differences = _differences(_stable(committed), _stable(recomputed)) if committed is not None else []
    if committed is None:
        differences = ["the work tree has no such record"]
    if differences:
        for out in stage.outs:
            if (scratch / out).is_file():
                write_atomic(repo / out, (scratch / out).read_text(encoding="utf-8"))
    if differences:
        shown = "; ".join(differences[:MAX_DIFFERENCES])
        more = f" (and {len(differences) - MAX_DIFFERENCES} more)" if len(differences) > MAX_DIFFERENCES else ""
        message = f"{record} is not what gate {stage.name} computes from the content: {shown}{more}"
        return Check(name, False, message, file=record, details={"differences": differences})
    if not recomputed.get("passed"):
        return Check(name, False, f"{record}: gate {stage.name} fails when re-run (as recorded)", file=record)
    return Check(name, True, f"{record}: recomputed, identical", file=record)


def _load(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _stable(record: dict) -> dict:
    return {key: value for key, value in record.items() if key not in VOLATILE}


def _differences(committed, recomputed, where: str = "") -> list[str]:
    """Human-readable differences, committed -> recomputed; checks are named by check name and column."""
    if isinstance(committed, dict) and isinstance(recomputed, dict):
        out = []
        for key in [*committed, *(k for k in recomputed if k not in committed)]:
            out += _differences(committed.get(key), recomputed.get(key), f"{where}.{key}" if where else str(key))
        return out
    if isinstance(committed, list) and isinstance(recomputed, list):
        out = [] if len(committed) == len(recomputed) else [f"{where}: {len(committed)} -> {len(recomputed)} items"]
        for index, (old, new) in enumerate(zip(committed, recomputed, strict=False)):
            out += _differences(old, new, f"{where}[{_label(old, index)}]")
        return out
    if committed != recomputed:
        return [f"{where}: {_short(committed)} -> {_short(recomputed)}"]
    return []


def _label(item, index: int) -> str:
    if isinstance(item, dict) and item.get("name"):
        return " ".join(str(item[key]) for key in ("name", "column") if item.get(key))
    return str(index)


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
