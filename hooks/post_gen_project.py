"""Turn the generated folder into a working repository: git, DVC with a remote, sample data pushed, branches.

Runs inside the generated repository (cookiecutter's working directory for hooks). Answers enter only as JSON
data; see pre_gen_project.py for why the raw strings are safe. Any failure prints one `ERROR:` line and exits 1,
and cookiecutter then removes the half-made folder.
"""

from __future__ import annotations

import json
import os
import re
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
}
# fmt: on

SAMPLE_DATA = "data/raw/breast_cancer.csv"
REMOTE_NAME = "local"
URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://")


class HookError(Exception):
    """A step failed; the message says which one and how to fix it."""


def quiet_env() -> dict[str, str]:
    """Environment for child processes: no DVC analytics call (the machine may be offline), no pager."""
    env = dict(os.environ)
    env["DVC_NO_ANALYTICS"] = "1"
    env["GIT_PAGER"] = "cat"
    return env


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


def dvc(*args: str, what: str) -> str:
    """Run DVC from cookiecutter's own interpreter, where it is installed next to cookiecutter."""
    return run(
        [sys.executable, "-m", "dvc", *args],
        what,
        "install dvc into the environment that runs cookiecutter, e.g. `pipx inject cookiecutter dvc`",
    )


def environment_names(value: str) -> list[str]:
    """Environments in promotion order; pre_gen_project.py has already validated them."""
    return [name.strip() for name in value.split(",")]


def is_url(remote: str) -> bool:
    """True for remotes such as s3://bucket/path, which need credentials and a DVC plugin to push."""
    return bool(URL_RE.match(remote))


def init_git() -> None:
    """Start the repository on `main`, the development branch every environment branch is cut from."""
    git("init", "--quiet", "-b", "main", what="git init")


def init_dvc(remote: str) -> None:
    """Initialise DVC and make the answer the default remote.

    The remote path is passed exactly as answered, from the repository root: DVC resolves a relative path against
    the working directory and stores it relative to .dvc/config, so `../x` ends up as `../../x` in the config.
    """
    dvc("init", "--quiet", what="dvc init")
    dvc("config", "core.analytics", "false", what="dvc config core.analytics")
    dvc("remote", "add", "--default", REMOTE_NAME, remote, what=f"dvc remote add {REMOTE_NAME}")


def track_sample_data(remote: str) -> None:
    """Put the sample data under DVC and push it, so a fresh clone can `dvc pull` it.

    Remote URLs are not pushed here: they need credentials and a DVC plugin (e.g. dvc-s3) that the machine running
    cookiecutter may not have, and a failed push would throw the whole generated repository away.
    """
    dvc("add", "--quiet", SAMPLE_DATA, what=f"dvc add {SAMPLE_DATA}")
    if is_url(remote):
        print(f"NOTE: the DVC remote {remote} was not pushed to; run `dvc push` once its credentials are set up.")
        return
    dvc("push", "--quiet", what=f"dvc push to {remote}")


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


def main() -> int:
    """Run the steps in order; stop at the first failure with one ERROR line."""
    if not Path(SAMPLE_DATA).is_file():
        print(
            f"ERROR: {SAMPLE_DATA} is missing from the generated repository (fix: report a template bug)",
            file=sys.stderr,
        )
        return 1
    try:
        init_git()
        init_dvc(ANSWERS["dvc_remote"])
        track_sample_data(ANSWERS["dvc_remote"])
        first_commit(ANSWERS["author_name"], ANSWERS["author_email"])
        create_environment_branches(environment_names(ANSWERS["environments"]))
    except HookError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
