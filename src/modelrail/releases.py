"""Releases: what an environment runs, and the moves that change it (registry alias, image tag, git record).

Shared by `modelrail promote` and `modelrail rollback`. The environment branch holds the truth: its current release
record (`releases/<env>/release.json`), the history of every release (`releases/<env>/history.jsonl`) and the
deploy overlay (`deploy/<env>/kustomization.yaml`, image pinned by digest: see deploy_overlay.py). The MLflow
registry and the image registry are moved to match, and every move is undone when a later one fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from modelrail.artifact import DATA_PREFIX, MODEL_DIR, MODEL_STAGE, RUN_RECORD, _load_lock
from modelrail.errors import ConfigError, ModelrailError

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
SKIP_MARKER = "[skip promote]"
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


def check_gate_records(repo: Path, identity: Identity) -> dict[str, dict]:
    """Every gate record dvc.lock lists exists, is the one dvc.lock hashed (same pipeline run) and passed."""
    if not identity.gate_outs:
        raise Refused(
            f"{repo / 'dvc.lock'}: no gate record (gates/*.json) among the outputs: nothing proves the gates ran"
        )
    results: dict[str, dict] = {}
    problems: list[str] = []
    for path, expected in sorted(identity.gate_outs.items()):
        file = repo / path
        if not file.is_file():
            problems.append(f"{path}: missing (dvc.lock lists it; commit the gate records with dvc.lock)")
            continue
        try:
            record = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            problems.append(f"{path}: not valid JSON")
            continue
        # A failed gate first: DVC does not lock a failed stage, so its record never matches dvc.lock either.
        actual, passed = md5_of(file), record.get("passed") is True
        if not passed:
            failed = [check.get("name") for check in record.get("checks", []) if not check.get("success")]
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
    image = _pull(client, f"{repository}@{digest}")
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    carried = labels.get(IMAGE_MODEL_LABEL)
    if carried != content_hash:
        raise Refused(f"image {reference} has label {IMAGE_MODEL_LABEL}={carried}, not the content hash {content_hash}")
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
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError:
        raise ConfigError(f"{path}: not valid JSON (fix: restore it from git history)") from None


def history(repo: Path, env: str) -> list[dict]:
    path = history_path(repo, env)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


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
        record_path(repo, env): json.dumps(record, indent=2) + "\n",
        path: previous + json.dumps(record, sort_keys=True) + "\n",
        **manifests,
    }
    # Only these files are touched, and they are put back as they were if the commit does not happen.
    before = {file: file.read_text(encoding="utf-8") if file.is_file() else None for file in contents}
    paths = [str(file.relative_to(repo)) for file in contents]
    try:
        for file, text in contents.items():
            write_atomic(file, text)
        git(repo, "add", "--", *paths)
        git(repo, "commit", "-q", "-m", f"{message} {SKIP_MARKER}", "--", *paths)
    except BaseException:
        git(repo, "reset", "-q", "--", *paths, check=False)
        for file, text in before.items():
            if text is None:
                file.unlink(missing_ok=True)
            else:
                write_atomic(file, text)
        raise
    return head_sha(repo)


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
