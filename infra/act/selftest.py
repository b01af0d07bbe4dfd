"""Proof that act runs GitHub workflows offline on this host, through act_runner.run_workflow.

    python infra/act/selftest.py            # exit 0 when every check passes; prints timings

Builds, under a temp dir: a "model repo" (git, remote origin on the acme/model-repo URL, branch feature/x) with
infra/act/sample/workflows/pr.yml, and a second repo someowner/somerepo (tag v0.1.0) holding a composite action.
Then runs the pull_request workflow green and with a failing step, and checks step outputs, job outputs,
GITHUB_STEP_SUMMARY, secrets/vars/env, the setup-python, cache, checkout and PR-comment stand-ins.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from act_runner import run_workflow, stand_in_repos  # noqa: E402

SAMPLE = HERE / "sample"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def init_repo(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "e2e@example.invalid")
    git(path, "config", "user.name", "e2e")
    git(path, "config", "commit.gpgsign", "false")


def build(tmp: Path) -> tuple[Path, Path]:
    other = tmp / "checkout-root" / "someowner" / "somerepo"
    init_repo(other)
    shutil.copytree(SAMPLE / "somerepo", other, dirs_exist_ok=True)
    git(other, "add", "-A")
    git(other, "commit", "-qm", "hello action")
    git(other, "tag", "v0.1.0")

    repo = tmp / "model-repo"
    init_repo(repo)
    git(repo, "remote", "add", "origin", "https://github.com/acme/model-repo.git")  # never contacted
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(SAMPLE / "workflows" / "pr.yml", repo / ".github" / "workflows" / "pr.yml")
    (repo / "README.md").write_text("# model repo\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    git(repo, "checkout", "-q", "-b", "feature/x")
    (repo / "README.md").write_text("# model repo\nchange\n")
    git(repo, "commit", "-qam", "change")
    return repo, other


def event(repo: Path) -> dict:
    head = git(repo, "rev-parse", "HEAD")
    base = git(repo, "rev-parse", "main")
    return {
        "action": "opened",
        "number": 7,
        "pull_request": {
            "number": 7,
            "title": "Try act",
            "head": {"ref": "feature/x", "sha": head},
            "base": {"ref": "main", "sha": base},
        },
        "repository": {
            "full_name": "acme/model-repo",
            "name": "model-repo",
            "owner": {"login": "acme"},
            "default_branch": "main",
        },
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="modelrail-act-selftest-") as t:
        tmp = Path(t)
        repo, other = build(tmp)
        comments = tmp / "comments"
        env = {
            "MODELRAIL_PR_COMMENTS_DIR": str(comments),
            "MODELRAIL_ACT_PYTHON": sys.executable,
            "MODELRAIL_ACT_CHECKOUT_ROOT": str(tmp / "checkout-root"),
            "EXTRA_ENV": "hi",
        }
        local = {"someowner/somerepo@v0.1.0": other}
        print("stand-ins:", {k: v.name for k, v in stand_in_repos(repo / ".github").items()})

        t0 = time.perf_counter()
        run = run_workflow(
            repo, "pull_request", event(repo), local, env, secrets={"MY_SECRET": "s3cr3t-value"}, vars={"MY_VAR": "v1"}
        )
        green_s = time.perf_counter() - t0
        if run.returncode != 0:
            print(run.text)
            print("FAIL: green run exited", run.returncode)
            return 1
        assert run.job_results == {"check": "success", "after": "success"}, run.job_results
        outs = run.outputs("check")
        assert outs["hello"]["greeting"] == "hello, feature/x", outs
        assert outs["show"]["answer"] == "42", outs
        assert outs["py"]["python-path"] == sys.executable, outs
        assert outs["other"]["commit"] == git(other, "rev-parse", "v0.1.0"), outs
        summary = run.summary("check")
        assert "### hello from composite: feature/x" in summary, summary
        assert "## show step: hello, feature/x" in summary, summary
        assert summary.count("### hello from composite") == 1, summary
        text = run.text
        assert "s3cr3t-value" not in text, "secret leaked into the log"
        assert "secret=***" in text, "secret not masked as *** (or not passed)"
        assert "var=v1 token set: yes extra_env=hi" in text
        assert "job output ok: hello, feature/x" in text
        body = (comments / "7-modelrail.md").read_text()
        assert body == "report for hello, feature/x\n", body
        calls = [json.loads(line) for line in (comments / "calls.jsonl").read_text().splitlines()]
        assert calls[-1]["action"] == "written" and calls[-1]["had_token"], calls
        ws_line = next(line for line in text.splitlines() if "workspace=" in line)
        print(f"green run ok in {green_s:.1f}s; " + ws_line.split("] ", 1)[-1].strip())

        t0 = time.perf_counter()
        bad = run_workflow(
            repo, "pull_request", event(repo), local, {**env, "FAIL_ME": "1"}, secrets={"MY_SECRET": "x"}
        )
        fail_s = time.perf_counter() - t0
        assert bad.returncode != 0, "a failing step must make act exit non-zero"
        assert bad.job_results.get("check") == "failure", bad.job_results
        assert bad.step_results("check").get("show") == "failure", bad.step_results("check")
        assert "after" not in bad.job_results or bad.job_results["after"] != "success"
        print(f"failing run ok: act exit {bad.returncode} in {fail_s:.1f}s, job results {bad.job_results}")
    print("selftest passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
