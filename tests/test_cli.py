import importlib
import subprocess
import sys

import pytest

from modelrail.cli import build_parser, main

# Each command, its required arguments, and the function it must reach with them (`module` means `module.run`).
COMMANDS = {
    ("gate", "data"): (["--data", "x.csv", "--suite", "s.json"], "gates.data"),
    ("gate", "model"): (["--metrics", "m.json"], "gates.model"),
    ("suite", "init"): (["--data", "x.csv", "--out", "s.json"], "gates.suite_init"),
    ("drift",): (["--reference", "r.csv", "--current", "logs/"], "gates.drift"),
    ("report",): (["--base", "main"], "report"),
    ("containerize", "build"): ([], "container.build"),
    ("containerize", "smoke"): (["--image", "x:1"], "container.smoke"),
    ("containerize", "push"): (["--registry", "127.0.0.1:5000"], "container.push"),
    ("containerize", "published"): (["--registry", "127.0.0.1:5000"], "container.push:published"),
    ("verify",): (["--stage", "raw_gate"], "trust.verify"),
    ("template", "check"): (["--file", ".cruft.json"], "trust.template_answers:check"),
    ("new",): (["--output-dir", "out"], "new"),
    ("register",): ([], "release.register"),
    ("promote",): (["--env", "staging"], "release.promote"),
    ("rollback",): (["--env", "staging", "--to", "3", "--reject"], "release.rollback"),
}


class Reached(BaseException):  # not an Exception: the CLI turns those into exit 3
    """Raised by a stand-in `run`: the command got there, and nothing real runs."""


@pytest.mark.parametrize("command", sorted(COMMANDS), ids=" ".join)
def test_every_command_is_wired_to_a_handler(command):
    args = build_parser().parse_args([*command, *COMMANDS[command][0]])
    assert callable(args.handler)
    assert args.doing  # what the one-line message of an unexpected error (exit 3) says it was doing


@pytest.mark.parametrize("command", sorted(COMMANDS), ids=" ".join)
def test_every_command_reaches_its_own_module_with_its_arguments(command, workdir, monkeypatch):
    reached = []
    for module_name in {module for _, module in COMMANDS.values()}:

        def stand_in(*args, _module=module_name, **kwargs):
            given = [*args, *kwargs.values()]
            flat = [item for value in given for item in (value if isinstance(value, list) else [value])]
            reached.append((_module, [str(value) for value in flat]))
            raise Reached

        module_path, _, function = module_name.partition(":")
        monkeypatch.setattr(importlib.import_module(f"modelrail.{module_path}"), function or "run", stand_in)
    arguments, module = COMMANDS[command]
    with pytest.raises(Reached):
        main([*command, *arguments])
    assert [name for name, _ in reached] == [module], f"{' '.join(command)} reached {reached}"
    values = reached[0][1]
    # Every value given on the command line (a path, a name) arrives in the module's call.
    for value in arguments[1::2]:
        assert value in values or value.rstrip("/") in values, f"{value} did not reach {module}.run: {values}"


def test_help_answers_without_importing_heavy_libraries():
    code = "import sys; from modelrail.cli import build_parser; build_parser(); print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("great_expectations", "pandas", "mlflow", "docker", "yaml", "pyarrow"):
        assert f"'{heavy}'" not in loaded


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["gate", "data", "--suite", "s.json"])
    assert caught.value.code == 2
    assert "--data" in capsys.readouterr().err


def test_version():
    proc = subprocess.run([sys.executable, "-m", "modelrail", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("modelrail 0.")
