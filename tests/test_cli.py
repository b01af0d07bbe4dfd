import subprocess
import sys

import pytest

from modelrail.cli import build_parser, main

COMMANDS = {
    ("gate", "data"): ["--data", "x.csv", "--suite", "s.json"],
    ("gate", "model"): ["--metrics", "m.json"],
    ("suite", "init"): ["--data", "x.csv", "--out", "s.json"],
    ("drift",): ["--reference", "r.csv", "--current", "logs/"],
    ("report",): ["--base", "main"],
    ("containerize", "build"): [],
    ("containerize", "smoke"): ["--image", "x:1"],
    ("containerize", "push"): ["--registry", "127.0.0.1:5000"],
    ("new",): ["--output-dir", "out"],
    ("register",): [],
    ("promote",): ["--env", "staging"],
    ("rollback",): ["--env", "staging", "--to", "3", "--reject"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS), ids=" ".join)
def test_every_command_is_wired_to_a_handler(command):
    args = build_parser().parse_args([*command, *COMMANDS[command]])
    assert callable(args.handler)


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
