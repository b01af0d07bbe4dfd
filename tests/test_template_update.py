"""Template updates: a repository baked from an older template commit takes a newer one with `cruft update`,
keeping its own model change, and its pipeline still runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter
from test_template import BIN, ROOT, bake, dvc, run

sys.path.insert(0, str(ROOT / "infra" / "act"))
from act_runner import lean_copy

pytestmark = pytest.mark.bake

GIT_ID = ["-c", "user.name=Template Team", "-c", "user.email=template@example.com"]
SLUG = "{{cookiecutter.project_slug}}"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_ID, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def template_with_history(tmp_path: Path) -> tuple[Path, str, str]:
    """A clone of this repository whose HEAD is the working tree as it is (the older commit), plus one template
    change on top (the newer commit): the change is synthetic so the test does not depend on what changed last."""
    template = tmp_path / "modelrail"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(template)], check=True)
    git(template, "checkout", "--quiet", "-B", "main")
    for path in git(template, "ls-files", "-z").split("\0"):
        if path and not (ROOT / path).exists():
            (template / path).unlink()
    lean_copy(ROOT, template)
    git(template, "add", "-A")
    git(template, "commit", "--quiet", "--allow-empty", "-m", "template as in the working tree")
    old = git(template, "rev-parse", "HEAD").strip()

    makefile = template / SLUG / "Makefile"
    makefile.write_text(makefile.read_text() + "\nmodel-card:\n\t@cat MODEL_CARD.md\n")
    (template / SLUG / "MODEL_CARD.md").write_text("# Model card: {{ cookiecutter.project_name }}\n")
    git(template, "add", "-A")
    git(template, "commit", "--quiet", "-m", "template: a model card")
    new = git(template, "rev-parse", "HEAD").strip()
    return template, old, new


def test_cruft_update_brings_a_template_change_and_keeps_the_model_change(tmp_path):
    template, old, new = template_with_history(tmp_path)
    git(template, "checkout", "--quiet", old)
    repo = Path(cookiecutter(str(template), no_input=True, output_dir=str(tmp_path)))
    git(template, "checkout", "--quiet", "main")

    state = json.loads((repo / ".cruft.json").read_text())
    assert state["template"] == str(template) and state["commit"] == old
    assert state["context"]["cookiecutter"]["project_slug"] == repo.name
    assert ".cruft.json" in run(["git", "ls-files"], repo).stdout
    # Exit 1 with cruft's own verdict: a crash (a traceback, exit 2 on a usage error) is not "out of date".
    stale = run([str(BIN / "cruft"), "check"], repo, check=False)
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "FAILURE: Project's cruft is out of date!" in stale.stdout, stale.stdout + stale.stderr

    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("n_estimators: 200", "n_estimators: 150"))
    assert "n_estimators: 150" in params.read_text(), "the model change did not apply"
    git(repo, "commit", "--quiet", "-am", "model: fewer trees")

    run([str(BIN / "cruft"), "update", "--skip-apply-ask"], repo)

    assert "n_estimators: 150" in params.read_text()
    assert "model-card:" in (repo / "Makefile").read_text()
    assert (repo / "MODEL_CARD.md").read_text() == "# Model card: Breast Cancer Classifier\n"
    assert json.loads((repo / ".cruft.json").read_text())["commit"] == new
    assert not list(repo.rglob("*.rej")), "the update left conflicts"
    changed = {line[3:] for line in run(["git", "status", "--porcelain"], repo).stdout.splitlines()}
    # The workflows pin this template's actions by its commit: the update moves each pin, and changes nothing else.
    pins = {path for path in changed if path.startswith(".github/workflows/")}
    assert changed - pins == {".cruft.json", "Makefile", "MODEL_CARD.md"}
    assert pins, "the workflows' action pins did not follow the template commit"
    for path in pins:
        diff = run(["git", "diff", "-U0", "HEAD", "--", path], repo).stdout
        edits = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        assert edits and all(f"@{old}" in line for line in edits if line.startswith("-")), diff
        assert all(f"@{new}" in line for line in edits if line.startswith("+")), diff
    assert "SUCCESS: Good work! Project's cruft is up to date" in run([str(BIN / "cruft"), "check"], repo).stdout

    # The updated repository still runs its pipeline (up to the feature gate, to keep the test quick).
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "Update from the modelrail template")
    dvc(repo, "repro", "feature_gate")
    for gate in ("raw", "features"):
        assert json.loads((repo / f"gates/{gate}.json").read_text())["passed"] is True


def test_scheduled_workflows_are_baked_with_least_privilege(tmp_path):
    repo = bake(tmp_path)
    for workflow in ("template-update.yml", "monitor.yml"):
        text = (repo / ".github" / "workflows" / workflow).read_text()
        assert "schedule:" in text and "workflow_dispatch:" in text
        assert "\npermissions: {}\n" in text
        assert "peter-evans/create-pull-request@5f6978faf089d4d20b00c7766989d076bb2fc7f1 # v8.1.1" in text
        for line in text.splitlines():
            if line.strip().startswith(("run:", "echo", "dvc", "cruft")):
                assert "${{" not in line, f"{workflow}: an expression inside a run script: {line}"


HOSTILE = "{{ cycler.__init__.__globals__.os.popen('touch pwned').read() }}"


def test_answers_holding_template_markup_are_refused_before_cruft_update(tmp_path):
    repo = bake(tmp_path)
    check = [sys.executable, str(ROOT / "actions/template-check/../../src/modelrail/template_answers.py")]
    assert "answers, none holds template markup" in run([*check, ".cruft.json"], repo).stdout
    state = json.loads((repo / ".cruft.json").read_text())
    for key, payload in (("project_name", HOSTILE), ("description", "{% set x = 1 %}"), ("author_name", "{# x #}")):
        hostile = json.loads(json.dumps(state))
        hostile["context"]["cookiecutter"][key] = payload
        (repo / ".cruft.json").write_text(json.dumps(hostile))
        for command in (check, [str(BIN / "modelrail"), "template", "check", "--file"]):
            proc = run([*command, ".cruft.json"], repo, check=False)
            assert proc.returncode == 2, proc.stdout
            assert f".cruft.json: key 'context.cookiecutter.{key}' holds template markup" in proc.stderr
            assert "Traceback" not in proc.stderr
    assert not (repo / "pwned").exists()


def test_a_cruft_json_naming_another_template_is_refused_before_cruft_update(tmp_path):
    import yaml

    repo = bake(tmp_path)
    state = json.loads((repo / ".cruft.json").read_text())
    workflow = yaml.safe_load((repo / ".github/workflows/template-update.yml").read_text())
    (check_step,) = [step for step in workflow["jobs"]["update"]["steps"] if "template-check" in step.get("uses", "")]
    expected = check_step["with"]["template"]
    assert expected == state["template"] and expected, expected
    check = [sys.executable, str(ROOT / "src/modelrail/template_answers.py"), ".cruft.json", expected]
    assert "none holds template markup" in run(check, repo).stdout
    (repo / ".cruft.json").write_text(json.dumps({**state, "template": "https://example.com/evil/template.git"}))
    for command in (check, [str(BIN / "modelrail"), "template", "check", "--template", expected]):
        proc = run(command, repo, check=False)
        assert proc.returncode == 2, proc.stdout
        assert ".cruft.json: key 'template' is 'https://example.com/evil/template.git', not" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_template_update_runs_cruft_without_a_write_token(tmp_path):
    import yaml

    repo = bake(tmp_path)
    workflow = yaml.safe_load((repo / ".github/workflows/template-update.yml").read_text())
    update, pull_request = workflow["jobs"]["update"], workflow["jobs"]["pull-request"]
    assert update["permissions"] == {"contents": "read"}
    uses = [step.get("uses", "") for step in update["steps"]]
    runs = [step.get("run", "") for step in update["steps"]]
    check_at = next(i for i, ref in enumerate(uses) if "/actions/template-check@" in ref)
    assert check_at < next(i for i, script in enumerate(runs) if "cruft update" in script)
    # The job that may push and open pull requests runs no cruft, no pip and nothing the repository holds.
    assert pull_request["permissions"] == {"contents": "write", "pull-requests": "write"}
    scripts = " ".join(step.get("run", "") for step in pull_request["steps"])
    assert "cruft" not in scripts and "pip install" not in scripts and "python" not in scripts
    assert pull_request["steps"][0]["with"]["persist-credentials"] is False


def test_the_files_that_define_the_gates_have_code_owners(tmp_path):
    repo = bake(tmp_path, code_owners="@acme/ml-reviewers alice@example.com")
    owners = {}
    for line in (repo / ".github/CODEOWNERS").read_text().splitlines():
        if line and not line.startswith("#"):
            path, *names = line.split()
            owners[path] = names
    gated = ["/modelrail.yaml", "/expectations/", "/dvc.yaml", "/.github/", "/.cruft.json", "/.dvc/config"]
    assert owners == {path: ["@acme/ml-reviewers", "alice@example.com"] for path in gated}
