"""The contract between the package and the model repo: where the pipeline puts what the modelrail commands read.

modelrail.yaml declares it (`paths:` and `stages:`), with the template's layout as defaults. The commands take every
path of the model repo from a Layout, never from a literal of their own; a repo whose pipeline does not keep the
contract gets a ConfigError (exit 2) naming the key to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from modelrail.errors import ConfigError

CONFIG_FILE = "modelrail.yaml"
# The template's layout. Folders (data, gates, plots, suites) hold many files; the others name one file or folder.
PATHS = {
    "model": "models/model",
    "run_record": "models/run.json",
    "data": "data",
    "train_data": "data/prepared/train.csv",
    "test_data": "data/prepared/test.csv",
    "gates": "gates",
    "metrics": "metrics/metrics.json",
    "plots": "plots",
    "suites": "expectations",
    "prediction_suite": "expectations/predictions.json",
}
STAGES = {"train": "train"}
# What DVC accepts as a stage name in dvc.yaml (`@` joins a foreach stage's name and its key).
STAGE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]*")


@dataclass(frozen=True)
class Layout:
    """The paths (relative to the repo root, POSIX, normalised) and the stage name one model repo declares."""

    model: str = PATHS["model"]
    run_record: str = PATHS["run_record"]
    data: str = PATHS["data"]
    train_data: str = PATHS["train_data"]
    test_data: str = PATHS["test_data"]
    gates: str = PATHS["gates"]
    metrics: str = PATHS["metrics"]
    plots: str = PATHS["plots"]
    suites: str = PATHS["suites"]
    prediction_suite: str = PATHS["prediction_suite"]
    train_stage: str = STAGES["train"]
    # The file that declared it, for messages: a broken contract names this file and the key.
    source: str = CONFIG_FILE

    def key(self, name: str) -> str:
        """`<file>: key 'paths.<name>' (<value>)`: how a message points at the part of the contract at fault."""
        if name == "train_stage":
            return f"{self.source}: key 'stages.train' ('{self.train_stage}')"
        return f"{self.source}: key 'paths.{name}' ('{getattr(self, name)}')"

    def is_data(self, path: str) -> bool:
        """A DVC-tracked path under `paths.data`: its hash is part of the artifact's identity."""
        return _under(path, self.data)

    def gate_record(self, name: str) -> str:
        return f"{self.gates}/{name}.json"

    def is_gate_record(self, path: str) -> bool:
        return _under(path, self.gates) and path.endswith(".json")

    def require_train_stage(self, repo: Path) -> None:
        """dvc.yaml, if there is one, has the stage `stages.train` names: else the contract is broken, not merely
        unrun. (A literal look at the stage names: DVC interpolates `${...}` in values, never in stage names.)"""
        names = pipeline_stage_names(repo / "dvc.yaml")
        if (
            names is not None
            and self.train_stage not in names
            and not any(name.startswith(f"{self.train_stage}@") for name in names)
        ):
            raise ConfigError(
                f"{self.key('train_stage')}: {repo / 'dvc.yaml'} has no such stage (its stages: "
                f"{', '.join(names) or 'none'}; fix: name the stage that trains the model)"
            )

    def require_output(self, name: str, lock_path: Path, outs: list[str]) -> None:
        """The train stage's outputs in dvc.lock include `paths.<name>`: else the contract is broken."""
        if getattr(self, name) not in outs:
            raise ConfigError(
                f"{self.key(name)}: stage '{self.train_stage}' in {lock_path} has no such output (its outputs: "
                f"{', '.join(outs) or 'none'}; fix: set paths.{name} to where the stage writes it)"
            )


def layout_of(config: dict, source: Path | str = CONFIG_FILE) -> Layout:
    """The Layout a validated modelrail.yaml declares, defaults filled in."""
    paths = {key: _normal(value) for key, value in (config.get("paths") or {}).items()}
    stage = (config.get("stages") or {}).get("train", STAGES["train"])
    return Layout(**paths, train_stage=stage, source=str(source))


def load_layout(repo: Path) -> Layout:
    """The layout of the model repo at `repo`: its modelrail.yaml's, or the defaults when it has none."""
    from modelrail.config import load_config

    path = repo / CONFIG_FILE
    if not path.exists():
        return Layout(source=f"{path} (absent: the default layout)")
    return layout_of(load_config(path), path)


def check_contract(path: Path, config: dict) -> None:
    """Each `paths.*` is a relative path inside the repo, each `stages.*` a stage name; errors name the key."""
    for key, value in (config.get("paths") or {}).items():
        pure = PurePosixPath(value)
        if not value.strip() or value != value.strip() or "\\" in value or "\0" in value:
            problem = "must be a non-empty path with no surrounding spaces, backslashes or NUL"
        elif pure.is_absolute() or ".." in pure.parts or str(pure) == ".":
            problem = "must be a path inside the repository, relative to modelrail.yaml (no leading /, no ..)"
        else:
            continue
        raise ConfigError(f"{path}: key 'paths.{key}' {problem}, got {value[:40]!r}")
    for key, value in (config.get("stages") or {}).items():
        if not STAGE_NAME.fullmatch(value):
            raise ConfigError(f"{path}: key 'stages.{key}' must be a dvc.yaml stage name, got {value[:40]!r}")


def pipeline_stage_names(pipeline: Path) -> list[str] | None:
    """The stage names of a dvc.yaml, or None when there is none; a malformed one is a ConfigError naming it."""
    import yaml

    if not pipeline.is_file():
        return None
    try:
        data = yaml.safe_load(pipeline.read_text(encoding="utf-8")) or {}
        stages = data.get("stages") or {}
        return [str(name) for name in stages]
    except (yaml.YAMLError, ValueError, AttributeError):
        raise ConfigError(f"{pipeline}: not a valid dvc.yaml (a mapping with 'stages')") from None


def _normal(value: str) -> str:
    """`data/`, `./data` and `data` are the same folder: compare paths in one spelling."""
    return str(PurePosixPath(value))


def _under(path: str, folder: str) -> bool:
    return PurePosixPath(path).is_relative_to(folder)
