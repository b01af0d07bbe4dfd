"""Validate every cookiecutter answer before a single file is written.

Answers enter this script only as JSON data. Jinja's `tojson` escapes `'` as `\\u0027`, so the rendered text can
never close the raw `'''` string around it, whatever the answer holds.
"""

from __future__ import annotations

import functools
import json
import keyword
import re
import sys
import unicodedata

# fmt: off
# The quotes must stay ''': tojson output never contains a raw ' but may contain ".
ANSWERS = {
    "task": json.loads(r'''{{ cookiecutter.task | tojson }}'''),
    "project_name": json.loads(r'''{{ cookiecutter.project_name | tojson }}'''),
    "project_slug": json.loads(r'''{{ cookiecutter.project_slug | tojson }}'''),
    "package_name": json.loads(r'''{{ cookiecutter.package_name | tojson }}'''),
    "description": json.loads(r'''{{ cookiecutter.description | tojson }}'''),
    "author_name": json.loads(r'''{{ cookiecutter.author_name | tojson }}'''),
    "author_email": json.loads(r'''{{ cookiecutter.author_email | tojson }}'''),
    "github_owner": json.loads(r'''{{ cookiecutter.github_owner | tojson }}'''),
    "code_owners": json.loads(r'''{{ cookiecutter.code_owners | tojson }}'''),
    "dataset": json.loads(r'''{{ cookiecutter.dataset | tojson }}'''),
    "target": json.loads(r'''{{ cookiecutter.target | tojson }}'''),
    "python_version": json.loads(r'''{{ cookiecutter.python_version | tojson }}'''),
    "environments": json.loads(r'''{{ cookiecutter.environments | tojson }}'''),
    "mlflow_tracking_uri": json.loads(r'''{{ cookiecutter.mlflow_tracking_uri | tojson }}'''),
    "dvc_remote": json.loads(r'''{{ cookiecutter.dvc_remote | tojson }}'''),
    "dvc_remote_endpoint": json.loads(r'''{{ cookiecutter.dvc_remote_endpoint | tojson }}'''),
    "container_registry": json.loads(r'''{{ cookiecutter.container_registry | tojson }}'''),
    "gitops": json.loads(r'''{{ cookiecutter.gitops | tojson }}'''),
    "modelrail_version": json.loads(r'''{{ cookiecutter.modelrail_version | tojson }}'''),
    "modelrail_repository": json.loads(r'''{{ cookiecutter.modelrail_repository | tojson }}'''),
}
# fmt: on

# The model repo pins numpy, pandas and scikit-learn releases that need Python 3.11 or newer (constraints.txt).
SUPPORTED_PYTHON = ("3.11", "3.12", "3.13")
DEVELOPMENT_BRANCHES = ("main", "master")
SLUG_RE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
PACKAGE_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
ENVIRONMENT_RE = re.compile(r"^[a-z][a-z0-9-]*$")
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
# A CODEOWNERS owner: @user, @org/team or an e-mail address.
CODE_OWNER_RE = re.compile(r"^@[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?(?:/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
GITHUB_OWNER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$")
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/[A-Za-z0-9._-]+$")
REGISTRY_RE = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
VERSION_RE = re.compile(r"^[0-9]+(?:\.[0-9]+)*(?:(?:a|b|rc|\.post|\.dev)[0-9]+)*$")
# No shell or make metacharacters: the URI is baked into the Makefile and YAML.
URI_RE = re.compile(r"^[a-z][a-z0-9+.-]*:[^\s$#'\"`\\;&|<>(){}]+$")
REMOTE_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")
TASKS = ("binary-classification", "multiclass-classification", "regression")
# The target is a column name written into YAML, JSON suites and Python: an identifier keeps it one plain token.
TARGET_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Columns that predict.py adds to its output, so a label column of that name would be overwritten.
RESERVED_COLUMNS = {"prediction", "probability"}
# A file name (no folder) under data/raw/; the sample data is CSV and prepare.py reads CSV.
DATASET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.csv$")
# An S3 endpoint: scheme, host (name or IPv4) and optional port, no user info (credentials never go into answers).
ENDPOINT_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/?$")
GITOPS_CONTROLLERS = ("argocd", "flux", "none")
# Each environment syncs into the namespace `<slug>-<env>`, a DNS label.
NAMESPACE_MAX = 63
# Package names that would shadow a library the generated repo imports.
RESERVED_PACKAGES = {"modelrail", "mlflow", "dvc", "sklearn", "pandas", "numpy", "yaml", "skops", "tests", "test"}
# Bidirectional overrides make text display differently from what it is ("trojan source").
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
FREE_TEXT = ("project_name", "description", "author_name")


class AnswerError(Exception):
    """An answer that cannot produce a working repository; the message names it and says how to fix it."""

    def __init__(self, answer: str, problem: str, fix: str) -> None:
        super().__init__(f"{answer} {problem} (fix: {fix})")
        self.answer = answer


def has_control_characters(text: str) -> bool:
    """True for newlines, tabs and other control or line-separator characters.

    They are rejected rather than escaped: one-line fields end up in TOML, YAML, Markdown and git config, and a
    newline in any of them changes the file's structure.
    """
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in BIDI_CONTROLS for char in text)


def check_free_text(answers: dict) -> None:
    """Free text is baked as inert text, so only its shape is checked: one non-empty line."""
    for key in FREE_TEXT:
        check_line(key, answers[key])


def check_line(key: str, value: str) -> None:
    """One free-text answer: a non-empty single line."""
    if not value.strip():
        raise AnswerError(key, "is empty", f"give a non-empty {key.replace('_', ' ')}")
    if has_control_characters(value):
        raise AnswerError(key, "contains a newline or another control character", "use a single line of text")


def check_slug(slug: str) -> None:
    """The slug names the repository folder, the MLflow experiment and the registered model."""
    if not SLUG_RE.match(slug):
        raise AnswerError(
            "project_slug",
            f"{slug!r} is not a valid slug",
            "use lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen, "
            "e.g. breast-cancer-classifier",
        )


def check_package_name(name: str) -> None:
    """The package is imported by `python -m <package>.train`, so it must be an importable, unshadowed name."""
    fix = "use lowercase letters, digits and underscores, starting with a letter, e.g. breast_cancer_classifier"
    if not PACKAGE_RE.match(name) or not name.isidentifier():
        raise AnswerError("package_name", f"{name!r} is not a valid lowercase Python identifier", fix)
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise AnswerError("package_name", f"{name!r} is a Python keyword", fix)
    if name in RESERVED_PACKAGES or name in sys.stdlib_module_names:
        raise AnswerError(
            "package_name",
            f"{name!r} would shadow a module the repository depends on",
            "choose a name specific to this model",
        )


def parse_environments(value: str) -> list[str]:
    """Split the comma-separated environments; each becomes a git branch, so each must be a safe branch name."""
    names = [part.strip() for part in value.split(",")]
    fix = "give environment names in promotion order, comma-separated, e.g. staging,production"
    if any(not name for name in names):
        raise AnswerError("environments", f"{value!r} contains an empty environment name", fix)
    for name in names:
        if name in DEVELOPMENT_BRANCHES:
            raise AnswerError(
                "environments",
                f"contains {name!r}, the name of the development branch",
                "environments are promotion branches separate from main; rename it, e.g. production",
            )
        if not ENVIRONMENT_RE.match(name):
            raise AnswerError(
                "environments",
                f"contains {name!r}, which is not a valid environment name",
                "use lowercase letters, digits and hyphens, starting with a letter, e.g. staging",
            )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AnswerError("environments", f"names {', '.join(duplicates)} more than once", fix)
    return names


def check_python_version(version: str) -> None:
    """Only versions the pinned tools (MLflow, DVC, scikit-learn) support are offered."""
    if version not in SUPPORTED_PYTHON:
        raise AnswerError(
            "python_version", f"{version!r} is not supported", f"choose one of {', '.join(SUPPORTED_PYTHON)}"
        )


def check_email(email: str) -> None:
    """The e-mail goes into pyproject.toml (validated by build tools) and possibly the first commit."""
    if not EMAIL_RE.match(email):
        raise AnswerError("author_email", f"{email!r} is not an e-mail address", "use name@example.com")


def check_tracking_uri(uri: str) -> None:
    """The URI is baked into modelrail.yaml, so it must be a single token with a scheme."""
    if not URI_RE.match(uri) or has_control_characters(uri) or not uri.isascii():
        raise AnswerError(
            "mlflow_tracking_uri",
            f"{uri!r} is not a URI",
            "use sqlite:///mlflow.db (relative to the repository root) or http(s)://host:port",
        )


def check_dvc_remote(remote: str) -> None:
    """The remote must not live inside the repository, or DVC would commit its own cache to git."""
    fix = "use a folder outside the repository such as ../my-model-dvc-remote, an absolute path, or s3://bucket/path"
    if not remote.strip() or has_control_characters(remote) or remote != remote.strip():
        raise AnswerError("dvc_remote", f"{remote!r} is empty or contains control characters or edge spaces", fix)
    if REMOTE_URL_RE.match(remote) or remote.startswith("/"):
        return
    if "://" in remote:
        raise AnswerError("dvc_remote", f"{remote!r} is not a valid URL", fix)
    parts = [part for part in remote.replace("\\", "/").split("/") if part not in ("", ".")]
    depth = 0
    for part in parts:
        depth = depth - 1 if part == ".." else depth + 1
        if depth < 0:
            return
    raise AnswerError("dvc_remote", f"{remote!r} is inside the repository", fix)


def check_dvc_remote_endpoint(endpoint: str) -> None:
    """The endpoint lands in .dvc/config, so it must be a plain URL that carries no secret (empty: AWS S3)."""
    if endpoint and not ENDPOINT_RE.fullmatch(endpoint):
        raise AnswerError(
            "dvc_remote_endpoint",
            f"{endpoint!r} is not an http(s)://host[:port] URL",
            "give the store's URL without credentials, e.g. https://minio.example.com:9000",
        )


def check_gitops(controller: str) -> None:
    """The sync resources (deploy/sync/<env>.yaml) are written for one controller, or none."""
    if controller not in GITOPS_CONTROLLERS:
        choices = ", ".join(GITOPS_CONTROLLERS)
        raise AnswerError("gitops", f"{controller!r} is not supported", f"choose one of {choices}")


def combination_problems(answers: dict) -> list[AnswerError]:
    """Checks that need two answers: an endpoint needs an s3:// remote; each namespace <slug>-<env> a DNS label."""
    found = []
    remote = answers["dvc_remote"]
    if answers["dvc_remote_endpoint"] and not remote.startswith("s3://"):
        found.append(
            AnswerError(
                "dvc_remote_endpoint",
                f"is set but dvc_remote {remote!r} is not an s3:// URL",
                "leave it empty, or answer dvc_remote with s3://bucket/path",
            )
        )
    if answers["gitops"] != "none":
        for env in parse_environments(answers["environments"]):
            if len(f"{answers['project_slug']}-{env}") > NAMESPACE_MAX:
                found.append(
                    AnswerError(
                        "gitops",
                        f"needs the namespace {answers['project_slug']}-{env}, longer than {NAMESPACE_MAX} characters",
                        "choose a shorter project_slug or environment name, or gitops none",
                    )
                )
    return found


# GitHub and registry names are used in URLs and image references: answer -> (pattern, what it must be, example).
IDENTIFIERS = {
    "github_owner": (GITHUB_OWNER_RE, "a GitHub user or organisation name", "e.g. my-org"),
    "modelrail_repository": (REPOSITORY_RE, "a GitHub owner/name", "e.g. modelrail/modelrail"),
    "container_registry": (REGISTRY_RE, "a lowercase registry/namespace", "e.g. ghcr.io/my-org"),
    "modelrail_version": (VERSION_RE, "a release version", "e.g. 0.1.0"),
}


def check_identifier(key: str, value: str) -> None:
    """Reject anything that is not the kind of name IDENTIFIERS says the answer is."""
    pattern, kind, example = IDENTIFIERS[key]
    if not pattern.match(value):
        raise AnswerError(key, f"{value!r} is not {kind}", example)


def check_task(task: str) -> None:
    """The task kind picks the metrics, plots, split, model and prediction suite the repository is baked with."""
    if task not in TASKS:
        raise AnswerError("task", f"{task!r} is not a task kind", f"choose one of {', '.join(TASKS)}")


def check_target(target: str) -> None:
    """The label column's name goes into params.yaml, the expectation suites and the sample data's header."""
    if not TARGET_RE.fullmatch(target):
        raise AnswerError(
            "target",
            f"{target!r} is not a plain column name",
            "use letters, digits and underscores, starting with a letter or underscore, e.g. label",
        )
    if target in RESERVED_COLUMNS:
        raise AnswerError(
            "target", f"{target!r} is a column the predictions add", "name the label column something else"
        )


def check_dataset(dataset: str) -> None:
    """The data file's name under data/raw/ (DVC tracks it there); a folder or another suffix would break that."""
    if not DATASET_RE.fullmatch(dataset) or ".." in dataset:
        raise AnswerError(
            "dataset",
            f"{dataset!r} is not a CSV file name",
            "give a file name without a folder, ending in .csv, e.g. churn.csv",
        )
    if dataset in ("train.csv", "test.csv"):
        raise AnswerError("dataset", f"{dataset!r} is the name of a prepared split", "choose another file name")


def check_identifiers(answers: dict) -> None:
    """Every GitHub and registry name among the answers."""
    for key in IDENTIFIERS:
        check_identifier(key, answers[key])


# Each answer's own check, so that `modelrail new` can check an answer as it is typed and ask again.
def check_code_owners(value: str) -> None:
    """The owners written into .github/CODEOWNERS for the files that define the gates; GitHub ignores a bad one."""
    fix = "give @user, @org/team or e-mail owners separated by spaces, e.g. @my-org/ml-reviewers"
    owners = value.split(" ")
    if not value.strip() or any(not owner for owner in owners):
        raise AnswerError("code_owners", f"{value!r} is empty or has extra spaces", fix)
    for owner in owners:
        if not (CODE_OWNER_RE.match(owner) or EMAIL_RE.match(owner)):
            raise AnswerError("code_owners", f"{owner!r} is not a GitHub user, team or e-mail address", fix)


ANSWER_CHECKS = {
    **{key: functools.partial(check_line, key) for key in FREE_TEXT},
    "project_slug": check_slug,
    "package_name": check_package_name,
    "author_email": check_email,
    "python_version": check_python_version,
    "environments": parse_environments,
    "mlflow_tracking_uri": check_tracking_uri,
    "dvc_remote": check_dvc_remote,
    "dvc_remote_endpoint": check_dvc_remote_endpoint,
    "gitops": check_gitops,
    **{key: functools.partial(check_identifier, key) for key in IDENTIFIERS},
    "code_owners": check_code_owners,
    "task": check_task,
    "target": check_target,
    "dataset": check_dataset,
}


def problems(answers: dict) -> list[AnswerError]:
    """Every bad answer, one error each, so that a single run reports them all."""
    found = []
    for key, value in answers.items():
        if not isinstance(value, str):
            found.append(AnswerError(key, f"must be text, got {type(value).__name__}", "answer with a string"))
            continue
        try:
            ANSWER_CHECKS.get(key, lambda value: None)(value)
        except AnswerError as error:
            found.append(error)
    # Only answers that are each valid are worth combining; a bad one is already reported.
    return found or combination_problems(answers)


def validate(answers: dict) -> None:
    """Run every check; the first problem found is raised as an AnswerError."""
    found = problems(answers)
    if found:
        raise found[0]


def main() -> int:
    """Exit 1 with one `ERROR:` line per bad answer and no traceback, so cookiecutter stops before writing anything."""
    found = problems(ANSWERS)
    for error in found:
        print(f"ERROR: {error}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
