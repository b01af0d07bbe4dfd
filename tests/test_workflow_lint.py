"""Every workflow and action file, here and in a baked repo, passes the GitHub schemas and zizmor (offline)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT

# check-jsonschema and zizmor run on every workflow.
pytestmark = pytest.mark.subprocess

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """The tool from this venv or PATH; outside CI a missing one skips with the reason, in CI it fails."""
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not path:
        reason = f"{name} is not installed (it is in the dev extra: pip install -e '.[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return str(path)


def files(root: Path) -> tuple[list[Path], list[Path]]:
    workflows = sorted((root / ".github/workflows").glob("*.y*ml"))
    actions = sorted((root / "actions").glob("*/action.y*ml"))
    return workflows, actions


@pytest.fixture(scope="module")
def baked(tmp_path_factory) -> Path:
    from cookiecutter.main import cookiecutter

    out = tmp_path_factory.mktemp("bake")
    return Path(
        cookiecutter(str(ROOT), no_input=True, output_dir=str(out), extra_context={"dvc_remote": str(out / "r")})
    )


def check_schemas(workflows: list[Path], actions: list[Path]) -> None:
    for schema, paths in (("vendor.github-workflows", workflows), ("vendor.github-actions", actions)):
        if paths:
            args = [tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths)]
            proc = subprocess.run(args, capture_output=True, text=True)
            assert proc.returncode == 0, proc.stdout + proc.stderr


def check_zizmor(root: Path, *options: str) -> None:
    """No finding that `options` select (default: medium severity or higher)."""
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--format", "plain", *(options or ("--min-severity", "medium")), "."],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_this_repository_passes(tmp_path):
    workflows, actions = files(ROOT)
    assert {path.name for path in workflows} >= {"ci.yml", "selftest-setup.yml", "selftest-test.yml"}
    assert {path.parent.name for path in actions} >= {"setup", "test", "validate"}
    check_schemas(workflows, actions)
    # zizmor on a copy holding only the workflows and actions: the template folder is not a repository of its own.
    for path in [*workflows, *actions]:
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    check_zizmor(tmp_path)


@pytest.mark.bake
def test_a_baked_repository_passes(baked):
    workflows, _ = files(baked)
    assert "pull-request.yml" in [path.name for path in workflows]
    # Baked from this checkout: the modelrail actions are pinned to its commit, no tag anywhere.
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    text = (baked / ".github/workflows/pull-request.yml").read_text()
    assert f"modelrail/modelrail/actions/validate@{sha} # v0.1.0\n" in text
    for path in workflows:
        assert "/actions/" not in re.sub(r"modelrail/modelrail/actions/[a-z-]+@[0-9a-f]{40} # v", "", path.read_text())
    assert not (baked / ".github/zizmor.yml").exists()
    check_schemas(workflows, [])
    # No configuration, every severity: nothing is silenced, and nothing is found.
    check_zizmor(baked, "--no-config")


@pytest.mark.bake
def test_no_expression_is_pasted_into_a_run_script(baked):
    """`${{ }}` inside `run:` is script injection; inputs reach scripts as MODELRAIL_* env vars only."""
    import yaml

    workflows, actions = files(ROOT)
    for path in [*workflows, *actions, *files(baked)[0]]:
        data = yaml.safe_load(path.read_text())
        steps = [step for job in (data.get("jobs") or {}).values() for step in job.get("steps", [])]
        steps += (data.get("runs") or {}).get("steps", [])
        for step in steps:
            assert "${{" not in step.get("run", ""), f"{path}: expression inside run: {step['run'][:80]}"
