"""End to end: promotion by merging into environment branches, and rollback by `git revert`, run by act.

A baked repo's real workflows run on this host against this checkout's actions: pull-request.yml (container gate
included), publish.yml on a push to main, promote.yml on a push to staging or production. Real parts: the MLflow
tracking server on PostgreSQL with MLflow's basic-auth (the model registry; pull-request runs get the `ci` user's
credentials, which only read the registry, publish and promote the `release` user's) keeping its artifacts in an
object store bucket (SeaweedFS), the DVC remote in another bucket of that store, a bare git `origin` (the promote
job pushes its release commit there), the Docker engine of infra/, and an image registry of this module's own
(Debian's docker-registry on a free port) that the tests make read-only and kill without touching the registry
other tests use. The tests are steps, run in file order: each builds on the releases the ones before it made, so after
a failure the later steps fail at once naming it (the `steps` marker, tests/conftest.py).

Outside CI a missing tool skips these tests with the reason; with CI=true it fails them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from support import ROOT
from support.repos import git, overlay_image
from support.services import (
    DVC_BUCKET,
    OWNER,
    S3_CREDENTIALS,
    act_executable,
    bake_for_act,
    modelrail_refs,
    require,
)
from test_pull_request_e2e import dvc, set_params, sync, tool_env

sys.path.insert(0, str(ROOT / "infra/act"))
from act_runner import lean_copy, run_workflow

pytestmark = [pytest.mark.act, pytest.mark.steps]

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)


class ImageRegistry:
    """Debian's docker-registry on 127.0.0.1:<free port>, owned by this module: start, make read-only, kill."""

    def __init__(self, root: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.addr = f"127.0.0.1:{sock.getsockname()[1]}"
        self.root, self.proc = root, None

    def start(self, read_only: bool = False) -> None:
        self.kill()
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root / "data")},
                "maintenance": {"readonly": {"enabled": read_only}},
            },
            "http": {"addr": self.addr},
        }
        path = self.root / "config.yml"
        path.write_text(yaml.safe_dump(config))
        log = (self.root / "registry.log").open("a")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(path)], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while not self._answers():
            assert self.proc.poll() is None, (self.root / "registry.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the test registry did not answer within 30 s"
            time.sleep(0.2)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.addr}/v2/", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def _get(self, path: str, method: str = "GET"):
        request = urllib.request.Request(
            f"http://{self.addr}/v2/{path}", method=method, headers={"Accept": ", ".join(MANIFEST_TYPES)}
        )
        return urllib.request.urlopen(request, timeout=10)

    def digest(self, repository: str, tag: str) -> str | None:
        """What the tag points at on the registry (read over its HTTP API, not through the code under test)."""
        try:
            with self._get(f"{repository}/manifests/{tag}", method="HEAD") as answer:
                return answer.headers["Docker-Content-Digest"]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def labels(self, repository: str, reference: str) -> dict[str, str]:
        with self._get(f"{repository}/manifests/{reference}") as answer:
            config = json.load(answer)["config"]["digest"]
        with self._get(f"{repository}/blobs/{config}") as answer:
            return json.load(answer)["config"].get("Labels") or {}


@pytest.fixture(scope="module")
def world(mlflow_auth_server, s3_stack, docker_infra):
    """A baked repo whose main ran its pipeline (pushed to git and DVC, its version registered) and its registry."""
    require(shutil.which("docker-registry") is not None, "docker-registry not installed (apt docker-registry)")
    from mlflow import MlflowClient

    tmp = Path(tempfile.mkdtemp(prefix="modelrail-promote-e2e-"))
    registry = ImageRegistry(tmp / "registry")
    registry.root.mkdir()
    registry.start()
    server, mlflow_server = mlflow_auth_server, mlflow_auth_server.uri
    slug = f"promote-{uuid.uuid4().hex[:8]}"  # the MLflow server outlives test runs: a fresh registered model
    server.create_registered_model(slug)
    repo = bake_for_act(
        tmp,
        project_slug=slug,
        package_name="promoted_model",
        mlflow_tracking_uri=mlflow_server,
        container_registry=f"{registry.addr}/{OWNER}",
        dvc_remote=f"s3://{DVC_BUCKET}/{slug}",
        dvc_remote_endpoint=s3_stack["endpoint"],
    )
    origin = tmp / "origin.git"
    git(tmp, "init", "-q", "--bare", str(origin))
    # act names the repository after the fetch URL; git pushes (the promote job's too) go to the bare repository.
    git(repo, "remote", "add", "origin", f"https://github.com/{OWNER}/{slug}.git")
    git(repo, "config", "remote.origin.pushurl", str(origin))
    # What main's pull request did, with the pull-request credentials: train (log the run), push the outputs.
    os.environ.update(server.credentials("ci"))
    dvc(repo, mlflow_server, "repro")
    dvc(repo, mlflow_server, "push")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Run the pipeline on main")
    sync(repo, origin, "--all")
    # Where the checkout stand-in clones `ref:` checkouts from (promote.yml checks out the branch's newest commit).
    checkouts = tmp / "checkouts"
    (checkouts / OWNER).mkdir(parents=True)
    (checkouts / OWNER / slug).symlink_to(origin)
    world = {
        "tmp": tmp,
        "repo": repo,
        "origin": origin,
        "slug": slug,
        "uri": mlflow_server,
        "registry": registry,
        "image": f"{OWNER}/{slug}",
        "server": server,
        "client": MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server),
        "modelrail": lean_copy(ROOT, tmp / "modelrail"),
        "base_image": docker_infra["MODELRAIL_BASE_IMAGE"],
        "artifacts": {},
    }
    yield world
    registry.kill()
    if not os.environ.get("MODELRAIL_E2E_KEEP"):
        shutil.rmtree(tmp, ignore_errors=True)


def act(world, event: str, payload: dict, workflow: str):
    payload = {**payload, "repository": {"full_name": f"{OWNER}/{world['slug']}", "name": world["slug"]}}
    # The secrets of the run: the repository's (`ci`) for pull requests, publish's and the environments' (`release`).
    user = "ci" if workflow == "pull-request.yml" else "release"
    # Steps see the host's environment (self-hosted mode): no credentials there, only the run's secrets.
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        os.environ.pop(name, None)
    return run_workflow(
        world["repo"],
        event,
        payload,
        secrets=world["server"].credentials(user),
        local_repos=modelrail_refs(world["modelrail"], world["repo"]),
        env={
            "MODELRAIL_ACT_PYTHON": sys.executable,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "DOCKER_CONFIG": str(world["tmp"] / "docker-config"),  # `docker login` writes here, not in ~/.docker
            "MODELRAIL_ACT_CHECKOUT_ROOT": str(world["tmp"] / "checkouts"),
            "MODELRAIL_PR_COMMENTS_DIR": str(world["tmp"] / "comments"),  # the sticky-comment stand-in's
            **S3_CREDENTIALS,  # what the workflows' OIDC step would export, for `dvc pull` from the bucket
        },
        vars={
            "MLFLOW_TRACKING_URI": world["uri"],
            "MODELRAIL_PYTHON_ENV": sys.prefix,
            "MODELRAIL_BASE_IMAGE": world["base_image"],
        },
        workflow=f".github/workflows/{workflow}",
        timeout=1200,
        act=act_executable(),
    )


def push_event(world, branch: str, rev: str = "HEAD") -> dict:
    """The push event of `rev` on `branch`; sent again for an older commit, it is a re-run of that workflow run."""
    sha = git(world["repo"], "rev-parse", rev)
    return {
        "ref": f"refs/heads/{branch}",
        "before": git(world["repo"], "rev-parse", f"{sha}~1"),
        "after": sha,
        "head_commit": {"id": sha, "message": git(world["repo"], "log", "-1", "--format=%B", sha)},
        "pusher": {"name": "maintainer"},
    }


def push_branch(world, branch: str, workflow: str):
    """Push `branch` to origin, as a merged pull request or a revert does, and run the workflow that push starts."""
    git(world["repo"], "checkout", "-q", branch)
    sync(world["repo"], world["origin"], branch)
    return act(world, "push", push_event(world, branch), workflow)


def merge(world, source: str, target: str, workflow: str = "promote.yml", title: str = ""):
    """Merge `source` into `target` (a reviewed pull request's merge commit) and run what the push starts."""
    repo = world["repo"]
    git(repo, "checkout", "-q", target)
    git(repo, "merge", "-q", "--no-ff", source, "-m", title or f"Merge {source} into {target}")
    return push_branch(world, target, workflow)


def pull(world, branch: str) -> None:
    """Bring the release commit the promote job pushed into the local branch."""
    git(world["repo"], "fetch", "-q", str(world["origin"]), "+refs/heads/*:refs/remotes/origin/*")
    git(world["repo"], "checkout", "-q", branch)
    git(world["repo"], "reset", "-q", "--hard", f"origin/{branch}")


def origin_file(world, branch: str, path: str) -> str:
    return git(world["origin"], "show", f"{branch}:{path}")


def alias(world, env: str) -> str | None:
    from modelrail.model_registry import Registry

    os.environ.update(world["server"].credentials("admin"))
    return Registry(world["client"], world["slug"], world["uri"]).alias(env)


def registered_version(world, content_hash: str) -> str | None:
    """The model version publish registered for this content hash (read as admin), or None."""
    os.environ.update(world["server"].credentials("admin"))
    versions = world["client"].search_model_versions(f"name='{world['slug']}'")
    found = [str(v.version) for v in versions if (v.tags or {}).get("modelrail.content_hash") == content_hash]
    assert len(found) <= 1, f"{content_hash} registered twice: {found}"
    return found[0] if found else None


def tag(world, name: str) -> str | None:
    return world["registry"].digest(world["image"], name)


def current_artifact(world) -> dict:
    """The content hash of the checked-out commit (dvc.lock) and its MLflow run (models/run.json)."""
    repo = world["repo"]
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    outs = {out["path"]: out["md5"] for out in lock["stages"]["train"]["outs"]}
    run_id = json.loads(git(repo, "show", "HEAD:models/run.json"))["run_id"]
    return {"hash": outs["models/model"].removesuffix(".dir"), "run_id": run_id}


def published(world, artifact: dict) -> dict:
    """After publish: the artifact with its image digest and the model version registered from its run."""
    version = registered_version(world, artifact["hash"])
    assert version, f"publish registered no version tagged {artifact['hash']}"
    os.environ.update(world["server"].credentials("admin"))
    assert world["client"].get_model_version(world["slug"], version).run_id == artifact["run_id"]
    return {**artifact, "version": version, "digest": tag(world, f"model-{artifact['hash']}")}


def assert_succeeded(run, *jobs: str) -> None:
    assert run.returncode == 0, run.text[-8000:]
    assert {job: run.job_results.get(job) for job in jobs} == dict.fromkeys(jobs, "success"), run.job_results


def assert_released(world, env: str, artifact: dict, kind: str = "promotion") -> dict:
    """Alias, image tag, release record and manifests of `env` all name this artifact; returns the record."""
    assert alias(world, env) == artifact["version"]
    assert tag(world, env) == artifact["digest"]
    assert tag(world, f"model-{artifact['hash']}") == artifact["digest"], "the model-<hash> tag moved"
    head = git(world["origin"], "log", "-1", "--format=%an|%s", env)
    assert head.startswith("modelrail-bot|"), head
    record = json.loads(origin_file(world, env, f"releases/{env}/release.json"))
    assert (record["kind"], record["model_version"], record["content_hash"]) == (
        kind,
        artifact["version"],
        artifact["hash"],
    )
    assert record["image"]["digest"] == artifact["digest"]
    assert {name: gate["passed"] for name, gate in record["gates"].items()} == {
        "raw": True,
        "features": True,
        "model": True,
    }
    image = overlay_image(origin_file(world, env, f"deploy/{env}/kustomization.yaml"))
    assert image == f"{world['registry'].addr}/{world['image']}@{artifact['digest']}"
    return record


def test_a_push_to_main_publishes_the_image_of_its_gated_artifact(world):
    git(world["repo"], "checkout", "-q", "main")
    artifact = current_artifact(world)
    run = push_branch(world, "main", "publish.yml")
    assert_succeeded(run, "publish")
    digest = tag(world, f"model-{artifact['hash']}")
    sha = git(world["repo"], "rev-parse", "HEAD")
    assert digest and tag(world, f"sha-{sha}") == digest
    labels = world["registry"].labels(world["image"], digest)
    assert labels["io.modelrail.model.md5"] == artifact["hash"] and labels["io.modelrail.git.sha"] == sha
    world["artifacts"]["first"] = published(world, artifact)


def test_merging_main_into_staging_then_production_releases_that_artifact(world):
    first = world["artifacts"]["first"]
    run = merge(world, "main", "staging")
    assert_succeeded(run, "promote")
    assert run.outputs("promote")["promote"]["changed"] == "true"
    record = assert_released(world, "staging", first)
    assert record["code_sha"] == git(world["repo"], "rev-parse", "staging") and record["actor"] == "modelrail-e2e"

    pull(world, "staging")
    run = merge(world, "staging", "production")
    assert_succeeded(run, "promote")
    assert_released(world, "production", first)
    pull(world, "production")


def test_a_merged_pull_request_passes_the_container_gate_and_is_published(world):
    repo = world["repo"]
    git(repo, "checkout", "-q", "-b", "fewer-trees", "main")
    set_params(repo, n_estimators=150)
    dvc(repo, world["uri"], "repro")
    dvc(repo, world["uri"], "push")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Fewer trees")
    sync(repo, world["origin"], "fewer-trees")
    head, base = git(repo, "rev-parse", "HEAD"), git(repo, "rev-parse", "main")
    pull_request = {
        "number": 11,
        "title": "Fewer trees",
        "head": {"ref": "fewer-trees", "sha": head, "repo": {"full_name": f"{OWNER}/{world['slug']}"}},
        "base": {"ref": "main", "sha": base, "repo": {"full_name": f"{OWNER}/{world['slug']}"}},
    }
    run = act(
        world, "pull_request", {"action": "opened", "number": 11, "pull_request": pull_request}, "pull-request.yml"
    )
    assert_succeeded(run, "test", "validate", "containerize", "comment")
    assert "### container gate ✅ passed" in run.summary("containerize")
    assert (
        (world["tmp"] / "comments/11-modelrail.md")
        .read_text()
        .startswith("<!-- modelrail-report -->\n## modelrail: ✅")
    )
    assert tag(world, f"sha-{head}") is None, "a pull request pushed an image"
    assert registered_version(world, current_artifact(world)["hash"]) is None, "a pull request registered a version"

    run = merge(world, "fewer-trees", "main", workflow="publish.yml")
    assert_succeeded(run, "publish")
    artifact = current_artifact(world)
    assert artifact["hash"] != world["artifacts"]["first"]["hash"]
    second = published(world, artifact)
    assert second["digest"] and second["digest"] != world["artifacts"]["first"]["digest"]
    world["artifacts"]["second"] = second


def test_the_second_release_to_staging_and_running_it_twice_changes_nothing(world):
    first, second = world["artifacts"]["first"], world["artifacts"]["second"]
    # A commit message does not skip a release (a pull request's title flows into it): only a run does the work.
    run = merge(world, "main", "staging", title="Fewer trees [skip promote]")
    assert_succeeded(run, "promote")
    assert_released(world, "staging", second)
    merged, released = git(world["repo"], "rev-parse", "staging"), git(world["origin"], "rev-parse", "staging")
    assert git(world["origin"], "rev-parse", "staging~1") == merged

    pull(world, "staging")
    run = act(world, "push", push_event(world, "staging", merged), "promote.yml")  # a re-run of the merge's run
    assert_succeeded(run, "promote")
    assert run.outputs("promote")["promote"]["changed"] == "false"
    assert git(world["origin"], "rev-parse", "staging") == released
    assert alias(world, "staging") == second["version"] and tag(world, "staging") == second["digest"]
    history = origin_file(world, "staging", "releases/staging/history.jsonl").splitlines()
    assert [json.loads(line)["model_version"] for line in history] == [first["version"], second["version"]]


def test_a_hand_edit_of_deploy_is_undone_and_an_older_approval_releases_nothing(world):
    """Attack 5: deploy/<env>/ edited by hand is re-rendered from the release record; the run approved for an older
    push refuses once the branch has moved on, and moves nothing."""
    repo, second = world["repo"], world["artifacts"]["second"]
    merged = git(world["origin"], "rev-parse", "staging~1")
    overlay = repo / "deploy/staging/kustomization.yaml"
    pinned = f"{world['registry'].addr}/{world['image']}@{second['digest']}"
    assert overlay_image(overlay.read_text()) == pinned
    overlay.write_text(overlay.read_text().replace(second["digest"], world["artifacts"]["first"]["digest"]))
    git(repo, "commit", "-qam", "Point staging at the old image")
    edit = git(repo, "rev-parse", "HEAD")
    run = push_branch(world, "staging", "promote.yml")
    assert_succeeded(run, "promote")
    assert run.outputs("promote")["promote"]["changed"] == "true"
    assert git(world["origin"], "log", "-1", "--format=%an|%s", "staging").startswith(
        "modelrail-bot|Re-render deploy/staging/"
    )
    assert overlay_image(origin_file(world, "staging", "deploy/staging/kustomization.yaml")) == pinned
    assert alias(world, "staging") == second["version"] and tag(world, "staging") == second["digest"]
    restored = git(world["origin"], "rev-parse", "staging")

    pull(world, "staging")
    run = act(world, "push", push_event(world, "staging", merged), "promote.yml")  # the run approved for the merge
    assert run.returncode != 0 and run.job_results.get("promote") == "failure", run.job_results
    assert f"moved on from the approved commit {merged[:12]}" in run.text and edit[:12] in run.text, run.text[-4000:]
    assert git(world["origin"], "rev-parse", "staging") == restored
    assert alias(world, "staging") == second["version"] and tag(world, "staging") == second["digest"]


def test_a_commit_whose_model_gate_failed_is_refused_and_nothing_moves(world):
    repo, second = world["repo"], world["artifacts"]["second"]
    before = git(world["origin"], "rev-parse", "staging")
    git(repo, "checkout", "-q", "-b", "stricter", "main")
    config = yaml.safe_load((repo / "modelrail.yaml").read_text())
    config["gates"]["model"]["thresholds"]["accuracy"] = {"min": 0.999}
    (repo / "modelrail.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {**tool_env(world["uri"]), "PYTHONPATH": str(repo / "src")}
    failed = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True)
    assert failed.returncode != 0 and json.loads((repo / "gates/model.json").read_text())["passed"] is False
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Stricter accuracy (the model gate fails; merged anyway)")
    run = merge(world, "stricter", "staging")
    assert run.returncode != 0 and run.job_results.get("promote") == "failure"
    assert "gate records do not clear this artifact" in run.text and "gates/model.json" in run.text, run.text[-4000:]
    assert alias(world, "staging") == second["version"] and tag(world, "staging") == second["digest"]
    assert git(world["origin"], "log", "-1", "--format=%s", "staging") == "Merge stricter into staging"
    # The team takes the merge back out (history rewritten here only to keep the later tests short).
    git(repo, "reset", "-q", "--hard", before)
    git(repo, "push", "-q", "--force", str(world["origin"]), "staging")


def test_a_registry_that_fails_during_a_promotion_leaves_the_release_as_it_was(world):
    first, second, registry = world["artifacts"]["first"], world["artifacts"]["second"], world["registry"]
    pull(world, "staging")
    git(world["repo"], "checkout", "-q", "production")
    git(world["repo"], "merge", "-q", "--no-ff", "staging", "-m", "Merge staging into production")
    merged = git(world["repo"], "rev-parse", "HEAD")
    # Read-only: the registry answers reads (the artifact resolves), then refuses the tag push midway.
    registry.start(read_only=True)
    try:
        run = push_branch(world, "production", "promote.yml")
    finally:
        registry.start()
    assert run.returncode != 0 and run.job_results.get("promote") == "failure"
    assert "did not move" in run.text and "re-run" in run.text, run.text[-4000:]
    assert alias(world, "production") == first["version"] and tag(world, "production") == first["digest"]
    assert git(world["origin"], "rev-parse", "production") == merged, "a release commit was pushed"

    registry.kill()  # gone altogether: the job stops at the registry login, before anything moves
    try:
        run = act(world, "push", push_event(world, "production"), "promote.yml")
    finally:
        registry.start()
    assert run.returncode != 0 and run.job_results.get("promote") == "failure"
    assert registry.addr in run.text and "modelrail promote" not in run.text, run.text[-4000:]
    assert alias(world, "production") == first["version"] and tag(world, "production") == first["digest"]
    assert git(world["origin"], "rev-parse", "production") == merged

    run = act(world, "push", push_event(world, "production"), "promote.yml")  # the re-run the error asked for
    assert_succeeded(run, "promote")
    assert_released(world, "production", second)


def test_git_revert_on_production_restores_the_previous_release(world):
    first, repo = world["artifacts"]["first"], world["repo"]
    pull(world, "production")
    promotion = git(repo, "rev-parse", "HEAD~1")  # the merge of staging, below the release commit
    git(repo, "revert", "--no-edit", "-m", "1", promotion)
    run = push_branch(world, "production", "promote.yml")
    assert_succeeded(run, "promote")
    record = assert_released(world, "production", first, kind="rollback")
    assert record["previous"]["model_version"] == world["artifacts"]["second"]["version"]
    history = origin_file(world, "production", "releases/production/history.jsonl").splitlines()
    assert [json.loads(line)["kind"] for line in history] == ["promotion", "promotion", "rollback"]
