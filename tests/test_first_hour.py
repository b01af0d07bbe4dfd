"""The first hour of a new user: bake from a checkout, set up and run the pipeline offline, find the next step."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def bake(output: Path, **answers) -> Path:
    return Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(output), extra_context=answers))


def user_env() -> dict[str, str]:
    """A shell as a new user has it: this venv's tools (uv among them) on PATH, nothing pointing into a venv."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    return env


def require_unshare() -> None:
    """`unshare -n` (a new, empty network namespace) needs root or user namespaces; CI runs as root."""
    ok = shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail("`unshare -n` does not work here, so the offline set-up cannot be tested")
        pytest.skip("`unshare -n` does not work here")


def test_a_bake_ends_with_the_next_three_commands(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("PWD", str(tmp_path))
    bake(tmp_path)
    lines = capfd.readouterr().out.strip().splitlines()
    assert lines[-4] == f"Created {tmp_path / 'breast-cancer-classifier'}. Next:"
    assert [line.split("#")[0].strip() for line in lines[-3:]] == [
        "cd breast-cancer-classifier",
        "make setup",
        "make pipeline",
    ]


def test_make_help_lists_every_target_with_one_line(tmp_path):
    repo = bake(tmp_path)
    makefile = (repo / "Makefile").read_text()
    targets = re.search(r"^\.PHONY: (.*)$", makefile, re.MULTILINE).group(1).split()
    shown = subprocess.run(["make", "help"], cwd=repo, capture_output=True, text=True, check=True).stdout
    described = dict(re.findall(r"^  make (\S+) +(\S.*)$", shown, re.MULTILINE))
    assert sorted(described) == sorted(targets)
    assert len(shown.splitlines()) == len(targets)


def test_a_repo_baked_from_a_checkout_sets_up_and_runs_its_pipeline_offline(tmp_path):
    require_unshare()
    repo = bake(tmp_path)
    assert (repo / ".modelrail-source").read_text().strip() == str(ROOT)
    tracked = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout
    assert ".modelrail-source" not in tracked.split(), "a path on the baking machine must not be committed"

    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", "make setup && make pipeline"],
        cwd=repo,
        env=user_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"offline setup + pipeline failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    for gate in ("raw", "features", "model"):
        assert json.loads((repo / f"gates/{gate}.json").read_text())["passed"] is True
    assert "pre-commit" in (repo / ".git/hooks/pre-commit").read_text()
    # modelrail came from this checkout, as a regular install into the baked venv
    shown = subprocess.run(
        [str(repo / ".venv/bin/python"), "-m", "pip", "show", "-f", "modelrail"], capture_output=True, text=True
    )
    assert shown.returncode == 0 and "modelrail/gate_records.py" in shown.stdout
