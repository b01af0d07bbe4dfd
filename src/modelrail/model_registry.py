"""The MLflow model registry: the one place modelrail talks to it, for the champion gate, register and releases.

Where it is (MLFLOW_TRACKING_URI or modelrail.yaml), the tags a model version carries, what counts as "not found",
and how its errors reach a message without the credentials a URI may hold. How long a request may take is MLflow's
MLFLOW_HTTP_REQUEST_* settings; the CLI sets bounded defaults for them (cli.LIBRARY_DEFAULTS).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from modelrail.errors import ConfigError, ReleaseFailed
from modelrail.identity import Identity

# Model version tags: the artifact's identity and its history.
CONTENT_TAG = "modelrail.content_hash"
DATA_TAG = "modelrail.data"
CODE_TAG = "modelrail.git_sha"
GATES_TAG = "modelrail.gates"
REJECTED_TAG = "modelrail.rejected"
RELEASED_PREFIX = "modelrail.released."
# What MLflow answers for a model, version or alias that does not exist (it differs by store and version).
NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


def tracking_uri(config: dict, config_path: Path) -> str:
    """MLFLOW_TRACKING_URI if set, else modelrail.yaml's; relative sqlite paths start at the config's folder."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or config.get("mlflow", {}).get("tracking_uri")
    if not uri:
        raise ConfigError(f"{config_path}: key 'mlflow.tracking_uri' is required for the champion comparison")
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/") and uri != prefix + ":memory:":
        return prefix + str((config_path.parent / uri[len(prefix) :]).resolve())
    return uri


def redact(uri: str) -> str:
    """The URI without any user:password, for records and messages."""
    return re.sub(r"//[^/@]+@", "//***@", uri)


def first_line(exc: BaseException) -> str:
    """An exception as one short line for a message, with any user:password in a URI redacted."""
    text = redact(str(exc).strip())
    return text.splitlines()[0][:300] if text else type(exc).__name__


def connect(uri: str):
    """An MlflowClient for tracking and registry at `uri`."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def version_by_alias(client, name: str, alias: str):
    """The model version behind `name@alias`, or None when the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in NOT_FOUND:
            return None
        raise


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
            raise ReleaseFailed(f"MLflow registry: cannot list versions of {self.name}: {first_line(exc)}") from None

    def version(self, number: str):
        return self.client.get_model_version(self.name, str(number))

    def alias(self, alias: str) -> str | None:
        version = version_by_alias(self.client, self.name, alias)
        return None if version is None else str(version.version)

    def model_tags(self) -> dict[str, str]:
        return dict(self.client.get_registered_model(self.name).tags or {})


def open_registry(repo: Path, config: dict) -> Registry:
    """The registry named by modelrail.yaml (MLFLOW_TRACKING_URI overrides it), answering in reasonable time."""
    config_path = repo / "modelrail.yaml"
    name = config.get("mlflow", {}).get("registered_model")
    if not name:
        raise ConfigError(f"{config_path}: key 'mlflow.registered_model' is required to promote")
    uri = tracking_uri(config, config_path)
    return Registry(connect(uri), name, uri)


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
