"""The environment branch: its release record, its history, its deploy manifests, and the commits that write them.

Release commits are authored by the bot identity; `--approved-sha` lets only its commits follow the approved one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from modelrail.errors import ConfigError, Refused, ReleaseFailed
from modelrail.files import dumps, load_json_object, parse_json, read_regular, write_atomic
from modelrail.git import head
from modelrail.model_registry import first_line

BOT_NAME = "modelrail-bot"
BOT_EMAIL = "modelrail-bot@users.noreply.github.com"


def record_path(repo: Path, env: str) -> Path:
    return repo / "releases" / env / "release.json"


def history_path(repo: Path, env: str) -> Path:
    return repo / "releases" / env / "history.jsonl"


def current_record(repo: Path, env: str) -> dict | None:
    path = record_path(repo, env)
    if not path.exists():
        return None
    try:
        return load_json_object(path, "a release record")[0]
    except ConfigError as exc:
        raise ConfigError(f"{exc} (fix: restore it from git history)") from None


def history(repo: Path, env: str) -> list[dict]:
    path = history_path(repo, env)
    if not path.is_file():
        return []
    return _release_lines(read_regular(path), str(path))


def _release_lines(data: bytes, where: str) -> list[dict]:
    """The releases of a history.jsonl, strictly parsed: each line one JSON object."""
    records = []
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            record = parse_json(line, f"{where}: line {number}")
            if not isinstance(record, dict):
                raise ConfigError(f"{where}: line {number}: a release must be a JSON object (fix: restore the file)")
            records.append(record)
    return records


def branch_ref(repo: Path, env: str) -> str | None:
    """The environment branch as fetched from origin (a CI checkout with full history has it), else the local one."""
    for ref in (f"refs/remotes/origin/{env}", f"refs/heads/{env}"):
        if git(repo, "rev-parse", "--verify", "--quiet", ref, check=False).returncode == 0:
            return ref
    return None


def branch_history(repo: Path, env: str) -> list[dict]:
    """releases/<env>/history.jsonl as committed on the `env` branch (empty when the branch or the file is absent)."""
    ref = branch_ref(repo, env)
    if ref is None:
        return []
    where = f"{ref}:releases/{env}/history.jsonl"
    proc = git(repo, "show", where, check=False)
    if proc.returncode != 0:
        return []
    entries = _release_lines(proc.stdout.encode("utf-8"), where)
    _require_release_commits(repo, ref, env)
    return entries


def _require_release_commits(repo: Path, ref: str, env: str) -> None:
    """Every line of the branch's history.jsonl was added by a release commit: a single-parent commit of the bot on
    the branch's own first-parent chain. A line that arrived through a merge (e.g. forged in a pull request to
    main, then merged into the environment) is blamed on the merge commit, so it refuses."""
    path = f"releases/{env}/history.jsonl"
    blame = git(repo, "blame", "--first-parent", "--line-porcelain", ref, "--", path, check=False)
    if blame.returncode != 0:
        raise Refused(f"{ref}:{path}: cannot tell which commits wrote it: {first_line(Exception(blame.stderr))}")
    authors, commit = {}, None
    for line in blame.stdout.splitlines():
        if line.startswith("\t"):
            continue
        key, _, value = line.partition(" ")
        if len(key) == 40 and commit is None:
            commit = key
        elif key == "author-mail":
            authors[commit] = value.strip("<>")
            commit = None
    parents = git(repo, "rev-list", "--no-walk", "--parents", *authors, check=False).stdout.splitlines()
    parent_counts = {line.split()[0]: len(line.split()) - 1 for line in parents}
    for sha, email in authors.items():
        parent_count = parent_counts.get(sha)
        if email != BOT_EMAIL or parent_count != 1:
            how = {0: "a commit with no parent", 1: f"authored by {email}"}.get(parent_count, "a merge")
            raise Refused(
                f"{ref}:{path}: lines from commit {sha[:12]} ({how}) were not written by a release: only `modelrail "
                f"promote` and `rollback` commit there, as {BOT_NAME}, so the history is not evidence "
                f"(fix: revert commit {sha[:12]} on {env})"
            )


def released_entry(repo: Path, env: str, content_hash: str) -> dict | None:
    """The latest release of this content hash in `env`'s branch history, or None if it never ran there."""
    matches = [entry for entry in branch_history(repo, env) if entry.get("content_hash") == content_hash]
    return matches[-1] if matches else None


def rejection(repo: Path, environments: list[str], content_hash: str) -> str | None:
    """Why this content hash was rejected (a `rollback --reject` in any environment's branch history), or None."""
    for env in environments:
        for entry in branch_history(repo, env):
            rolled_back = entry.get("rolled_back_from") or {}
            if entry.get("rejected_previous") and rolled_back.get("content_hash") == content_hash:
                return f"rolled back from {env} and rejected by {entry.get('actor', '?')} at {entry.get('time', '?')}"
    return None


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["git", "-c", f"user.name={BOT_NAME}", "-c", f"user.email={BOT_EMAIL}", *args],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    if check and proc.returncode != 0:
        raise ReleaseFailed(f"git {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
    return proc


def current_branch(repo: Path) -> str | None:
    proc = git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return proc.stdout.strip() or None


def head_sha(repo: Path) -> str:
    sha = head(repo)
    if sha is None:
        raise ReleaseFailed(f"{repo}: not a git checkout with a commit (a release is committed on its branch)")
    return sha


def require_branch(repo: Path, env: str) -> None:
    """Release records are committed on the environment branch, so it must be the one checked out."""
    branch = current_branch(repo)
    if branch != env:
        raise ConfigError(
            f"{repo}: the checked-out branch is {branch or 'a detached HEAD'}, not the environment branch '{env}' "
            f"(fix: `git checkout {env}`; the release record is committed there)"
        )


def write_release(repo: Path, env: str, record: dict, manifests: dict[Path, str], message: str) -> str:
    """Write the record, append the history and the manifests; commit them as the bot. Returns the commit SHA."""
    path = history_path(repo, env)
    previous = path.read_text(encoding="utf-8") if path.is_file() else ""
    contents = {
        record_path(repo, env): dumps(record, indent=2) + "\n",
        path: previous + dumps(record, sort_keys=True) + "\n",
        **manifests,
    }
    # Only these files are touched, and they are put back as they were if the commit does not happen.
    before = {file: file.read_text(encoding="utf-8") if file.is_file() else None for file in contents}
    paths = [str(file.relative_to(repo)) for file in contents]
    try:
        for file, text in contents.items():
            write_atomic(file, text)
        git(repo, "add", "--", *paths)
        git(repo, "commit", "-q", "-m", message, "--", *paths)
    except BaseException:
        git(repo, "reset", "-q", "--", *paths, check=False)
        for file, text in before.items():
            if text is None:
                file.unlink(missing_ok=True)
            else:
                write_atomic(file, text)
        raise
    return head_sha(repo)


def write_manifests(repo: Path, env: str, manifests: dict[Path, str], message: str) -> str | None:
    """Put deploy/<env>/ back to what the release record renders (a hand edit is undone); the commit SHA or None."""
    changed = [file for file, text in manifests.items() if not file.is_file() or file.read_text("utf-8") != text]
    folder = repo / "deploy" / env
    strays = [file for file in folder.glob("*") if file.is_file() and file not in manifests] if folder.is_dir() else []
    if not changed and not strays:
        return None
    for file in changed:
        write_atomic(file, manifests[file])
    for file in strays:
        file.unlink()
    paths = [str(file.relative_to(repo)) for file in [*changed, *strays]]
    git(repo, "add", "-A", "--", *paths)
    git(repo, "commit", "-q", "-m", message, "--", *paths)
    return head_sha(repo)


def require_approved(repo: Path, env: str, approved: str) -> None:
    """HEAD is the approved commit, or only release commits of the bot follow it (a re-run after the release).

    The environment's reviewers approve the workflow run of one push; if the branch has moved on since, that run
    must not release what the newer commits hold: the run of the newest push does, after its own approval.
    """
    head = head_sha(repo)
    if head == approved:
        return
    if git(repo, "merge-base", "--is-ancestor", approved, head, check=False).returncode != 0:
        raise Refused(
            f"the approved commit {approved[:12]} is not on '{env}' (its tip is {head[:12]}): the branch was "
            "rewritten since this run was approved; nothing was released (fix: the run of the newest push releases)"
        )
    authors = git(repo, "log", "--format=%H %ae", f"{approved}..{head}").stdout.split("\n")
    foreign = [line.split()[0][:12] for line in authors if line.strip() and line.split()[1] != BOT_EMAIL]
    if foreign:
        raise Refused(
            f"'{env}' moved on from the approved commit {approved[:12]} to {head[:12]} ({', '.join(foreign)} not "
            f"written by {BOT_NAME}): this run releases nothing; the run of the newest push releases it after its "
            "own approval"
        )


def push(repo: Path, remote: str, env: str) -> None:
    proc = git(repo, "push", "-q", remote, f"HEAD:refs/heads/{env}", check=False)
    if proc.returncode != 0:
        raise ReleaseFailed(
            f"the release is in the registry but its record could not be pushed to {remote} {env}: "
            f"{proc.stderr.strip()[-300:]} (fix: `git pull` the branch and re-run the same command; it is idempotent)"
        )
