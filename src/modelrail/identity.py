"""The identity of a model artifact, read from the model repo: the content and data hashes dvc.lock records, the run
record train writes (paths.run_record), the project's name and the commit. The one reader of dvc.lock and of the run
record: the image labels, the registry tags, the release checks and the report all start here. Where the model, the
run record, the data and the gate records are is the repo's layout (layout.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelrail.errors import ConfigError
from modelrail.files import load_json_object, read_regular
from modelrail.git import head
from modelrail.layout import Layout, load_layout


class NoArtifact(ConfigError):
    """dvc.lock records no trained model: nothing to build, register or release."""


@dataclass
class Identity:
    """An artifact's identity as the commit's dvc.lock records it (the model itself need not be here)."""

    content_hash: str
    data: dict[str, str]
    gate_outs: dict[str, str]
    run_record_md5: str | None
    # The model output's md5 as dvc.lock writes it (`<hash>.dir` for a directory): the report shows it so.
    lock_md5: str = ""

    @property
    def data_label(self) -> str:
        return data_label(self.data)


def data_label(data: dict[str, str]) -> str:
    """All data hashes in one label or tag value: `path=md5` pairs, space separated, sorted by path."""
    return " ".join(f"{path}={md5}" for path, md5 in sorted(data.items()))


def read_identity(repo: Path, layout: Layout) -> Identity:
    """Model output hash, data hashes and gate-record hashes from `repo`'s dvc.lock, where `layout` says they are.

    A stage or an output that the layout names and the pipeline does not have is a ConfigError naming the key; a
    pipeline that keeps the layout but has not trained yet is NoArtifact."""
    lock_path = repo / "dvc.lock"
    stages = load_lock(lock_path).get("stages") or {}
    stage = stages.get(layout.train_stage)
    if not isinstance(stage, dict):
        layout.require_train_stage(repo)
        raise NoArtifact(
            f"{lock_path}: no stage '{layout.train_stage}': this commit holds no trained artifact (run `dvc repro`)"
        )
    outs = {str(out.get("path")): out.get("md5") for out in stage.get("outs", [])}
    layout.require_output("model", lock_path, list(outs))
    model_md5 = outs[layout.model]
    if not model_md5:
        raise NoArtifact(f"{lock_path}: stage '{layout.train_stage}' has no md5 for its output '{layout.model}'")
    data: dict[str, str] = {}
    gates: dict[str, str] = {}
    for body in stages.values():
        for entry in [*body.get("deps", []), *body.get("outs", [])]:
            path, md5 = str(entry.get("path", "")), entry.get("md5")
            if layout.is_data(path) and md5:
                data[path] = md5.removesuffix(".dir")
        for entry in body.get("outs", []):
            path = str(entry.get("path", ""))
            if layout.is_gate_record(path):
                gates[path] = entry.get("md5") or ""
    if not data:
        raise ConfigError(
            f"{layout.key('data')}: no dependency or output in {lock_path} lies under it, so the artifact's identity "
            "would name no data (fix: set paths.data to the folder the pipeline's data files are in)"
        )
    return Identity(model_md5.removesuffix(".dir"), data, gates, outs.get(layout.run_record), model_md5)


def load_lock(path: Path) -> dict:
    """dvc.lock as a mapping; a missing or malformed file is a ConfigError naming it."""
    import yaml

    raw = read_regular(path, missing="no such file (run `dvc repro` to train the model first)")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a dvc.lock file (expected a mapping with 'stages')")
    return data


def read_run_record(repo: Path, layout: Layout) -> tuple[dict, bytes]:
    """paths.run_record: the MLflow run train logged (run_id; registered_model and model_version once registered)."""
    missing = f"no such file (run `dvc repro` first; {layout.key('run_record')} says train writes it here)"
    return load_json_object(repo / layout.run_record, "a run record", missing=missing)


def run_id(repo: Path, layout: Layout) -> str | None:
    """The run record's run_id, or None when there is no readable one."""
    try:
        value = read_run_record(repo, layout)[0].get("run_id")
    except ConfigError:
        return None
    return value if isinstance(value, str) else None


def project_name(repo: Path) -> str:
    """modelrail.yaml's `project`, else the folder name: the image repository's name."""
    from modelrail.config import load_config

    config_path = repo / "modelrail.yaml"
    project = load_config(config_path).get("project") if config_path.exists() else None
    return str(project or repo.resolve().name).lower()


def commit_sha(repo: Path) -> str:
    """HEAD of the model repo; an image or model version is always traceable to a commit, so no commit is an error."""
    sha = head(repo)
    if sha is None:
        raise ConfigError(
            f"{repo}: not a git checkout with a commit, or git is not installed (images and model "
            "versions are tagged with the commit they come from)"
        )
    return sha


@dataclass
class Artifact:
    """What an image is built from and labelled with: the identity, the project, the commit, the MLflow run."""

    repo: Path
    project: str
    model_md5: str
    git_sha: str
    model_version: str
    data_md5: dict[str, str] = field(default_factory=dict)
    layout: Layout = field(default_factory=Layout)

    @property
    def tags(self) -> list[str]:
        """Image tags: the code that built it and the model it serves."""
        return [f"sha-{self.git_sha}", self.model_tag]

    @property
    def model_tag(self) -> str:
        return f"model-{self.model_md5}"

    @property
    def data_label(self) -> str:
        return data_label(self.data_md5)


def load_artifact(repo: Path, model_version: str | None = None) -> Artifact:
    """The artifact of the model repo at `repo` after `dvc repro`, in the layout its modelrail.yaml declares: its
    identity, with the model directory present."""
    layout = load_layout(repo)
    identity = read_identity(repo, layout)
    model = repo / layout.model
    if not model.is_dir():
        raise ConfigError(f"{model}: no such model directory (run `dvc repro` or `dvc pull` first)")
    return Artifact(
        repo=repo,
        project=project_name(repo),
        model_md5=identity.content_hash,
        git_sha=commit_sha(repo),
        model_version=model_version or run_id(repo, layout) or "unversioned",
        data_md5=identity.data,
        layout=layout,
    )
