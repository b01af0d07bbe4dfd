"""Template updates: a repository baked from an older template commit takes a newer one with `cruft update`,
keeping its own model change, and its pipeline still runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cookiecutter.main import cookiecutter
from test_template import BIN, ROOT, bake, dvc, run

sys.path.insert(0, str(ROOT / "infra" / "act"))
from act_runner import lean_copy

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
    assert run([str(BIN / "cruft"), "check"], repo, check=False).returncode != 0, "cruft sees the newer template"

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
    assert changed == {".cruft.json", "Makefile", "MODEL_CARD.md"}
    run([str(BIN / "cruft"), "check"], repo)

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
