"""Unit tests of the cookiecutter hooks: render them the way cookiecutter does, then run or import them.

Hostile answers must stay data: each payload tries to create a marker file, and no test may find it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT
from support.template import HOOKS, default_answers, import_hook, render_hook

# The hooks are rendered and run as cookiecutter runs them: in child processes, with git.
pytestmark = pytest.mark.subprocess


def run_pre_gen(answers: dict, directory: Path) -> subprocess.CompletedProcess:
    script = render_hook("pre_gen_project", answers, directory)
    return subprocess.run([sys.executable, str(script)], cwd=directory, capture_output=True, text=True, check=False)


def hostile_payloads(marker: Path) -> list[str]:
    """Answers that would create `marker` if they were ever pasted into code or a shell."""
    touch = f"touch {marker}"
    return [
        f"'; import os; os.system('{touch}') #",
        f'"; import os; os.system("{touch}") #',
        f"'''\nimport os; os.system('{touch}')\n'''",
        f'"""\nimport os; os.system("{touch}")\n"""',
        f"\\''')); __import__('os').system('{touch}') #",
        f"x\n__import__('os').system('{touch}')",
        f"$({touch})",
        f"`{touch}`",
        f"{{{{ cycler.__init__.__globals__.os.system('{touch}') }}}}",
        f"</script>\\u0027''' + __import__('os').system('{touch}') + '''",
    ]


@pytest.fixture(scope="module")
def defaults() -> dict:
    return default_answers()


# --------------------------------------------------------------------------------------------- pre_gen_project


@pytest.mark.parametrize("name", ["pre_gen_project", "post_gen_project"])
def test_answers_enter_hooks_only_as_raw_single_quoted_json(name):
    """A formatter that turns r''' into r\"\"\" would let an answer's `"` end the string: guard the source."""
    import re

    lines = [line for line in (HOOKS / f"{name}.py").read_text(encoding="utf-8").splitlines() if "{{" in line]
    assert lines
    pattern = re.compile(r"""^    "(\w+)": json\.loads\(r'''\{\{ cookiecutter\.(\w+) \| tojson \}\}'''\),$""")
    for line in lines:
        if line == "CONTEXT = json.loads(r'''{{ cookiecutter | tojson }}''')":
            continue
        match = pattern.match(line)
        assert match, line
        assert match.group(1) == match.group(2)
    assert "{%" not in (HOOKS / f"{name}.py").read_text(encoding="utf-8")


def test_defaults_are_valid(defaults, tmp_path):
    result = run_pre_gen(defaults, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_defaults_are_derived(defaults):
    assert defaults["project_slug"] == "breast-cancer-classifier"
    assert defaults["package_name"] == "breast_cancer_classifier"
    assert defaults["dvc_remote"] == "../breast-cancer-classifier-dvc-remote"
    assert defaults["container_registry"] == "ghcr.io/my-org"
    assert defaults["code_owners"] == "@my-org"


INVALID = [
    ("project_slug", "Bad Slug"),
    ("project_slug", "1model"),
    ("project_slug", "model-"),
    ("project_slug", "my_model"),
    ("project_slug", "../escape"),
    ("package_name", "BadName"),
    ("package_name", "1pkg"),
    ("package_name", "my-pkg"),
    ("package_name", "class"),
    ("package_name", "match"),
    ("package_name", "mlflow"),
    ("package_name", "json"),
    ("environments", ""),
    ("environments", "staging,,production"),
    ("environments", "staging,"),
    ("environments", "staging, staging"),
    ("environments", "staging,main"),
    ("environments", "master"),
    ("environments", "Production"),
    ("environments", "prod env"),
    ("environments", "1st"),
    ("environments", "stage;rm -rf /"),
    ("python_version", "3.9"),
    ("python_version", "3.10"),
    ("python_version", "3.14"),
    ("python_version", "3"),
    ("author_email", "nope"),
    ("author_email", "a@b"),
    ("author_email", "a b@example.com"),
    ("project_name", ""),
    ("project_name", "two\nlines"),
    ("project_name", "evil\u202etxt"),
    ("description", "line one\nline two"),
    ("description", "tab\there"),
    ("author_name", "carriage\rreturn"),
    ("author_name", "   "),
    ("mlflow_tracking_uri", "mlflow.db"),
    ("mlflow_tracking_uri", "sqlite:///a b.db"),
    ("mlflow_tracking_uri", "sqlite:///$(touch x).db"),
    ("mlflow_tracking_uri", "sqlite:///a.db#x"),
    ("dvc_remote", ""),
    ("dvc_remote", "remote"),
    ("dvc_remote", "./cache/remote"),
    ("dvc_remote", "a/../b"),
    ("dvc_remote", " ../x"),
    ("dvc_remote", "s3:/bucket"),
    ("dvc_remote_endpoint", "http://127.0.0.1:8333"),  # the default remote is a folder, not s3://
    ("gitops", "kubectl"),
    ("gitops", "ArgoCD"),
    ("github_owner", "-org"),
    ("github_owner", "my org"),
    ("code_owners", ""),
    ("code_owners", "my-org"),
    ("code_owners", "@my-org  @other"),
    ("code_owners", "@my-org\n* @attacker"),
    ("code_owners", "@-bad/team"),
    ("container_registry", "GHCR.io/Org"),
    ("container_registry", "ghcr.io/my org"),
    ("modelrail_version", "latest"),
    ("modelrail_version", "v0.1.0"),
    ("modelrail_repository", "modelrail"),
    ("modelrail_repository", "a/b/c"),
    ("task", "classification"),
    ("task", "Regression"),
    ("target", ""),
    ("target", "1st"),
    ("target", "label column"),
    ("target", "a.b"),
    ("target", "prediction"),
    ("target", "x" * 65),
    ("dataset", ""),
    ("dataset", "data.parquet"),
    ("dataset", "../escape.csv"),
    ("dataset", "sub/churn.csv"),
    ("dataset", ".csv"),
    ("dataset", "a b.csv"),
    ("dataset", "train.csv"),
    ("dataset", "churn.csv\nx"),
    ("dataset", "churn.csv\n"),
    ("target", "label\n"),
]


@pytest.mark.parametrize(("key", "value"), INVALID, ids=[f"{key}={value!r}" for key, value in INVALID])
def test_invalid_answer_is_rejected(defaults, tmp_path, key, value):
    result = run_pre_gen({**defaults, key: value}, tmp_path)

    assert result.returncode == 1
    assert result.stderr.startswith(f"ERROR: {key} "), result.stderr
    assert "(fix: " in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


VALID = [
    ("environments", "dev, qa ,prod"),
    ("environments", "production"),
    ("environments", "pre-prod,prod2"),
    ("python_version", "3.11"),
    ("python_version", "3.13"),
    ("dvc_remote", "s3://bucket/models/dvc"),
    ("dvc_remote", "/srv/dvc-remote"),
    ("dvc_remote", "../../shared/remote"),
    ("dvc_remote", "sub/../../outside"),
    ("mlflow_tracking_uri", "http://127.0.0.1:5000"),
    ("mlflow_tracking_uri", "sqlite:////var/lib/mlflow.db"),
    ("project_name", "Überwachung des Modells: \"quotes\" & 'apostrophes' \\ 😀"),
    ("author_name", 'O\'Brien "The Modeller"'),
    ("modelrail_version", "1.2.3rc1"),
    ("github_owner", "My-Org"),
    ("code_owners", "@my-org/ml-reviewers @alice"),
    ("code_owners", "reviewers@example.com"),
    ("task", "multiclass-classification"),
    ("task", "regression"),
    ("target", "Churned_90d"),
    ("target", "_y"),
    ("dataset", "customer-churn.2024.csv"),
    ("gitops", "flux"),
    ("gitops", "none"),
]


ENDPOINTS = [
    ("http://127.0.0.1:8333", 0),
    ("https://minio.example.com", 0),
    ("https://s3.example.com:9000/", 0),
    ("https://key:secret@s3.example.com", 1),  # credentials never go into answers (nor .dvc/config)
    ("s3.example.com", 1),
    ("https://s3.example.com/$(touch x)", 1),
    ("https://s3.example.com\nurl = /tmp", 1),
    ("https://s3.example.com\n", 1),
]


@pytest.mark.parametrize(("endpoint", "code"), ENDPOINTS, ids=[repr(endpoint) for endpoint, _ in ENDPOINTS])
def test_an_s3_endpoint_needs_an_s3_remote_and_a_plain_url(defaults, tmp_path, endpoint, code):
    answers = {**defaults, "dvc_remote": "s3://models/dvc", "dvc_remote_endpoint": endpoint}
    result = run_pre_gen(answers, tmp_path)
    assert result.returncode == code, result.stderr
    if code:
        assert result.stderr.startswith("ERROR: dvc_remote_endpoint ") and "(fix: " in result.stderr


def test_gitops_namespaces_must_fit_a_dns_label(defaults, tmp_path):
    answers = {**defaults, "project_slug": "m" * 50, "environments": "staging,production-eu-west"}
    result = run_pre_gen(answers, tmp_path)
    assert result.returncode == 1 and "namespace " + "m" * 50 + "-production-eu-west" in result.stderr
    assert run_pre_gen({**answers, "gitops": "none"}, tmp_path).returncode == 0


@pytest.mark.parametrize(("key", "value"), VALID, ids=[f"{key}={value!r}" for key, value in VALID])
def test_valid_answer_is_accepted(defaults, tmp_path, key, value):
    result = run_pre_gen({**defaults, key: value}, tmp_path)
    assert result.returncode == 0, result.stderr


def test_hostile_answers_never_execute_in_pre_gen(defaults, tmp_path):
    marker = tmp_path / "pwned"
    for key in [key for key in defaults if not key.startswith("_")]:
        for payload in hostile_payloads(marker):
            script = render_hook("pre_gen_project", {**defaults, key: payload}, tmp_path)
            compile(script.read_text(encoding="utf-8"), str(script), "exec")  # still valid Python
            result = subprocess.run(
                [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=False
            )
            assert result.returncode in (0, 1), (key, payload, result.stderr)
            assert "Traceback" not in result.stderr
            assert not marker.exists(), (key, payload)


def test_pre_gen_receives_answers_verbatim(defaults, tmp_path):
    marker = tmp_path / "pwned"
    for payload in hostile_payloads(marker):
        answers = {**defaults, "description": payload, "project_name": payload}
        module = import_hook("pre_gen_project", answers, tmp_path)
        assert module.ANSWERS["description"] == payload
        assert module.ANSWERS["project_name"] == payload
    assert not marker.exists()


def test_every_question_is_validated(defaults, tmp_path):
    module = import_hook("pre_gen_project", defaults, tmp_path)
    questions = {key for key in defaults if not key.startswith("_")}
    assert set(module.ANSWERS) == questions


# -------------------------------------------------------------------------------------------- post_gen_project


def test_post_gen_receives_answers_verbatim(defaults, tmp_path):
    marker = tmp_path / "pwned"
    for payload in hostile_payloads(marker):
        answers = {**defaults, "author_name": payload, "author_email": payload, "dvc_remote": payload}
        module = import_hook("post_gen_project", answers, tmp_path)
        assert module.ANSWERS["author_name"] == payload
        assert module.ANSWERS["author_email"] == payload
        assert module.ANSWERS["dvc_remote"] == payload
    assert not marker.exists()


def test_post_gen_helpers(defaults, tmp_path):
    module = import_hook("post_gen_project", defaults, tmp_path)
    assert module.environment_names("dev, qa ,prod") == ["dev", "qa", "prod"]
    assert module.is_url("s3://bucket/path")
    assert not module.is_url("../remote")
    assert not module.is_url("/srv/remote")


def test_post_gen_cruft_state(defaults, tmp_path, monkeypatch):
    module = import_hook("post_gen_project", defaults, tmp_path)
    assert module.regenerated_by_cruft({"_commit": "abc"}) and not module.regenerated_by_cruft(defaults)
    assert module.template_url({"_template": "gh:acme/modelrail"}) == "https://github.com/acme/modelrail.git"
    assert module.template_url({"_template": "https://example.com/t.git"}) == "https://example.com/t.git"
    template = tmp_path / "template"
    template.mkdir()
    (template / "cookiecutter.json").write_text("{}")
    # A relative template path is relative to where cookiecutter ran, not to the new repository.
    monkeypatch.setenv("PWD", str(tmp_path))
    context = {**defaults, "_template": "template", "_repo_dir": "template", "_output_dir": "/elsewhere"}
    assert module.template_url(context) == str(template)
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    module.write_cruft_state(context)
    assert not (repo / ".cruft.json").exists(), "no .cruft.json without a git template"
    subprocess.run(["git", "init", "-q", str(template)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(template),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "t",
        ],
        check=True,
    )
    module.write_cruft_state(context)
    state = json.loads((repo / ".cruft.json").read_text())
    assert state["template"] == str(template) and len(state["commit"]) == 40
    assert state["context"]["cookiecutter"]["project_name"] == defaults["project_name"]
    assert "_output_dir" not in state["context"]["cookiecutter"]


def test_post_gen_pins_the_modelrail_actions_by_commit_sha(defaults, tmp_path, monkeypatch):
    module = import_hook("post_gen_project", defaults, tmp_path)
    workflows = tmp_path / "repo/.github/workflows"
    workflows.mkdir(parents=True)
    template = "steps:\n  - uses: modelrail/modelrail/actions/setup@v0.1.0\n  - uses: actions/x@abc # v1\n"
    monkeypatch.chdir(tmp_path / "repo")
    sha = "0123456789abcdef0123456789abcdef01234567"
    for commit, expected in ((sha, f"acme/modelrail/actions/setup@{sha} # v0.2.0"), (None, "actions/setup@v0.2.0")):
        (workflows / "pr.yml").write_text(template)
        module.pin_modelrail_actions("acme/modelrail", "0.2.0", commit)
        text = (workflows / "pr.yml").read_text()
        assert f"  - uses: {'acme/modelrail/' if commit is None else ''}{expected}\n" in text, text
        assert "  - uses: actions/x@abc # v1\n" in text
    # cruft's `_commit` is the commit when it re-renders; anything but a full SHA is no commit.
    assert module.template_commit({"_commit": sha}) == sha
    assert module.template_commit({"_commit": "main", "_repo_dir": str(tmp_path / "nowhere")}) is None


def test_post_gen_command_failure_is_one_clear_error(defaults, tmp_path):
    module = import_hook("post_gen_project", defaults, tmp_path)
    with pytest.raises(module.HookError, match=r"^probe failed: .* \(fix: do this\)$"):
        module.run([sys.executable, "-c", "import sys; sys.exit('boom')"], "probe", "do this")
    with pytest.raises(module.HookError, match="was not found"):
        module.run(["no-such-program-modelrail"], "probe", "install it")


def isolated_git_env(home: Path) -> dict[str, str]:
    """No global or system git config, so the hook must fall back to the answered identity."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GIT_", "DVC_"))}
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(home / "gitconfig"), GIT_CONFIG_NOSYSTEM="1")
    return env


def fake_generated_repo(directory: Path) -> Path:
    repo = directory / "model-repo"
    (repo / "data" / "raw").mkdir(parents=True)
    (repo / "data" / "raw" / "breast_cancer.csv").write_text("a,target\n1.0,0\n2.0,1\n", encoding="utf-8")
    (repo / "README.md").write_text("# test\n", encoding="utf-8")
    return repo


def git_output(repo: Path, *args: str, env: dict[str, str]) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout


def test_post_gen_builds_the_repository(defaults, tmp_path):
    marker = tmp_path / "pwned"
    repo = fake_generated_repo(tmp_path)
    env = isolated_git_env(tmp_path)
    answers = {
        **defaults,
        "environments": "dev, qa,prod",
        "author_name": f"$(touch {marker}) O'Brien",
        "author_email": "team@example.com",
        "dvc_remote": "../remote",
    }
    script = render_hook("post_gen_project", answers, tmp_path)

    result = subprocess.run([sys.executable, str(script)], cwd=repo, env=env, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert git_output(repo, "branch", "--show-current", env=env).strip() == "main"
    branches = git_output(repo, "branch", "--format=%(refname:short)", env=env).split()
    assert sorted(branches) == ["dev", "main", "prod", "qa"]
    head = git_output(repo, "rev-parse", "HEAD", env=env)
    for branch in ("dev", "qa", "prod"):
        assert git_output(repo, "rev-parse", branch, env=env) == head
    assert git_output(repo, "log", "-1", "--format=%an <%ae>", env=env).strip() == (
        f"$(touch {marker}) O'Brien <team@example.com>"
    )
    assert git_output(repo, "status", "--porcelain", env=env) == ""
    tracked = git_output(repo, "ls-files", env=env).split()
    assert "data/raw/breast_cancer.csv.dvc" in tracked
    assert "data/raw/breast_cancer.csv" not in tracked
    config = (repo / ".dvc" / "config").read_text(encoding="utf-8")
    assert "url = ../../remote" in config  # stored relative to .dvc/, i.e. ../remote from the repo root
    assert "analytics = false" in config
    assert any((tmp_path / "remote").rglob("*")), "dvc push did not fill the remote"
    assert not marker.exists()


def test_post_gen_push_failure_exits_with_error(defaults, tmp_path):
    repo = fake_generated_repo(tmp_path)
    (tmp_path / "remote").write_text("a file where the remote folder should be\n", encoding="utf-8")
    script = render_hook("post_gen_project", {**defaults, "dvc_remote": "../remote"}, tmp_path)

    result = subprocess.run(
        [sys.executable, str(script)], cwd=repo, env=isolated_git_env(tmp_path), capture_output=True, text=True
    )

    assert result.returncode == 1
    assert result.stderr.startswith("ERROR: dvc push"), result.stderr
    assert "(fix: " in result.stderr
    assert "Traceback" not in result.stderr


def test_post_gen_does_not_push_to_a_url_remote(defaults, tmp_path):
    repo = fake_generated_repo(tmp_path)
    env = isolated_git_env(tmp_path)
    answers = {**defaults, "dvc_remote": "s3://bucket/path", "dvc_remote_endpoint": "http://127.0.0.1:8333"}
    script = render_hook("post_gen_project", answers, tmp_path)

    result = subprocess.run([sys.executable, str(script)], cwd=repo, env=env, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert "dvc push" in result.stdout
    config = (repo / ".dvc" / "config").read_text(encoding="utf-8")
    assert "url = s3://bucket/path" in config and "endpointurl = http://127.0.0.1:8333" in config
    assert "secret" not in config and "access_key" not in config


# What DVC itself writes for the hook's steps, in one interpreter (a DVC start costs about a second).
DVC_REFERENCE_SCRIPT = """
import json, os, sys
from dvc.cli import main
for folder, remote, endpoint in json.loads(sys.argv[1]):
    os.chdir(folder)
    steps = [["init", "--quiet"], ["config", "core.analytics", "false"]]
    steps.append(["remote", "add", "--default", "local", remote])
    if endpoint:
        steps.append(["remote", "modify", "local", "endpointurl", endpoint])
    steps.append(["add", "--quiet", "data/raw/breast_cancer.csv"])
    if "://" not in remote:
        steps.append(["push", "--quiet"])
    for args in steps:
        if main(args) != 0:
            sys.exit(f"dvc {args} failed in {folder}")
"""

# The remote answers the hook writes into .dvc/config by hand: plain, normalised, and each quoting rule of
# DVC's config writer (a comma or hash, a double quote, both quotes).
DVC_LAYOUT_CASES = [
    ("../remote", ""),
    ("sub/../../remote", ""),
    ("../a remote, #2", ""),
    ('../say "hi"', ""),
    ('../it\'s "both"', ""),
    ("s3://bucket/path", "http://127.0.0.1:8333"),
]


def dvc_layout(repo: Path, remote: Path) -> dict[str, str]:
    """The files DVC's steps leave that matter to DVC: its config, ignores, the pointer, the cache and remote
    objects (with their modes)."""
    files = [".dvc/config", ".dvc/.gitignore", "data/raw/breast_cancer.csv.dvc", "data/raw/.gitignore"]
    layout = {name: (repo / name).read_text(encoding="utf-8") for name in files}
    for store, root in (("cache", repo / ".dvc" / "cache"), ("remote", remote)):
        for file in sorted(root.rglob("*")) if root.is_dir() else []:
            if file.is_file():
                layout[f"{store}/{file.relative_to(root).as_posix()}"] = oct(file.stat().st_mode & 0o777)
    return layout


def test_post_gen_writes_what_dvc_writes(defaults, tmp_path):
    env = isolated_git_env(tmp_path)
    env["DVC_NO_ANALYTICS"] = "1"
    reference = []
    for index, (remote, endpoint) in enumerate(DVC_LAYOUT_CASES):
        ours, theirs = (fake_generated_repo(tmp_path / f"{index}-{side}") for side in ("hook", "dvc"))
        (ours / ".dvcignore").write_text("# as the template ships it\n", encoding="utf-8")
        answers = {**defaults, "dvc_remote": remote, "dvc_remote_endpoint": endpoint}
        script = render_hook("post_gen_project", answers, tmp_path / f"{index}-hook")
        result = subprocess.run([sys.executable, str(script)], cwd=ours, env=env, capture_output=True, text=True)
        assert result.returncode == 0, (remote, result.stderr)
        subprocess.run(["git", "init", "--quiet", "-b", "main"], cwd=theirs, env=env, check=True)
        reference.append((str(theirs), remote, endpoint))
    subprocess.run([sys.executable, "-c", DVC_REFERENCE_SCRIPT, json.dumps(reference)], env=env, check=True)

    for index, (remote, _) in enumerate(DVC_LAYOUT_CASES):
        stores = {side: tmp_path / f"{index}-{side}" / remote.split("/")[-1] for side in ("hook", "dvc")}
        if "://" not in remote:
            stores = {side: (tmp_path / f"{index}-{side}" / "model-repo" / remote).resolve() for side in stores}
            assert stores["hook"].is_dir(), remote
        hook = dvc_layout(tmp_path / f"{index}-hook" / "model-repo", stores["hook"])
        assert hook == dvc_layout(tmp_path / f"{index}-dvc" / "model-repo", stores["dvc"]), remote


def test_a_clone_of_the_generated_repo_pulls_its_data(defaults, tmp_path):
    repo = fake_generated_repo(tmp_path)
    env = isolated_git_env(tmp_path)
    env["DVC_NO_ANALYTICS"] = "1"
    script = render_hook("post_gen_project", {**defaults, "dvc_remote": "../remote"}, tmp_path)
    result = subprocess.run([sys.executable, str(script)], cwd=repo, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], env=env, check=True)

    def dvc(folder: Path, *args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=folder, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "in sync" in dvc(repo, "status", "--cloud")
    dvc(clone, "pull")
    data = "data/raw/breast_cancer.csv"
    assert (clone / data).read_bytes() == (repo / data).read_bytes()
    assert "up to date" in dvc(clone, "status")


# ----------------------------------------------------------------------------------- through cookiecutter itself


@pytest.mark.bake
def test_bake_with_hostile_free_text_stays_inert(tmp_path):
    from cookiecutter.main import cookiecutter

    marker = tmp_path / "pwned"
    hostile = f"Model '''\"\"\" '; __import__('os').system('touch {marker}') # $(touch {marker}) \\ 😀"
    extra = {"project_name": hostile, "description": hostile, "author_name": hostile, "project_slug": "hostile"}

    project = Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(tmp_path), extra_context=extra))

    assert not marker.exists()
    recorded = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
    assert recorded["description"] == hostile
    assert not any(key.startswith("_") for key in recorded)
    import tomllib

    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert pyproject["description"] == hostile
    assert pyproject["authors"][0]["name"] == hostile
    for file in project.rglob("*"):
        if file.is_file() and ".git" not in file.parts and ".dvc" not in file.parts:
            # GitHub expressions (`${{ ... }}`) in the copied-as-is workflows are not template markup.
            text = re.sub(r"\$\{\{.*?\}\}", "", file.read_text(encoding="utf-8", errors="replace"))
            assert "{{" not in text and "}}" not in text, file


def test_only_a_local_template_is_recorded_as_the_modelrail_source(tmp_path):
    """A template cloned from a URL is cookiecutter's cache, not a checkout: such a repo installs the release."""
    hook = import_hook("post_gen_project", default_answers(), tmp_path)
    for template in ("gh:my-org/modelrail", "https://example.com/modelrail.git", "git@example.com:org/modelrail"):
        assert hook.local_template_folder({"_template": template, "_repo_dir": str(ROOT)}) is None
    assert hook.local_template_folder({"_template": str(ROOT), "_repo_dir": str(ROOT)}) == ROOT


def test_pre_gen_reports_every_bad_answer_at_once(defaults, tmp_path):
    bad = {"project_slug": "Churn!", "python_version": "3.9", "environments": "main,prod", "author_email": "x"}
    result = run_pre_gen({**defaults, **bad}, tmp_path)

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert sorted(line.split()[1] for line in lines) == sorted(bad), result.stderr
    assert all(line.startswith("ERROR: ") and "(fix: " in line for line in lines)


def test_every_answer_has_its_own_check(defaults, tmp_path):
    """`modelrail new` checks each answer as it is typed with these; a question without one would go unchecked."""
    module = import_hook("pre_gen_project", defaults, tmp_path)
    assert set(module.ANSWER_CHECKS) == set(module.ANSWERS)


def test_a_checkout_path_a_shell_would_expand_is_not_recorded(tmp_path, monkeypatch, capsys):
    hook = import_hook("post_gen_project", default_answers(), tmp_path)
    checkout = tmp_path / "$(touch pwned)"
    checkout.mkdir()
    for name in ("cookiecutter.json", "pyproject.toml"):
        (checkout / name).write_text("{}")
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    hook.record_modelrail_source({"_template": str(checkout), "_repo_dir": str(checkout)})
    assert not (repo / ".modelrail-source").exists()
    assert "is not recorded" in capsys.readouterr().out
    hook.record_modelrail_source({"_template": str(ROOT), "_repo_dir": str(ROOT)})
    assert (repo / ".modelrail-source").read_text() == f"{ROOT}\n"
