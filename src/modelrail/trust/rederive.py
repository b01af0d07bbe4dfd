"""The child process of `modelrail verify`, in the scratch copy: run the gate stages it is given on stdin.

A module of its own, run with `python -m`, so that verify (which the CLI dispatches to) does not import the CLI.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import subprocess
import sys

from modelrail import cli


def main() -> None:
    """In the scratch folder: run the stages read from stdin in order, stop after a failure, print JSON outcomes.

    `modelrail gate ...` commands run in this process; other commands run in a shell, as DVC runs them.
    """
    outcomes = []
    for stage in json.loads(sys.stdin.read()):
        output = io.StringIO()
        if stage["gate"]:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                try:
                    returncode = cli.main(shlex.split(stage["cmd"])[1:])
                except SystemExit as exc:  # argparse: a malformed gate command in dvc.yaml
                    returncode = exc.code if isinstance(exc.code, int) else 2
                except Exception as exc:  # reported as the stage's failure, like a crashed command
                    returncode, _ = 3, output.write(f"{type(exc).__name__}: {exc}")
        else:
            proc = subprocess.run(stage["cmd"], shell=True, capture_output=True, text=True)
            returncode = proc.returncode
            output.write(proc.stderr or proc.stdout)
        outcomes.append({"name": stage["name"], "returncode": returncode, "output": output.getvalue()[-600:]})
        if returncode != 0:
            break
    print(json.dumps(outcomes))


if __name__ == "__main__":
    main()
