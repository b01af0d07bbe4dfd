"""The template as tests use it: bake it, run a baked repo's tools, render and import its hooks."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from support import ROOT

BIN = Path(sys.executable).parent
HOOKS = ROOT / "hooks"


def bake(output: Path, **answers) -> Path:
    return Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(output), extra_context=answers))


def run(args: list[str], repo: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command in the baked repo the way its Makefile would, with this venv's tools first on PATH."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(repo / "src"),
        "DVC_NO_ANALYTICS": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], repo, check=check)


def default_answers() -> dict:
    """The answers `cookiecutter --no-input` would give, computed by cookiecutter itself."""
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    context = generate_context(context_file=str(ROOT / "cookiecutter.json"))
    return dict(prompt_for_config(context, no_input=True))


def render_hook(name: str, answers: dict, directory: Path) -> Path:
    """Render a hook exactly as cookiecutter's run_script_with_context does."""
    from cookiecutter.environment import StrictEnvironment

    context = {"cookiecutter": answers}
    env = StrictEnvironment(context=context, keep_trailing_newline=True)
    source = (HOOKS / f"{name}.py").read_text(encoding="utf-8")
    out = directory / f"{name}.py"
    out.write_text(env.from_string(source).render(**context), encoding="utf-8")
    return out


def import_hook(name: str, answers: dict, directory: Path):
    """Import a rendered hook as a module (its main() does not run, since __name__ is not __main__)."""
    script = render_hook(name, answers, directory)
    spec = importlib.util.spec_from_file_location(f"rendered_{name}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def modelrail(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """This venv's `modelrail` in the baked repo, as `run` runs any command there."""
    return run([str(BIN / "modelrail"), *args], repo, check=check)
