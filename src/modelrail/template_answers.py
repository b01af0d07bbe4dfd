"""The answers recorded in .cruft.json are data: refuse any that holds template markup before `cruft update`.

`cruft update` renders the recorded answers as Jinja, unsandboxed, so an answer such as
`{{ cycler.__init__.__globals__.os.popen('...') }}` committed in a pull request runs in the template-update job.
Its `template` (where cruft clones the template from, whose hooks it runs) must be the one the workflow names.
Standard library only: the template-check action runs this file directly, without installing modelrail.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MARKUP = ("{{", "{%", "{#")


class MarkupError(ValueError):
    """An answer (or a key) holds template markup; the message names the file and the key."""


def markup_keys(value, where: str = "") -> list[str]:
    """Dotted keys of every string (key or value) in `value` that holds template markup."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if any(mark in str(key) for mark in MARKUP):
                found.append(path)
            found += markup_keys(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += markup_keys(item, f"{where}[{index}]")
    elif isinstance(value, str) and any(mark in value for mark in MARKUP):
        found.append(where)
    return found


def check(path: Path, template: str | None = None) -> int:
    """Raise MarkupError naming each key of `path`'s recorded answers that holds markup, or its `template` when it
    is not `template` (if given); else the answer count."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MarkupError(f"{path}: no such file (the template's answers are recorded there)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MarkupError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(state, dict) or not isinstance(state.get("context"), dict):
        raise MarkupError(f"{path}: no 'context' mapping (not a .cruft.json file)")
    if template and state.get("template") != template:
        raise MarkupError(
            f"{path}: key 'template' is {state.get('template')!r}, not {template!r} that the template-update workflow "
            "names: `cruft update` would clone that template and run its hooks (fix: restore 'template', or change "
            "both in one pull request for the code owners to review)"
        )
    bad = markup_keys(state["context"], "context")
    if bad:
        keys = ", ".join(f"'{key}'" for key in bad)
        raise MarkupError(
            f"{path}: key {keys} holds template markup ({', '.join(MARKUP)}), which `cruft update` would run as "
            "code (fix: restore the answer as plain text, as the template asked for it)"
        )
    return len(state["context"].get("cookiecutter") or {})


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else ".cruft.json")
    try:
        count = check(path, argv[1] if len(argv) > 1 else None)
    except MarkupError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        print(f"::error file={path}::{str(exc).splitlines()[0]}")
        return 2
    print(f"{path}: {count} answers, none holds template markup")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
