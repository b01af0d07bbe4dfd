"""Turn the generated folder into a working repository: git, DVC with a remote, sample data pushed, branches.

Runs inside the generated repository (cookiecutter's working directory for hooks). Answers enter only as JSON
data; see pre_gen_project.py for why the raw strings are safe. Any failure prints one `ERROR:` line and exits 1,
and cookiecutter then removes the half-made folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

# fmt: off
# The quotes must stay ''': tojson output never contains a raw ' but may contain ".
ANSWERS = {
    "author_name": json.loads(r'''{{ cookiecutter.author_name | tojson }}'''),
    "author_email": json.loads(r'''{{ cookiecutter.author_email | tojson }}'''),
    "environments": json.loads(r'''{{ cookiecutter.environments | tojson }}'''),
    "dvc_remote": json.loads(r'''{{ cookiecutter.dvc_remote | tojson }}'''),
    "dataset": json.loads(r'''{{ cookiecutter.dataset | tojson }}'''),
    "dvc_remote_endpoint": json.loads(r'''{{ cookiecutter.dvc_remote_endpoint | tojson }}'''),
    "gitops": json.loads(r'''{{ cookiecutter.gitops | tojson }}'''),
    "project_slug": json.loads(r'''{{ cookiecutter.project_slug | tojson }}'''),
    "github_owner": json.loads(r'''{{ cookiecutter.github_owner | tojson }}'''),
}
# The whole context, private keys included (_template, _repo_dir, _checkout; cruft adds _commit): for .cruft.json.
CONTEXT = json.loads(r'''{{ cookiecutter | tojson }}''')
# fmt: on

# pre_gen_project.py has checked that the answer is a plain file name.
SAMPLE_DATA = f"data/raw/{ANSWERS['dataset']}"
MODELRAIL_SOURCE_FILE = ".modelrail-source"
# The Makefile puts the recorded path inside double quotes in a shell command: nothing a shell would expand there.
SAFE_PATH_RE = re.compile(r"^[A-Za-z0-9._/+@ -]+$")
REMOTE_NAME = "local"
URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://")
# cookiecutter's built-in abbreviations, expanded so that cruft (plain git) can clone the template.
ABBREVIATIONS = {
    "gh": "https://github.com/{0}.git",
    "gl": "https://gitlab.com/{0}.git",
    "bb": "https://bitbucket.org/{0}",
}


class HookError(Exception):
    """A step failed; the message says which one and how to fix it."""


def quiet_env() -> dict[str, str]:
    """Environment for git: no pager."""
    return {**os.environ, "GIT_PAGER": "cat"}


def run(args: list[str], what: str, fix: str) -> str:
    """Run one command; on failure raise HookError with the command's own error text, never a traceback."""
    try:
        result = subprocess.run(args, capture_output=True, text=True, env=quiet_env(), check=False)
    except FileNotFoundError as error:
        raise HookError(f"{what}: {args[0]} was not found (fix: {fix})") from error
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        tail = " | ".join(detail[-3:]) if detail else f"exit code {result.returncode}"
        raise HookError(f"{what} failed: {tail} (fix: {fix})")
    return result.stdout


def git(*args: str, what: str) -> str:
    """Run git; git must be on PATH because the repository is useless without it."""
    return run(["git", *args], what, "install git 2.28 or newer and make sure it is on PATH")


def environment_names(value: str) -> list[str]:
    """Environments in promotion order; pre_gen_project.py has already validated them."""
    return [name.strip() for name in value.split(",")]


def is_url(remote: str) -> bool:
    """True for remotes such as s3://bucket/path, which need credentials and a DVC plugin to push."""
    return bool(URL_RE.match(remote))


def init_git() -> None:
    """Start the repository on `main`, the development branch every environment branch is cut from."""
    git("init", "--quiet", "-b", "main", what="git init")


# What `dvc init`, `dvc config`, `dvc remote add`, `dvc add` and `dvc push` leave behind for one data file, written
# here directly: DVC's own Python costs about a second of imports and sqlite set-up per bake, most of a bake's time,
# and would have to be installed next to cookiecutter. DVC 3's layout (tests/test_hooks.py checks it against DVC):
# .dvc/config and .dvc/.gitignore; the file's pointer <file>.dvc (md5 of its bytes, size) and its line in the
# folder's .gitignore; the bytes in the cache and the remote at files/md5/<2 hex>/<30 hex>, read-only.
DVC_GITIGNORE = "/config.local\n/tmp\n/cache\n"
DVC_CACHE = ".dvc/cache"
# configobj, DVC's config writer, leaves a value bare unless it must quote it: an edge quote or space, a comma
# (a list) or a hash (a comment).
CONFIG_EDGE = " \t'\""


def config_value(value: str) -> str:
    """A value as DVC's config writer quotes it, so that DVC reads back exactly the answer."""
    single, double = "'", '"'
    if single in value and double in value:
        if single * 3 in value and double * 3 in value:
            raise HookError(f"the DVC remote {value!r} cannot be written to .dvc/config (fix: choose another path)")
        quote = double * 3 if single * 3 in value else single * 3
    elif value[0] in CONFIG_EDGE or value[-1] in CONFIG_EDGE or "," in value or "#" in value:
        quote = single if double in value else double
    else:
        quote = ""
    return f"{quote}{value}{quote}"


def config_url(remote: str) -> str:
    """The remote as DVC stores it: a relative folder relative to .dvc/ (the answer is relative to the repository
    root, so `../x` becomes `../../x`); a URL, an absolute or a `~` path as answered."""
    if re.match(r"\w+://", remote) or os.path.expanduser(remote) != remote or os.path.isabs(remote):
        return remote
    return Path(os.path.relpath(remote, ".dvc")).as_posix()


def dvc_config(remote: str, endpoint: str) -> str:
    """.dvc/config as `dvc config core.analytics false` and `dvc remote add --default` (+ `modify endpointurl`)
    write it."""
    lines = ["[core]", "    analytics = false", f"    remote = {REMOTE_NAME}", f"['remote \"{REMOTE_NAME}\"']"]
    lines.append(f"    url = {config_value(config_url(remote))}")
    if endpoint:
        lines.append(f"    endpointurl = {config_value(endpoint)}")
    return "\n".join(lines) + "\n"


def file_md5(path: Path) -> str:
    """DVC 3's `md5` hash of a file: the md5 of its bytes."""
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def store_object(source: Path, store: Path, md5: str) -> None:
    """Copy a file into a DVC cache or local remote under its hash, read-only as DVC leaves it; written to a
    temporary name first, so an interrupted copy is never taken for the object."""
    target = store / "files" / "md5" / md5[:2] / md5[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, partial)
    partial.chmod(0o444)
    os.replace(partial, target)


def init_dvc(remote: str, endpoint: str) -> None:
    """Initialise DVC, make the answer the default remote, put the sample data under DVC and push it, so a fresh
    clone can `dvc pull` it.

    Remote URLs are not pushed here: they need credentials and a DVC plugin (e.g. dvc-s3) that the machine running
    cookiecutter may not have, and a failed push would throw the whole generated repository away.
    An S3-compatible store's endpoint goes into the config too; its credentials never do (DVC reads them from
    AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, which CI gets from OIDC).
    """
    data = Path(SAMPLE_DATA)
    try:
        Path(DVC_CACHE).mkdir(parents=True)
        Path(".dvc/config").write_text(dvc_config(remote, endpoint), encoding="utf-8")
        Path(".dvc/.gitignore").write_text(DVC_GITIGNORE, encoding="utf-8")
        md5 = file_md5(data)
        store_object(data, Path(DVC_CACHE), md5)
        pointer = f"outs:\n- md5: {md5}\n  size: {data.stat().st_size}\n  hash: md5\n  path: {data.name}\n"
        data.with_name(f"{data.name}.dvc").write_text(pointer, encoding="utf-8")
        with data.with_name(".gitignore").open("a", encoding="utf-8") as ignore:
            ignore.write(f"/{data.name}\n")
    except OSError as error:
        fix = "make sure the output folder is writable"
        raise HookError(f"dvc init and dvc add {SAMPLE_DATA} failed: {error} (fix: {fix})") from error
    if is_url(remote):
        print(f"NOTE: the DVC remote {remote} was not pushed to; run `dvc push` once its credentials are set up.")
        return
    try:
        store_object(data, Path(remote), md5)
    except OSError as error:
        fix = "answer dvc_remote with a folder you can write to, outside the repository"
        raise HookError(f"dvc push to {remote} failed: {error} (fix: {fix})") from error


def identity_args(name: str, email: str) -> list[str]:
    """Fall back to the answered author only when git has no identity configured, so a set identity wins."""
    args: list[str] = []
    configured_name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, check=False)
    configured_email = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, check=False)
    if not configured_name.stdout.strip():
        args += ["-c", f"user.name={name}"]
    if not configured_email.stdout.strip():
        args += ["-c", f"user.email={email}"]
    return args


def first_commit(name: str, email: str) -> None:
    """Commit everything that was generated, so the environment branches have a commit to start from."""
    git("add", "-A", what="git add")
    git(
        *identity_args(name, email),
        "commit",
        "--quiet",
        "--no-verify",
        "-m",
        "Initial commit from the modelrail template",
        what="git commit",
    )


def create_environment_branches(environments: list[str]) -> None:
    """One branch per environment at the first commit; promotion is a merge into these. HEAD stays on main."""
    for name in environments:
        git("branch", name, what=f"git branch {name}")


def regenerated_by_cruft(context: dict) -> bool:
    """cruft check/update re-render two template versions in temporary folders and diff them; only cruft sets
    `_commit`. A git or DVC repository made there would land in that diff, so cruft gets the rendered files only."""
    return bool(context.get("_commit"))


def template_url(context: dict) -> str | None:
    """Where cruft can clone the template from: a git URL (abbreviations expanded) or an absolute local folder."""
    template = str(context.get("_template") or "")
    prefix, _, rest = template.partition(":")
    if prefix in ABBREVIATIONS and rest:
        return ABBREVIATIONS[prefix].format(rest)
    if URL_RE.match(template) or template.startswith("git@"):
        return template
    folder = template_folder(context)
    return str(folder) if folder else None


def template_folder(context: dict) -> Path | None:
    """The template checkout cookiecutter rendered from; a relative path is relative to where cookiecutter ran,
    which this hook (running inside the new repository) only knows from $PWD or the default output folder."""
    repo_dir = Path(str(context.get("_repo_dir") or ""))
    candidates = [repo_dir] if repo_dir.is_absolute() else []
    candidates += [Path(os.environ.get("PWD", "")) / repo_dir, Path(str(context.get("_output_dir", ""))) / repo_dir]
    for candidate in candidates:
        if candidate.is_absolute() and (candidate / "cookiecutter.json").is_file():
            return candidate.resolve()
    return None


COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


def template_commit(context: dict) -> str | None:
    """The template's commit: cruft's `_commit` when it re-renders, else HEAD of the checkout rendered from (None
    for a template folder that is not a git checkout with a commit)."""
    commit = str(context.get("_commit") or "")
    if not commit:
        folder = template_folder(context)
        if folder is not None:
            probe = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True)
            commit = probe.stdout.strip() if probe.returncode == 0 else ""
    return commit if COMMIT_RE.match(commit) else None


def local_template_folder(context: dict) -> Path | None:
    """The modelrail checkout this repository was baked from, when the template was given as a local path (a
    template cloned from a git URL is a cookiecutter cache, not a checkout anyone maintains)."""
    template = str(context.get("_template") or "")
    prefix, _, rest = template.partition(":")
    if (prefix in ABBREVIATIONS and rest) or URL_RE.match(template) or template.startswith("git@"):
        return None
    folder = template_folder(context)
    return folder if folder is not None and (folder / "pyproject.toml").is_file() else None


def record_modelrail_source(context: dict) -> None:
    """`make setup` installs modelrail from the checkout named in .modelrail-source (untracked: a path on this
    machine) while it exists, so a repository baked from a checkout sets up offline and runs that checkout's code."""
    folder = local_template_folder(context)
    if folder is None:
        return
    if not SAFE_PATH_RE.match(str(folder)):
        print(f"NOTE: {folder} is not recorded as modelrail's source: `make setup` would pass it to a shell.")
        return
    Path(MODELRAIL_SOURCE_FILE).write_text(f"{folder}\n", encoding="utf-8")


def next_steps(repo: Path) -> str:
    """The lines a bake ends with: where the repository is and the three commands to run next."""
    try:
        shown = os.path.relpath(repo, os.environ.get("PWD") or os.getcwd())
    except ValueError:  # another drive on Windows
        shown = str(repo)
    if shown.startswith(".."):
        shown = str(repo)
    return (
        f"\nCreated {repo}. Next:\n"
        f"  cd {shlex.quote(shown)}\n"
        "  make setup      # .venv with modelrail, DVC, MLflow; the pre-commit hooks\n"
        "  make pipeline   # every stage and gate, offline; then `make help` for the rest\n"
    )


def write_cruft_state(context: dict) -> None:
    """Record the template source, its commit and the answers in .cruft.json, so `cruft check` and `cruft update`
    can bring template changes into this repository later. Without a git template there is nothing to update from."""
    url, commit = template_url(context), template_commit(context)
    if not url or not commit:
        print("NOTE: the template is not a git checkout, so no .cruft.json was written (template updates need one).")
        return
    answers = {key: value for key, value in context.items() if not key.startswith("_")}
    state = {
        "template": url,
        "commit": commit,
        "checkout": context.get("_checkout"),
        "context": {"cookiecutter": {**answers, "_template": url, "_commit": commit}},
        "directory": None,
    }
    # The same layout cruft writes, so its own updates of the file stay small diffs.
    text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n"
    Path(".cruft.json").write_text(text, encoding="utf-8")


# `uses: modelrail/modelrail/actions/<name>@v0.1.0` as written in the template's workflows.
ACTION_REF_RE = re.compile(r"(uses:\s*)modelrail/modelrail/actions/([a-z-]+)@v0\.1\.0\b")
WORKFLOWS = ".github/workflows"


# A template source that can stand in a workflow as it is: no expression, no quote, no space.
TEMPLATE_SOURCE_RE = re.compile(r"[A-Za-z0-9._/+@:~-]+")


def name_template_in_update_workflow(context: dict) -> None:
    """The template-update workflow's check refuses a .cruft.json naming another template than this one (cruft
    re-renders with the recorded `_template`, so an update keeps the line). A source that could not stand in a
    workflow as it is leaves the check open to any, as the empty value says."""
    url = str(context.get("_template") or "") if regenerated_by_cruft(context) else template_url(context) or ""
    source = url if TEMPLATE_SOURCE_RE.fullmatch(url) else ""
    update = Path(WORKFLOWS) / "template-update.yml"
    if update.is_file():
        text = update.read_text(encoding="utf-8")
        update.write_text(text.replace('template: "TEMPLATE_SOURCE"', f'template: "{source}"'), encoding="utf-8")


def pin_modelrail_actions(repository: str, version: str, commit: str | None) -> None:
    """Point the workflows' `uses:` at the answered modelrail repository: at the template's commit by full SHA
    (`@<sha> # v0.1.0`), which nobody can move, or at the release tag when no commit is known.

    The workflows are copied without rendering (`_copy_without_render`: they are full of GitHub expressions), so the
    answers cannot be templated into them; pre_gen_project.py has checked both answers against strict patterns.
    """
    ref = f"{commit} # v{version}" if commit else f"v{version}"
    for path in sorted(Path(WORKFLOWS).glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        pinned = ACTION_REF_RE.sub(lambda m: f"{m.group(1)}{repository}/actions/{m.group(2)}@{ref}", text)
        if pinned != text:
            path.write_text(pinned, encoding="utf-8")


# promote.yml's trigger: `branches: [...] # modelrail: environments`.
ENVIRONMENT_BRANCHES_RE = re.compile(r"^(\s*branches:\s*)\[[^\]\n]*\](\s*# modelrail: environments)$", re.MULTILINE)


def list_environment_branches(environments: list[str]) -> None:
    """promote.yml runs on a push to each environment branch; the list comes from the answer (validated names)."""
    path = Path(WORKFLOWS) / "promote.yml"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        listed = ENVIRONMENT_BRANCHES_RE.sub(lambda m: f"{m.group(1)}[{', '.join(environments)}]{m.group(2)}", text)
        path.write_text(listed, encoding="utf-8")


SYNC_DIR = "deploy/sync"


def sync_resources(controller: str, slug: str, owner: str, env: str) -> list[dict]:
    """What makes `controller` follow deploy/<env>/ on the <env> branch and apply it to the namespace <slug>-<env>."""
    name, url, path = f"{slug}-{env}", f"https://github.com/{owner}/{slug}.git", f"deploy/{env}"
    if controller == "argocd":
        return [
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": name, "namespace": "argocd"},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": url, "targetRevision": env, "path": path},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
                    "syncPolicy": {
                        "automated": {"prune": True, "selfHeal": True},
                        "syncOptions": ["CreateNamespace=true"],
                    },
                },
            }
        ]
    return [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"interval": "1m", "url": url, "ref": {"branch": env}},
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {
                "interval": "5m",
                "sourceRef": {"kind": "GitRepository", "name": name},
                "path": f"./{path}",
                "prune": True,
                "wait": True,
                "targetNamespace": name,
            },
        },
    ]


def write_sync_resources(controller: str, slug: str, owner: str, environments: list[str]) -> None:
    """deploy/sync/<env>.yaml per environment, applied once by whoever runs the cluster; `none` writes nothing.

    Written here rather than templated because the environments are a list only known from the answers.
    """
    if controller == "none":
        return
    import yaml  # cookiecutter's own dependency

    Path(SYNC_DIR).mkdir(parents=True, exist_ok=True)
    for env in environments:
        header = (
            f"# {controller}: keep the cluster on deploy/{env}/ of the {env} branch (written by `modelrail promote`).\n"
            f"# Apply once: kubectl apply -f {SYNC_DIR}/{env}.yaml. A private repository also needs read credentials\n"
            "# for the controller (a deploy key or token in a Secret), which never go into this repository.\n"
        )
        body = yaml.safe_dump_all(sync_resources(controller, slug, owner, env), sort_keys=False)
        Path(SYNC_DIR, f"{env}.yaml").write_text(header + body, encoding="utf-8")


def main() -> int:
    """Run the steps in order; stop at the first failure with one ERROR line."""
    commit = template_commit(CONTEXT)
    pin_modelrail_actions(CONTEXT["modelrail_repository"], CONTEXT["modelrail_version"], commit)
    name_template_in_update_workflow(CONTEXT)
    if commit is None:
        print(
            "NOTE: the template is not a git checkout with a commit, so the workflows name the modelrail actions by "
            f"the tag v{CONTEXT['modelrail_version']}, which can be moved (see the README: pin them by commit SHA)."
        )
    list_environment_branches(environment_names(ANSWERS["environments"]))
    write_sync_resources(
        ANSWERS["gitops"], ANSWERS["project_slug"], ANSWERS["github_owner"], environment_names(ANSWERS["environments"])
    )
    if regenerated_by_cruft(CONTEXT):
        return 0
    if not Path(SAMPLE_DATA).is_file():
        print(
            f"ERROR: {SAMPLE_DATA} is missing from the generated repository (fix: report a template bug)",
            file=sys.stderr,
        )
        return 1
    try:
        init_git()
        init_dvc(ANSWERS["dvc_remote"], ANSWERS["dvc_remote_endpoint"])
        write_cruft_state(CONTEXT)
        record_modelrail_source(CONTEXT)
        first_commit(ANSWERS["author_name"], ANSWERS["author_email"])
        create_environment_branches(environment_names(ANSWERS["environments"]))
    except HookError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    print(next_steps(Path.cwd()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
