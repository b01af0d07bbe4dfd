"""The user guide builds with `mkdocs build --strict`, and its generated pages cover every action and command."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from support import ROOT

# mkdocs builds the guide.
pytestmark = pytest.mark.subprocess


def test_the_guide_builds_strictly_with_generated_references(tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(site),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    actions = (site / "actions" / "index.html").read_text()
    for path in sorted((ROOT / "actions").glob("*/action.yml")):
        assert f'id="{path.parent.name}"' in actions, f"{path.parent.name} is missing from the actions reference"
    assert "report-path" in actions and "fail-on-drift" in actions
    cli = (site / "cli" / "index.html").read_text()
    for command in ("modelrail gate data", "modelrail gate model", "modelrail suite init", "modelrail drift"):
        assert command in cli


def test_an_undocumented_config_key_fails_the_strict_build(tmp_path):
    """The configuration page is hand-written; the build refuses it when a key of config.SCHEMA is missing."""
    docs = tmp_path / "docs"
    subprocess.run(["cp", "-r", str(ROOT / "docs"), str(docs)], check=True)
    page = docs / "configuration.md"
    page.write_text(re.sub(r"\| `drift\.bins` \|.*\n", "", page.read_text()))
    config = (ROOT / "mkdocs.yml").read_text().replace("docs_dir: docs", f"docs_dir: {docs}")
    config = config.replace("scripts/docs_hooks.py", str(ROOT / "scripts" / "docs_hooks.py"))
    (tmp_path / "mkdocs.yml").write_text(config)
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "`drift.bins`" in proc.stderr + proc.stdout
