"""`modelrail register`: register the trained model as a version of the registered model, tagged with its identity.

Runs on main (the publish workflow), never in a pull request: pull-request jobs may log runs to the experiment but
only read the registry. train records its MLflow run in the run record (paths.run_record, an output of the train
stage that dvc.lock hashes, which ties the run to this model output); this command makes a version of
`mlflow.registered_model` from that run's logged model and tags it with the identity promotion resolves by (content
hash, data hashes). Idempotent: a version already tagged with this identity is reused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from modelrail import model_registry
from modelrail.config import load_config
from modelrail.errors import ConfigError
from modelrail.files import load_json_object
from modelrail.identity import commit_sha, read_run_record
from modelrail.layout import layout_of
from modelrail.model_registry import first_line
from modelrail.release import records

# Where train logs the model in its run (mlflow.<flavor>.log_model(name="model")).
LOGGED_MODEL = "model"


@dataclass
class RegisterResult:
    registered_model: str
    model_version: str
    content_hash: str
    tags: dict[str, str]


def run(repo: Path) -> RegisterResult:
    """Register the model logged by the run of the run record (or reuse the version with this identity); tag it."""
    config_path = repo / "modelrail.yaml"
    config = load_config(config_path)
    layout = layout_of(config, config_path)
    identity = records.artifact_identity(repo, layout)
    run_path = repo / layout.run_record
    if identity.run_record_md5 is None:
        # Unhashed, the run record could name any run: the version registered would not be the model dvc.lock holds.
        raise ConfigError(
            f"{layout.key('run_record')}: stage '{layout.train_stage}' in {repo / 'dvc.lock'} has no such output with "
            "an md5 (fix: make train write its run record there, as an output of that stage)"
        )
    run_record, _ = read_run_record(repo, layout)
    if records.md5_of(run_path) != identity.run_record_md5:
        raise ConfigError(f"{run_path}: not the run record dvc.lock hashed for this model (run `dvc repro` again)")
    run_id = run_record.get("run_id")
    if not run_id:
        raise ConfigError(f"{run_path}: no run_id (train logs its run to MLflow and records it here)")
    registry = model_registry.open_registry(repo, config)
    if run_record.get("registered_model") not in (None, registry.name):
        raise ConfigError(
            f"{run_path}: registered_model {run_record['registered_model']!r} is not modelrail.yaml's {registry.name!r}"
        )
    gates = {}
    for path, expected in identity.gate_outs.items():
        file = repo / path
        ok = file.is_file() and records.md5_of(file) == expected
        gates[Path(path).stem] = ok and load_json_object(file, "a gate record")[0].get("passed") is True
    tags = {
        model_registry.CONTENT_TAG: identity.content_hash,
        model_registry.DATA_TAG: identity.data_label,
        model_registry.CODE_TAG: commit_sha(repo),
        model_registry.GATES_TAG: json.dumps(gates, sort_keys=True),
    }
    existing_version = model_registry.find_version(registry, identity)
    version = str(existing_version.version) if existing_version else _create_version(registry, run_id)
    existing = dict(existing_version.tags or {}) if existing_version else {}
    for key, value in tags.items():
        if existing.get(key) != value:
            registry.client.set_model_version_tag(registry.name, version, key, value)
    return RegisterResult(registry.name, version, identity.content_hash, tags)


def _create_version(registry, run_id: str) -> str:
    """A new version of the registered model (created on first use) from the model logged in `run_id`."""
    from mlflow.exceptions import MlflowException

    try:
        try:
            registry.client.get_registered_model(registry.name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            registry.client.create_registered_model(registry.name)
        run = registry.client.get_run(run_id)
        outputs = run.outputs.model_outputs if run.outputs else []
        models = [registry.client.get_logged_model(output.model_id) for output in outputs]
        logged = [model for model in models if model.name == LOGGED_MODEL]
        if not logged:
            raise ConfigError(f"MLflow run {run_id} logged no model named '{LOGGED_MODEL}' (train logs it)")
        model = logged[-1]
        created = registry.client.create_model_version(
            registry.name, model.artifact_location, run_id=run_id, model_id=model.model_id
        )
        return str(created.version)
    except MlflowException as exc:
        raise ConfigError(
            f"MLflow registry at {first_line(Exception(registry.uri))}: cannot register run {run_id} "
            f"as a version of {registry.name}: {first_line(exc)}"
        ) from None
