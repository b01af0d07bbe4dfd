import os
import subprocess
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
