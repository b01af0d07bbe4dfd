"""`modelrail register`: tag the trained model version with the artifact identity from dvc.lock.

train registers a new version of `mlflow.registered_model` before DVC has hashed the model directory, so the
identity promotion resolves by (content hash, data hashes) is written here, after `dvc repro`, onto the version
that models/run.json names. dvc.lock hashes models/run.json too, which ties that version to this model output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from modelrail import releases
from modelrail.artifact import RUN_RECORD, git_sha
from modelrail.config import load_config
from modelrail.errors import ConfigError
from modelrail.files import load_json_object


@dataclass
class RegisterResult:
    registered_model: str
    model_version: str
    content_hash: str
    tags: dict[str, str]


def run(repo: Path) -> RegisterResult:
    """Set the identity tags on the model version of models/run.json; refuse a version that holds another identity."""
    config = load_config(repo / "modelrail.yaml")
    identity = releases.read_identity(repo)
    run_path = repo / RUN_RECORD
    run_record, _ = load_json_object(run_path, "a run record", missing="no such file (run `dvc repro` first)")
    if identity.run_record_md5 and releases.md5_of(run_path) != identity.run_record_md5:
        raise ConfigError(f"{run_path}: not the run record dvc.lock hashed for this model (run `dvc repro` again)")
    version = run_record.get("model_version")
    if not version:
        raise ConfigError(f"{run_path}: no model_version (train registers the model in mlflow.registered_model)")
    registry = releases.open_registry(repo, config)
    if run_record.get("registered_model") not in (None, registry.name):
        raise ConfigError(
            f"{run_path}: registered_model {run_record['registered_model']!r} is not modelrail.yaml's {registry.name!r}"
        )
    gates = {}
    for path, expected in identity.gate_outs.items():
        file = repo / path
        ok = file.is_file() and releases.md5_of(file) == expected
        gates[Path(path).stem] = ok and load_json_object(file, "a gate record")[0].get("passed") is True
    tags = {
        releases.CONTENT_TAG: identity.content_hash,
        releases.DATA_TAG: identity.data_label,
        releases.CODE_TAG: git_sha(repo),
        releases.GATES_TAG: json.dumps(gates, sort_keys=True),
    }
    try:
        existing = registry.version(version).tags or {}
    except Exception as exc:
        raise ConfigError(
            f"MLflow registry at {releases._first_line(Exception(registry.uri))}: no version {version} of "
            f"{registry.name} ({releases._first_line(exc)})"
        ) from None
    held = existing.get(releases.CONTENT_TAG)
    if held and held != identity.content_hash:
        raise ConfigError(
            f"{registry.name} v{version} already carries content hash {held}, not {identity.content_hash} "
            "(fix: run `dvc repro` so train registers a new version)"
        )
    for key, value in tags.items():
        if existing.get(key) != value:
            registry.client.set_model_version_tag(registry.name, str(version), key, value)
    return RegisterResult(registry.name, str(version), identity.content_hash, tags)
