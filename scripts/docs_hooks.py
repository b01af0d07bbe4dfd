"""MkDocs hooks: generate the reference pages from the sources they describe, so they cannot go stale.

- actions.md: every `actions/*/action.yml` present at build time (inputs, outputs, descriptions).
- cli.md: every `modelrail` command, from the argparse parser itself.
- configuration.md: hand-written, but the build fails (in --strict mode) if a key of config.SCHEMA is not in it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("mkdocs.hooks.modelrail")


def on_files(files, config):
    """Add the generated pages to the site as if they were files in docs/."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, "actions.md", content=actions_page()))
    files.append(File.generated(config, "cli.md", content=cli_page()))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "configuration.md":
        for key in schema_keys():
            if f"`{key}`" not in markdown:
                log.warning("configuration.md does not document the modelrail.yaml key `%s` (config.SCHEMA)", key)
    return markdown


def _cell(text) -> str:
    return " ".join(str(text if text is not None else "").split()).replace("|", "\\|")


def actions_page() -> str:
    import yaml

    lines = [
        "# Actions reference",
        "",
        "Generated at build time from the `action.yml` file of every action in `actions/`. Each action is a thin",
        "composite step: its inputs become `MODELRAIL_*` environment variables and one `modelrail` command runs.",
        "Use them from a model repo's workflows pinned to a release of your modelrail repository, e.g.",
        "`uses: my-org/modelrail/actions/drift@v0.1.0`.",
        "",
    ]
    paths = sorted((ROOT / "actions").glob("*/action.y*ml"))
    if not paths:
        log.warning("no actions/*/action.yml found: the actions reference is empty")
    for path in paths:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        name = path.parent.name
        lines += [f"## {name}", "", f"`actions/{name}` — {_cell(spec.get('description', ''))}", ""]
        inputs = spec.get("inputs") or {}
        if inputs:
            lines += ["| input | required | default | description |", "|---|---|---|---|"]
            for key, item in inputs.items():
                item = item or {}
                default = item.get("default", "")
                shown = f"`{_cell(default)}`" if default not in ("", None) else ""
                required = "yes" if item.get("required") else "no"
                lines.append(f"| `{key}` | {required} | {shown} | {_cell(item.get('description', ''))} |")
            lines.append("")
        outputs = spec.get("outputs") or {}
        if outputs:
            lines += ["| output | description |", "|---|---|"]
            for key, item in outputs.items():
                lines.append(f"| `{key}` | {_cell((item or {}).get('description', ''))} |")
            lines.append("")
    return "\n".join(lines)


def _commands(parser, prefix: list[str]):
    """(command words, help, parser) for every leaf command of the argparse tree."""
    subparsers = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subparsers:
        yield prefix, parser.description or "", parser
        return
    for action in subparsers:
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, child in action.choices.items():
            for words, help_text, leaf in _commands(child, [*prefix, name]):
                yield words, help_text or helps.get(name, ""), leaf


def cli_page() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from modelrail.cli import build_parser

    parser = build_parser()
    lines = [
        "# CLI reference",
        "",
        "Generated at build time from the `modelrail` argument parser. Exit codes: `0` passed, `1` a gate failed",
        "(the message names the check, the file and the column), `2` usage or configuration error, `3` an",
        "unexpected error.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    commands = list(_commands(parser, []))
    for words, help_text, _ in commands:
        anchor = "-".join(["modelrail", *words])
        lines.append(f"| [`modelrail {' '.join(words)}`](#{anchor}) | {_cell(help_text)} |")
    lines.append("")
    for words, help_text, command in commands:
        anchor = "-".join(["modelrail", *words])
        lines += [f"## modelrail {' '.join(words)} {{#{anchor}}}", "", _cell(help_text), ""]
        lines += ["```text", command.format_usage().strip().removeprefix("usage: "), "```", ""]
        options = [
            action
            for action in command._actions
            if action.help != argparse.SUPPRESS and not isinstance(action, argparse._HelpAction)
        ]
        lines += ["| option | value | default | what it does |", "|---|---|---|---|"]
        for action in options:
            names = ", ".join(f"`{name}`" for name in action.option_strings) or f"`{action.dest}`"
            value = "" if action.nargs == 0 else f"`{action.metavar or action.dest.upper()}`"
            default = "" if action.default in (None, False, argparse.SUPPRESS) else f"`{action.default}`"
            required = " (required)" if action.required else ""
            repeat = " (repeatable)" if isinstance(action, argparse._AppendAction) else ""
            lines.append(f"| {names} | {value} | {default} | {_cell(action.help or '')}{required}{repeat} |")
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def schema_keys() -> list[str]:
    """Dotted key paths of config.SCHEMA (`*` for any name), e.g. `drift.columns.*.psi`."""
    sys.path.insert(0, str(ROOT / "src"))
    from modelrail.config import SCHEMA

    keys: list[str] = []

    def walk(schema, where: str) -> None:
        if isinstance(schema, dict):
            for key, item in schema.items():
                path = f"{where}.{key}" if where else key
                keys.append(path)
                walk(item, path)

    walk(SCHEMA, "")
    return keys
