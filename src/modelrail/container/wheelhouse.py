"""The serving image's wheelhouse: wheels fetched on the host, so `docker build` never needs the network."""

from __future__ import annotations

import hashlib
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from modelrail.errors import ConfigError, ContainerError

WHEELHOUSE = Path("build/wheelhouse")
REQUIREMENTS = "requirements.txt"
STAMP = ".modelrail-stamp"
# The scoring server needs MLflow's client and pyfunc code only; mlflow-skinny has it (with FastAPI and uvicorn)
# without the tracking server, UI and their dependencies.
SERVING_SWAPS = {"mlflow": "mlflow-skinny"}


def serving_requirements(model_dir: Path) -> list[str]:
    """The model's pinned requirements (MLflow writes them next to the model), with mlflow made skinny."""
    path = model_dir / "requirements.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (an MLflow model directory lists its requirements there)") from None
    requirements = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            raise ConfigError(f"{path}: option '{line}' is not supported in a model's requirements")
        name, sep, rest = line.partition("==")
        requirements.append(SERVING_SWAPS.get(name.strip().lower(), name.strip()) + sep + rest)
    return requirements


def build(repo: Path, model_dir: Path, extra: tuple[str, ...] = (), progress: bool = True) -> Path:
    """Download the wheels of the model's requirements into build/wheelhouse/ with the host's pip settings.

    Skipped when the requirements and the host Python are unchanged since the last run (a stamp file says so).
    The host's Python minor version must match the base image's: the wheels are for this interpreter.
    """
    requirements = [*serving_requirements(model_dir), *extra]
    target = repo / WHEELHOUSE
    text = "\n".join(requirements) + "\n"
    stamp = hashlib.sha256(f"{text}{platform.python_version()}{sys.platform}".encode()).hexdigest()
    if (target / STAMP).is_file() and (target / STAMP).read_text().strip() == stamp:
        if progress:
            print(f"Wheelhouse {target} is up to date ({len(requirements)} requirements)")
        return target
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / REQUIREMENTS).write_text(text, encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--dest",
        str(target),
        "--requirement",
        str(target / REQUIREMENTS),
    ]
    if progress:
        print(f"Downloading wheels for {len(requirements)} requirements into {target}")
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        errors = [line for line in proc.stderr.splitlines() if "ERROR" in line] or proc.stderr.splitlines()[-5:]
        raise ContainerError(
            f"pip download into {target} failed for {target / REQUIREMENTS}: " + " | ".join(errors)[:2000]
        )
    (target / STAMP).write_text(stamp + "\n", encoding="utf-8")
    return target
