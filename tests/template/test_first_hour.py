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
from support import ROOT

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


@pytest.mark.bake
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


@pytest.mark.bake
def test_make_help_lists_every_target_with_one_line(tmp_path):
    repo = bake(tmp_path)
    makefile = (repo / "Makefile").read_text()
    targets = re.search(r"^\.PHONY: (.*)$", makefile, re.MULTILINE).group(1).split()
    # As a user runs it: not as a sub-make of `make test`, which would add "Entering directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    shown = subprocess.run(["make", "help"], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout
    described = dict(re.findall(r"^  make (\S+) +(\S.*)$", shown, re.MULTILINE))
    assert sorted(described) == sorted(targets)
    assert len(shown.splitlines()) == len(targets)


@pytest.mark.bake
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
    assert shown.returncode == 0 and "modelrail/gates/records.py" in shown.stdout


class Terminal:
    """A command on a pseudo-terminal, driven as a person would: wait for a prompt, type an answer."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=user_env())
        os.close(slave)
        self.seen = ""

    def expect(self, pattern: str, timeout: float = 120) -> str:
        """Read until `pattern` appears in what was printed since the last match; return that text."""
        import select

        regex = re.compile(pattern)
        while not (match := regex.search(self.seen)):
            ready, _, _ = select.select([self.master], [], [], timeout)
            try:
                chunk = os.read(self.master, 4096).decode(errors="replace") if ready else ""
            except OSError:  # the other end closed
                chunk = ""
            if not chunk:
                raise AssertionError(f"no {pattern!r} in:\n{self.seen[-3000:]}")
            self.seen += chunk
        text, self.seen = self.seen[: match.end()], self.seen[match.end() :]
        return text

    def answer(self, prompt: str, text: str) -> str:
        shown = self.expect(prompt)
        os.write(self.master, f"{text}\n".encode())
        return shown


@pytest.mark.bake
def test_modelrail_new_asks_again_on_each_bad_answer_and_bakes_a_valid_repo(tmp_path):
    term = Terminal([str(BIN / "modelrail"), "new", "--output-dir", str(tmp_path)], cwd=tmp_path)
    term.answer(r"What the model predicts: .*\[binary-classification\]: ", "clustering")
    term.answer(r"! task 'clustering' .*\n.*What the model predicts: .*: ", "")
    term.answer(r"Project name \(free text\) \[Breast Cancer Classifier\]: ", "Churn Predictor")
    term.answer(r"Repository name .*\[churn-predictor\]: ", "Churn Predictor!")
    term.answer(r"! project_slug 'Churn Predictor!' is not a valid slug \(fix: .*\n.*Repository name.*: ", "")
    # the package name is derived from the slug, and offered only as a valid name
    term.answer(r"Python package name .*\[churn_predictor\]: ", "")
    term.answer(r"One-line description .*: ", "")
    term.answer(r"Author or team name .*: ", "")
    term.answer(r"Author or team e-mail .*: ", "not-an-email")
    term.answer(r"! author_email .*\n.*e-mail .*: ", "team@example.com")
    term.answer(r"GitHub user or organisation .*: ", "")
    term.answer(r"Who must review changes to the gates .*\[@my-org\]: ", "")
    term.answer(r"File name of the data set .*\[breast_cancer.csv\]: ", "")
    term.answer(r"Name of the label column .*\[target\]: ", "")
    term.answer(r"Python version \(3.11, 3.12 or 3.13\) \[3.11\]: ", "3.9")
    term.answer(r"! python_version '3.9' is not supported .*\n.*Python version.*: ", "3.12")
    term.answer(r"Environment branches .*\[staging,production\]: ", "main,prod")
    term.answer(r"! environments .*development branch.*\n.*Environment branches.*: ", "")
    term.answer(r"MLflow tracking URI .*: ", "")
    term.answer(r"DVC remote: .*: ", "inside")
    term.answer(r"! dvc_remote 'inside' is inside the repository .*\n.*DVC remote: .*: ", "")
    term.answer(r"Endpoint URL of an S3-compatible store .*: ", "")
    term.answer(r"Container registry .*: ", "")
    term.answer(r"GitOps controller .*\(argocd, flux, none\) \[argocd\]: ", "kubectl")
    term.answer(r"! gitops 'kubectl' is not one of the options .*\n.*GitOps controller.*: ", "flux")
    term.answer(r"modelrail version to pin .*: ", "")
    term.answer(r"GitHub owner/name of the modelrail repository .*: ", "")
    repo = tmp_path / "churn-predictor"
    ending = term.expect(r"make pipeline.*\n")
    assert term.proc.wait(timeout=60) == 0
    assert f"Created {repo}. Next:" in ending and "make setup" in ending

    answers = json.loads((repo / ".cookiecutter.json").read_text())
    assert answers["python_version"] == "3.12" and answers["author_email"] == "team@example.com"
    assert answers["package_name"] == "churn_predictor" and answers["environments"] == "staging,production"
    tracked = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout
    assert "src/churn_predictor/train.py" in tracked.split() and "deploy/sync/production.yaml" in tracked.split()
    branches = subprocess.run(["git", "branch", "--format=%(refname:short)"], cwd=repo, capture_output=True, text=True)
    assert sorted(branches.stdout.split()) == ["main", "production", "staging"]
    dvc_status = [sys.executable, "-m", "dvc", "status", "--cloud"]
    status = subprocess.run(dvc_status, cwd=repo, capture_output=True, text=True)
    assert status.returncode == 0 and "in sync" in status.stdout, status.stdout + status.stderr


@pytest.mark.bake
def test_modelrail_new_bakes_next_to_the_template_checkout_not_inside_it(tmp_path):
    from modelrail import new

    assert new.template_checkout() == ROOT
    assert new.default_output_dir(ROOT, ROOT / "src") == ROOT.parent
    assert new.default_output_dir(ROOT, ROOT) == ROOT.parent
    assert new.default_output_dir(ROOT, tmp_path) == tmp_path


def test_a_derived_package_name_is_always_valid(tmp_path):
    from modelrail import new

    questions = json.loads((ROOT / "cookiecutter.json").read_text())
    checks = new.load_checks(ROOT, {key: value for key, value in questions.items() if not key.startswith("_")})
    errors = (checks.AnswerError,)
    check = checks.ANSWER_CHECKS["package_name"]
    assert new.package_name_for("churn_predictor", check, errors) == "churn_predictor"
    for reserved in ("test", "class", "json"):
        derived = new.package_name_for(reserved, check, errors)
        check(derived)  # raises if invalid
        assert derived.startswith(reserved)


@pytest.mark.bake
def test_the_baked_repo_keeps_its_action_and_python_pins_current_with_dependabot(tmp_path):
    import yaml

    repo = bake(tmp_path)
    config = yaml.safe_load((repo / ".github/dependabot.yml").read_text())
    assert {update["package-ecosystem"] for update in config["updates"]} == {"github-actions", "pip"}
    schema = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(repo / ".github/dependabot.yml")],
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr


NODE24 = {  # verified against each action's repository: `git rev-parse <tag>^{commit}`, runs.using node24
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/cache": ("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "peter-evans/create-pull-request": ("5f6978faf089d4d20b00c7766989d076bb2fc7f1", "v8.1.1"),
    "marocchino/sticky-pull-request-comment": ("5770ad5eb8f42dd2c4f34da00c94c5381e49af88", "v3.0.5"),
}


def test_every_third_party_action_is_pinned_to_its_node24_release():
    files = [*ROOT.glob("{{cookiecutter.project_slug}}/.github/workflows/*.yml"), *ROOT.glob("actions/*/action.yml")]
    files += list(ROOT.glob(".github/workflows/*.yml"))
    seen = set()
    for path in files:
        for name, ref, comment in re.findall(
            r"uses:\s*([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@(\S+)(?:\s*#\s*(\S+))?", path.read_text()
        ):
            if name in NODE24:
                assert (ref, comment) == NODE24[name], f"{path}: {name}@{ref} # {comment}"
                seen.add(name)
    assert seen == set(NODE24)
