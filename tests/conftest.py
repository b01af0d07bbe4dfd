"""Unit-test fixtures and the marker hooks. Helpers the test modules share are in support/; the fixtures that start
services (Docker, MLflow, Spark) are in support/services.py, loaded here as a plugin."""

import os
from pathlib import Path

import pytest
from support.data import GOOD_CSV

from modelrail.cli import LIBRARY_DEFAULTS, main

pytest_plugins = ["support.services"]

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
if "MUTANT_UNDER_TEST" in os.environ:
    # `make mutation` forks each mutant's pytest session from one server that has collected the tests once: the
    # heavy libraries imported here are imported once, not again for every mutant (seconds each under load).
    import great_expectations  # noqa: F401
    import mlflow  # noqa: F401
# What the program sets for the libraries it drives; tests call the commands' modules in this process too.
for _name, _value in LIBRARY_DEFAULTS.items():
    os.environ.setdefault(_name, _value)


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


# A test is in a slow family by what it needs: the fixtures that start the engine or the MLflow server mark it, so a
# new test that uses them cannot be left out of its family (`make test-fast` deselects bake, docker and act).
FIXTURE_MARKS = {
    "docker_infra": "docker",
    "mlflow_server": "act",
    "mlflow_auth_server": "services",
    "spark": "services",
}


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture, mark in FIXTURE_MARKS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(mark)
    # Under `make mutation` each mutant runs with -x: the unit tests first, so that a mutant they kill costs no git or
    # MLflow round trip (a stable sort keeps each module's order).
    if "MUTANT_UNDER_TEST" in os.environ:
        items.sort(key=lambda item: item.get_closest_marker("subprocess") is not None)


# `pytestmark = pytest.mark.steps`: the module's tests are the steps of one scenario, in file order, each building on
# the state the ones before it left. A step runs only when every step before it passed in this session; otherwise it
# fails at once naming the first one that did not, so the first real failure is the one to read.
STEP_OUTCOMES = pytest.StashKey[dict]()


def _steps_before(item) -> list[str]:
    tests = [f for name, f in vars(item.module).items() if name.startswith("test_") and callable(f)]
    order = [f.__name__ for f in sorted(tests, key=lambda f: f.__code__.co_firstlineno)]
    return order[: order.index(item.originalname)]


def pytest_runtest_setup(item):
    if item.get_closest_marker("steps") is None:
        return
    outcomes = item.session.stash.setdefault(STEP_OUTCOMES, {})
    for step in _steps_before(item):
        outcome = outcomes.get((item.module.__name__, step), "not run in this session")
        if outcome != "passed":
            pytest.fail(
                f"not run: the earlier step {step} {outcome} (the steps of {item.module.__name__} build on each "
                "other: fix that one first, and run the module whole)",
                pytrace=False,
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if item.get_closest_marker("steps") is not None and (report.when == "call" or report.failed):
        key = (item.module.__name__, item.originalname)
        outcomes = item.session.stash.setdefault(STEP_OUTCOMES, {})
        if outcomes.get(key) != "failed":
            outcomes[key] = "passed" if report.passed else "failed"
    return report
