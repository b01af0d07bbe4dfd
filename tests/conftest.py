import os
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
