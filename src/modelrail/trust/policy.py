"""Gate policy changes between the base branch and the work tree: what the pull-request report shows first.

A pull request can lower a threshold, delete an expectation or drop a gate stage in the same diff as the model it
gates. The gates would then pass honestly, against weaker rules; so the rules' own changes are listed before any
result, for the code owners (.github/CODEOWNERS) to review.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

CONFIG = "modelrail.yaml"
PIPELINE = "dvc.yaml"
GATE_COMMAND = "modelrail gate"
# The layout's sections: moving where the gates read (the model, the records, the suites) changes what they check.
LAYOUT_SECTIONS = ("paths", "stages")


def changes(base_rev: str, repo: Path = Path(".")) -> list[str]:
    """One line per change of gate policy from `base_rev` to the work tree (thresholds, champion, layout, suites,
    stages). Suites are compared by name, each side in the folder its own `paths.suites` names."""
    config_before, config_after = _yaml(_show(repo, base_rev, CONFIG)), _yaml(_read(repo / CONFIG))
    lines = _config_changes(config_before, config_after) + _layout_changes(config_before, config_after)
    lines += _stage_changes(_yaml(_show(repo, base_rev, PIPELINE)), _yaml(_read(repo / PIPELINE)))
    suites_before, suites_after = _suites(config_before), _suites(config_after)
    names = set(_listing(repo, base_rev, suites_before)) | {p.name for p in (repo / suites_after).glob("*.json")}
    for name in sorted(names):
        before = _json(_show(repo, base_rev, f"{suites_before}/{name}"))
        after = _json(_read(repo / suites_after / name))
        lines += _suite_changes(f"{suites_after}/{name}", before, after)
    return lines


def _suites(config: dict) -> str:
    """The suites folder a (not yet validated) modelrail.yaml declares; the default when it declares none."""
    from modelrail.layout import PATHS

    value = (config.get("paths") or {}).get("suites") if isinstance(config.get("paths"), dict) else None
    return value if isinstance(value, str) and value.strip() else PATHS["suites"]


def _layout_changes(before: dict, after: dict) -> list[str]:
    lines = []
    for section in LAYOUT_SECTIONS:
        old = before.get(section) if isinstance(before.get(section), dict) else {}
        new = after.get(section) if isinstance(after.get(section), dict) else {}
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key):
                what = f"{section}.{key}"
                was, now = (_text(v) if v is not None else "(default)" for v in (old.get(key), new.get(key)))
                lines.append(f"`{CONFIG}`: layout `{what}` {was} -> {now}")
    return lines


def _config_changes(before: dict, after: dict) -> list[str]:
    model_before = (before.get("gates") or {}).get("model") or {}
    model_after = (after.get("gates") or {}).get("model") or {}
    lines = []
    thresholds_before, thresholds_after = model_before.get("thresholds") or {}, model_after.get("thresholds") or {}
    for metric in sorted(set(thresholds_before) | set(thresholds_after)):
        old, new = thresholds_before.get(metric), thresholds_after.get(metric)
        if old == new:
            continue
        if new is None:
            lines.append(f"`{CONFIG}`: threshold on **{metric}** removed (was {_bounds(old)})")
        elif old is None:
            lines.append(f"`{CONFIG}`: threshold on **{metric}** added ({_bounds(new)})")
        else:
            looser = _looser(old, new)
            lines.append(f"`{CONFIG}`: threshold on **{metric}** {_bounds(old)} -> {_bounds(new)}{looser}")
    champion_before, champion_after = model_before.get("champion") or {}, model_after.get("champion") or {}
    for key in sorted(set(champion_before) | set(champion_after)):
        old, new = champion_before.get(key), champion_after.get(key)
        if old != new:
            loosened = key == "tolerance" and isinstance(old, (int, float)) and (new is None or new > old)
            loosened = loosened or (key == "metrics" and bool(set(old or []) - set(new or [])))
            note = " (**looser**)" if loosened else ""
            lines.append(f"`{CONFIG}`: champion `{key}` {_text(old)} -> {_text(new)}{note}")
    return lines


def _looser(old: dict, new: dict) -> str:
    lower = "min" in old and ("min" not in new or new["min"] < old["min"])
    higher = "max" in old and ("max" not in new or new["max"] > old["max"])
    return " (**looser**)" if lower or higher else ""


def _stage_changes(before: dict, after: dict) -> list[str]:
    stages_before, stages_after = before.get("stages") or {}, after.get("stages") or {}
    lines = []
    for name, stage in stages_before.items():
        if not _is_gate(stage):
            continue
        if name not in stages_after:
            lines.append(f"`{PIPELINE}`: gate stage **{name}** removed")
        elif not _is_gate(stages_after[name]):
            lines.append(f"`{PIPELINE}`: stage **{name}** no longer runs a gate")
        elif _command(stage) != _command(stages_after[name]):
            old, new = _command(stage), _command(stages_after[name])
            lines.append(f"`{PIPELINE}`: gate stage **{name}** command {_text(old)} -> {_text(new)}")
    for name, stage in stages_after.items():
        if _is_gate(stage) and not _is_gate(stages_before.get(name) or {}):
            lines.append(f"`{PIPELINE}`: gate stage **{name}** added")
    return lines


def _suite_changes(path: str, before: dict | None, after: dict | None) -> list[str]:
    if before is None and after is None:
        return []
    if after is None:
        return [f"`{path}`: suite removed ({len(_expectations(before))} expectations)"]
    if before is None:
        return [f"`{path}`: suite added ({len(_expectations(after))} expectations)"]
    old, new = _expectations(before), _expectations(after)
    lines = []
    for key in [k for k in old if k not in new]:
        lines.append(f"`{path}`: expectation {_name(key)} removed")
    for key in [k for k in new if k not in old]:
        lines.append(f"`{path}`: expectation {_name(key)} added")
    for key in [k for k in old if k in new and old[k] != new[k]]:
        changed = [
            f"{arg} {_text(old[key].get(arg))} -> {_text(new[key].get(arg))}"
            for arg in sorted(set(old[key]) | set(new[key]))
            if old[key].get(arg) != new[key].get(arg)
        ]
        lines.append(f"`{path}`: expectation {_name(key)} changed: {'; '.join(changed)}")
    return lines


def _expectations(suite: dict) -> dict[tuple[str, str], dict]:
    """(type, column) -> kwargs without the column; a suite checks each pair once."""
    out = {}
    for item in suite.get("expectations") or []:
        if isinstance(item, dict):
            kwargs = dict(item.get("kwargs") or {})
            out[(str(item.get("type")), str(kwargs.pop("column", "")))] = kwargs
    return out


def _name(key: tuple[str, str]) -> str:
    return f"`{key[0]}`" + (f" on **{key[1]}**" if key[1] else "")


def _bounds(bounds: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted((bounds or {}).items())) or "none"


def _text(value) -> str:
    text = json.dumps(value)
    return f"`{text if len(text) <= 60 else text[:57] + '...'}`"


def _is_gate(stage) -> bool:
    return isinstance(stage, dict) and _command(stage).startswith(GATE_COMMAND)


def _command(stage: dict) -> str:
    cmd = stage.get("cmd", "")
    return " ".join(" ".join(cmd) if isinstance(cmd, list) else str(cmd).split())


def _show(repo: Path, rev: str, path: str) -> str | None:
    proc = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=repo, capture_output=True, text=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


def _listing(repo: Path, rev: str, folder: str) -> list[str]:
    proc = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{rev}:{folder}"], cwd=repo, capture_output=True, text=True, check=False
    )
    return [name for name in proc.stdout.split() if name.endswith(".json")] if proc.returncode == 0 else []


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _yaml(text: str | None) -> dict:
    import yaml

    try:
        data = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _json(text: str | None) -> dict | None:
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
