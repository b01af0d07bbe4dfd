"""The identity of a model artifact: its content hash and data hashes from dvc.lock, the code's git SHA."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from modelrail.errors import ConfigError

MODEL_STAGE = "train"
MODEL_DIR = "models/model"
RUN_RECORD = "models/run.json"
DATA_PREFIX = "data/"


@dataclass
class Artifact:
    """What an image, a model version and a release record are tagged with."""

    repo: Path
    project: str
    model_md5: str
    git_sha: str
    model_version: str
    data_md5: dict[str, str] = field(default_factory=dict)

    @property
    def tags(self) -> list[str]:
        """Image tags: the code that built it and the model it serves."""
        return [f"sha-{self.git_sha}", f"model-{self.model_md5}"]

    @property
    def model_tag(self) -> str:
        return f"model-{self.model_md5}"

    @property
    def data_label(self) -> str:
        """All data hashes in one label value: `path=md5` pairs, space separated, sorted by path."""
        return " ".join(f"{path}={md5}" for path, md5 in sorted(self.data_md5.items()))


def load_artifact(repo: Path, model_version: str | None = None) -> Artifact:
    """Read the artifact identity of the model repo at `repo` (after `dvc repro`)."""
    lock = load_lock(repo / "dvc.lock")
    stage = lock.get("stages", {}).get(MODEL_STAGE)
    if not isinstance(stage, dict):
        raise ConfigError(f"{repo / 'dvc.lock'}: no stage '{MODEL_STAGE}' (run `dvc repro` first)")
    model_md5 = next((out.get("md5") for out in stage.get("outs", []) if out.get("path") == MODEL_DIR), None)
    if not model_md5:
        raise ConfigError(f"{repo / 'dvc.lock'}: stage '{MODEL_STAGE}' has no output '{MODEL_DIR}' with an md5")
    if not (repo / MODEL_DIR).is_dir():
        raise ConfigError(f"{repo / MODEL_DIR}: no such model directory (run `dvc repro` or `dvc pull` first)")
    data: dict[str, str] = {}
    for body in lock["stages"].values():
        for entry in [*body.get("deps", []), *body.get("outs", [])]:
            path = str(entry.get("path", ""))
            if path.startswith(DATA_PREFIX) and entry.get("md5"):
                data[path] = entry["md5"].removesuffix(".dir")
    return Artifact(
        repo=repo,
        project=_project(repo),
        model_md5=model_md5.removesuffix(".dir"),
        git_sha=git_sha(repo),
        model_version=model_version or _run_id(repo) or "unversioned",
        data_md5=data,
    )


def load_lock(path: Path) -> dict:
    """dvc.lock as a mapping; a missing or malformed file is a ConfigError naming it."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (run `dvc repro` to train the model first)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a dvc.lock file (expected a mapping with 'stages')")
    return data


# releases.py still imports the old private name.
_load_lock = load_lock


def _project(repo: Path) -> str:
    """modelrail.yaml's `project`, else the folder name: the image repository's name."""
    from modelrail.config import load_config

    config_path = repo / "modelrail.yaml"
    project = load_config(config_path).get("project") if config_path.exists() else None
    return str(project or repo.resolve().name).lower()


def _run_id(repo: Path) -> str | None:
    try:
        return json.loads((repo / RUN_RECORD).read_text(encoding="utf-8")).get("run_id")
    except (FileNotFoundError, json.JSONDecodeError, AttributeError):
        return None


def git_sha(repo: Path) -> str:
    """HEAD of the model repo; an image is always traceable to a commit, so no commit is an error."""
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=False)
    except OSError:
        raise ConfigError("git is not installed: the image is tagged with the commit it was built from") from None
    if proc.returncode != 0:
        raise ConfigError(f"{repo}: not a git checkout with a commit (the image is tagged sha-<commit>)")
    return proc.stdout.strip()


def registry_from(repo: Path, override: str | None) -> str:
    """The registry (and namespace) to push to: the flag or MODELRAIL_REGISTRY, else modelrail.yaml's key."""
    from modelrail.config import load_config

    if override:
        return override.rstrip("/")
    config_path = repo / "modelrail.yaml"
    registry = load_config(config_path).get("container_registry")
    if not registry:
        raise ConfigError(
            f"{config_path}: key 'container_registry' is not set "
            "(fix: set it, or pass --registry / MODELRAIL_REGISTRY, e.g. ghcr.io/my-org)"
        )
    return registry.rstrip("/")
