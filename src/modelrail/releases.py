"""Releases: what an environment runs, and the moves that change it (registry alias, image tag, git record).

Shared by `modelrail promote` and `modelrail rollback`. The environment branch holds the truth: its current release
record (`releases/<env>/release.json`), the history of every release (`releases/<env>/history.jsonl`) and the
deploy overlay (`deploy/<env>/kustomization.yaml`, image pinned by digest: see deploy_overlay.py). The MLflow
registry and the image registry are moved to match, and every move is undone when a later one fails.

Evidence comes from git only: whether an artifact was released to the previous environment, which image digest
that environment ran, and which artifacts were rejected are read from the environment branches' histories, which
only the promote job writes. Registry aliases and tags are written as outputs of a release, never read as proof:
other jobs (and code they run) may write them.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from modelrail.artifact import DATA_PREFIX, MODEL_DIR, MODEL_STAGE, RUN_RECORD, _load_lock
from modelrail.errors import ConfigError, ModelrailError
from modelrail.files import dumps, load_json_object, parse_json, read_regular

# Model version tags: the artifact's identity and its history.
CONTENT_TAG = "modelrail.content_hash"
DATA_TAG = "modelrail.data"
CODE_TAG = "modelrail.git_sha"
GATES_TAG = "modelrail.gates"
REJECTED_TAG = "modelrail.rejected"
RELEASED_PREFIX = "modelrail.released."
# Registered model tag holding the per-environment lock: "<token> <epoch seconds> <actor>".
LOCK_PREFIX = "modelrail.lock."
LOCK_STALE_SECONDS = 30 * 60
# Release commits are authored by this identity; `--approved-sha` lets only its commits follow the approved one.
BOT_NAME = "modelrail-bot"
BOT_EMAIL = "modelrail-bot@users.noreply.github.com"
# Set by `modelrail containerize build` (see the template's Dockerfile).
IMAGE_MODEL_LABEL = "io.modelrail.model.md5"


class Refused(ModelrailError):
    """Promotion or rollback refused before anything changed: exit 1, the message says why and what to do."""

    exit_code = 1


class ReleaseFailed(ModelrailError):
    """A registry or image registry failed midway; every move already made was undone: exit 1."""

    exit_code = 1


@dataclass
class Identity:
    """An artifact's identity as the commit's dvc.lock records it."""

    content_hash: str
    data: dict[str, str]
    gate_outs: dict[str, str]
    run_record_md5: str | None

    @property
    def data_label(self) -> str:
        return " ".join(f"{path}={md5}" for path, md5 in sorted(self.data.items()))


def read_identity(repo: Path) -> Identity:
    """Model output hash, data hashes and gate-record hashes from dvc.lock (the model itself need not be here)."""
    lock = _load_lock(repo / "dvc.lock")
    stages = lock.get("stages") or {}
    stage = stages.get(MODEL_STAGE)
    if not isinstance(stage, dict):
        raise Refused(f"{repo / 'dvc.lock'}: no stage '{MODEL_STAGE}': this commit holds no trained artifact")
    outs = {str(out.get("path")): out.get("md5") for out in stage.get("outs", [])}
    if not outs.get(MODEL_DIR):
        raise Refused(f"{repo / 'dvc.lock'}: stage '{MODEL_STAGE}' has no output '{MODEL_DIR}' with an md5")
    data: dict[str, str] = {}
    gates: dict[str, str] = {}
    for body in stages.values():
        for entry in [*body.get("deps", []), *body.get("outs", [])]:
            path, md5 = str(entry.get("path", "")), entry.get("md5")
            if path.startswith(DATA_PREFIX) and md5:
                data[path] = md5.removesuffix(".dir")
        for entry in body.get("outs", []):
            path = str(entry.get("path", ""))
            if path.startswith("gates/") and path.endswith(".json"):
                gates[path] = entry.get("md5") or ""
    return Identity(outs[MODEL_DIR].removesuffix(".dir"), data, gates, outs.get(RUN_RECORD))


def md5_of(path: Path) -> str:
    from modelrail.files import digests

    return digests(path.read_bytes())["md5"]


def check_gate_records(repo: Path, identity: Identity, required: list[str]) -> dict[str, dict]:
    """Every required gate has a record in dvc.lock; every record dvc.lock lists exists, is the one dvc.lock
    hashed (same pipeline run) and passed."""
    if not identity.gate_outs:
        raise Refused(
            f"{repo / 'dvc.lock'}: no gate record (gates/*.json) among the outputs: nothing proves the gates ran "
            f"(required: {', '.join(required)})"
        )
    results: dict[str, dict] = {}
    problems: list[str] = []
    recorded = {Path(path).stem for path in identity.gate_outs}
    for name in required:
        if name not in recorded:
            problems.append(
                f"gates/{name}.json: the required gate '{name}' (modelrail.yaml gates.required) has no record in "
                "dvc.lock: its stage did not run for this artifact (fix: restore the gate stage in dvc.yaml and "
                "`dvc repro`)"
            )
    for path, expected in sorted(identity.gate_outs.items()):
        file = repo / path
        if not file.is_file():
            problems.append(f"{path}: missing (dvc.lock lists it; commit the gate records with dvc.lock)")
            continue
        try:
            record, _ = load_json_object(file, "a gate record")
        except ConfigError as exc:
            problems.append(f"{path}: {str(exc).removeprefix(f'{file}: ')}")
            continue
        # A failed gate first: DVC does not lock a failed stage, so its record never matches dvc.lock either.
        actual, passed = md5_of(file), record.get("passed") is True
        if not passed:
            checks = record.get("checks") if isinstance(record.get("checks"), list) else []
            failed = [c.get("name") for c in checks if isinstance(c, dict) and not c.get("success")]
            problems.append(f"{path}: the {record.get('gate', '?')} gate failed ({', '.join(map(str, failed))})")
        elif actual != expected:
            problems.append(f"{path}: md5 {actual} is not the {expected} dvc.lock recorded: not this artifact's record")
        else:
            results[Path(path).stem] = {"path": path, "gate": record.get("gate"), "md5": actual, "passed": passed}
    if problems:
        raise Refused("gate records do not clear this artifact:\n  " + "\n  ".join(problems))
    return results


# --- MLflow registry --------------------------------------------------------------------------------------------


@dataclass
class Registry:
    """The MLflow model registry for one registered model."""

    client: object
    name: str
    uri: str

    def versions(self) -> list:
        from mlflow.exceptions import MlflowException

        try:
            return list(self.client.search_model_versions(f"name='{self.name}'"))
        except MlflowException as exc:
            raise ReleaseFailed(f"MLflow registry: cannot list versions of {self.name}: {_first_line(exc)}") from None

    def version(self, number: str):
        return self.client.get_model_version(self.name, str(number))

    def alias(self, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.name, alias).version)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                return None
            raise

    def model_tags(self) -> dict[str, str]:
        return dict(self.client.get_registered_model(self.name).tags or {})


def open_registry(repo: Path, config: dict) -> Registry:
    """The registry named by modelrail.yaml (MLFLOW_TRACKING_URI overrides it), answering in reasonable time."""
    from modelrail.champion import tracking_uri

    config_path = repo / "modelrail.yaml"
    name = config.get("mlflow", {}).get("registered_model")
    if not name:
        raise ConfigError(f"{config_path}: key 'mlflow.registered_model' is required to promote")
    uri = tracking_uri(config, config_path)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    from mlflow import MlflowClient

    return Registry(MlflowClient(tracking_uri=uri, registry_uri=uri), name, uri)


def find_version(registry: Registry, identity: Identity, preferred: str | None = None):
    """The model version tagged with this content hash and these data hashes (the earliest, or `preferred`)."""
    matches = [
        version
        for version in registry.versions()
        if (version.tags or {}).get(CONTENT_TAG) == identity.content_hash
        and (version.tags or {}).get(DATA_TAG) == identity.data_label
    ]
    if not matches:
        return None
    for version in matches:
        if preferred and str(version.version) == str(preferred):
            return version
    return min(matches, key=lambda version: int(version.version))


# --- the per-environment lock -----------------------------------------------------------------------------------


class EnvironmentLock:
    """A registered-model tag that says a release of this environment is under way; stale after 30 minutes.

    The workflow's `concurrency` group is the first line; this check stops a second promotion or rollback started
    by hand (or from another workflow) while one is running.
    """

    def __init__(self, registry: Registry, env: str, actor: str):
        self.registry, self.key = registry, LOCK_PREFIX + env
        self.token = f"{uuid.uuid4().hex} {int(time.time())} {actor}"
        self.env = env

    def __enter__(self) -> EnvironmentLock:
        held = self.registry.model_tags().get(self.key)
        if held:
            _, since, *who = [*held.split(" ", 2), ""]
            age = time.time() - float(since or 0)
            if age < LOCK_STALE_SECONDS:
                raise Refused(
                    f"another release of '{self.env}' is under way (by {' '.join(who).strip() or 'unknown'}, "
                    f"{age:.0f}s ago; registered model tag {self.key}) (fix: wait for it and re-run; if it died, "
                    f"delete that tag or wait {LOCK_STALE_SECONDS // 60} minutes)"
                )
        self.registry.client.set_registered_model_tag(self.registry.name, self.key, self.token)
        if self.registry.model_tags().get(self.key) != self.token:
            raise Refused(f"another release of '{self.env}' took the lock at the same moment (fix: re-run)")
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.registry.model_tags().get(self.key) == self.token:
                self.registry.client.delete_registered_model_tag(self.registry.name, self.key)
        except Exception:  # the lock goes stale on its own; never hide the real error behind this one
            pass


# --- images -----------------------------------------------------------------------------------------------------


@dataclass
class ImageMove:
    """The environment tag of the image repository, before and after."""

    repository: str
    tag: str
    digest: str
    previous: str | None


def registry_digest(client, reference: str) -> str | None:
    """The digest a tag points at on the registry, or None when the tag does not exist."""
    import docker

    try:
        return client.images.get_registry_data(reference).id
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as exc:
        if exc.status_code == 404 or "not found" in str(exc).lower() or "unknown" in str(exc).lower():
            return None
        raise


def image_digest_for(client, repository: str, content_hash: str) -> str:
    """The digest of `<repository>:model-<hash>`; its label must carry the same content hash."""
    reference = f"{repository}:model-{content_hash}"
    try:
        digest = registry_digest(client, reference)
    except Exception as exc:
        raise ReleaseFailed(f"image registry: cannot read {reference}: {_first_line(exc)}") from None
    if digest is None:
        raise Refused(
            f"no image {reference} on the registry: the artifact was never pushed "
            "(fix: run the containerize action with push: 'true' for this commit; promotion never rebuilds)"
        )
    return check_image(client, repository, digest, content_hash)


def check_image(client, repository: str, digest: str, content_hash: str) -> str:
    """`<repository>@<digest>` exists and its label carries this content hash; returns the digest."""
    image = _pull(client, f"{repository}@{digest}")
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    carried = labels.get(IMAGE_MODEL_LABEL)
    if carried != content_hash:
        raise Refused(
            f"image {repository}@{digest} has label {IMAGE_MODEL_LABEL}={carried}, not the content hash {content_hash}"
        )
    return digest


def _pull(client, reference: str):
    repository, digest = reference.split("@", 1)
    try:
        return client.images.get(reference)
    except Exception:
        pass
    try:
        return client.images.pull(repository, tag=digest)
    except Exception as exc:
        raise ReleaseFailed(f"image registry: cannot pull {reference}: {_first_line(exc)}") from None


def point_tag(client, repository: str, tag: str, digest: str) -> None:
    """Make `<repository>:<tag>` on the registry point at `digest` (pull by digest, tag, push, verify)."""
    from modelrail import docker_engine

    image = _pull(client, f"{repository}@{digest}")
    image.tag(repository, tag)
    stream = client.api.push(repository, tag=tag, stream=True, decode=True)
    docker_engine.follow(stream, f"docker push of {repository}:{tag}", echo=False)
    pushed = registry_digest(client, f"{repository}:{tag}")
    if pushed != digest:
        raise ReleaseFailed(f"{repository}:{tag} points at {pushed} after the push, expected {digest}")


def move_image(client, repository: str, env: str, digest: str) -> ImageMove:
    """Point the environment tag at `digest`; a failed push leaves the tag where it was (registries are atomic)."""
    previous = registry_digest(client, f"{repository}:{env}")
    if previous != digest:
        try:
            point_tag(client, repository, env, digest)
        except ModelrailError as exc:
            raise ReleaseFailed(f"image push failed: {exc}") from None
        except Exception as exc:
            raise ReleaseFailed(f"image push of {repository}:{env} failed: {_first_line(exc)}") from None
    return ImageMove(repository, env, digest, previous)


def undo_image(client, move: ImageMove | None) -> str:
    """Put the environment tag back; returns a note for the error message."""
    if move is None or move.previous == move.digest:
        return ""
    if move.previous is None:
        return f" The tag {move.repository}:{move.tag} now exists on the registry but no release claims it."
    try:
        point_tag(client, move.repository, move.tag, move.previous)
        return f" {move.repository}:{move.tag} was put back to {move.previous}."
    except Exception as exc:
        return f" Could not put {move.repository}:{move.tag} back to {move.previous}: {_first_line(exc)}."


# --- the environment branch -------------------------------------------------------------------------------------


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
        raise Refused(f"{ref}:{path}: cannot tell which commits wrote it: {_first_line(Exception(blame.stderr))}")
    authors, commit = {}, None
    for line in blame.stdout.splitlines():
        if line.startswith("\t"):
            continue
        head = line.split(" ", 1)
        if len(head[0]) == 40 and commit is None:
            commit = head[0]
        elif head[0] == "author-mail":
            authors[commit] = head[1].strip("<>")
            commit = None
    parents = git(repo, "rev-list", "--no-walk", "--parents", *authors, check=False).stdout.splitlines()
    merges = {line.split()[0] for line in parents if len(line.split()) != 2}
    for sha, email in authors.items():
        if email != BOT_EMAIL or sha in merges:
            how = "a merge" if sha in merges else f"authored by {email}"
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
    return git(repo, "rev-parse", "HEAD").stdout.strip()


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
    from modelrail.files import write_atomic

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
    from modelrail.files import write_atomic

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


def actor() -> str:
    return os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or "unknown"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _first_line(exc: BaseException) -> str:
    from modelrail.champion import redact

    text = redact(str(exc).strip())
    return text.splitlines()[0][:300] if text else type(exc).__name__


@dataclass
class ReleaseResult:
    """What promote and rollback return; `changed` is False when the environment already ran this release."""

    env: str
    kind: str
    model_version: str
    content_hash: str
    changed: bool
    record: dict = field(default_factory=dict)
    commit: str | None = None
    notes: list[str] = field(default_factory=list)
