"""What a release checks before anything moves: the commit's artifact identity and its gate records."""

from __future__ import annotations

from pathlib import Path

from modelrail.errors import ConfigError, Refused
from modelrail.files import load_json_object
from modelrail.identity import Identity, NoArtifact, read_identity
from modelrail.layout import Layout


def artifact_identity(repo: Path, layout: Layout) -> Identity:
    """The commit's artifact identity; a commit without a trained artifact is refused (exit 1), not misconfigured."""
    try:
        return read_identity(repo, layout)
    except NoArtifact as exc:
        raise Refused(str(exc)) from None


def required_gates(config: dict) -> list[str]:
    """The gates every artifact must have passed: modelrail.yaml `gates.required`, else the template's three."""
    from modelrail.config import DEFAULT_REQUIRED_GATES

    return list(config.get("gates", {}).get("required") or DEFAULT_REQUIRED_GATES)


def md5_of(path: Path) -> str:
    from modelrail.files import digests

    return digests(path.read_bytes())["md5"]


def check_gate_records(repo: Path, identity: Identity, required: list[str], layout: Layout) -> dict[str, dict]:
    """Every required gate has a record in dvc.lock; every record dvc.lock lists exists, is the one dvc.lock
    hashed (same pipeline run) and passed."""
    if not identity.gate_outs:
        raise Refused(
            f"{repo / 'dvc.lock'}: no gate record ({layout.gates}/*.json) among the outputs: nothing proves the gates "
            f"ran (required: {', '.join(required)}; {layout.key('gates')} is where the gate stages write them)"
        )
    results: dict[str, dict] = {}
    problems: list[str] = []
    recorded = {Path(path).stem for path in identity.gate_outs}
    for name in required:
        if name not in recorded:
            problems.append(
                f"{layout.gate_record(name)}: the required gate '{name}' (modelrail.yaml gates.required) has no "
                "record in dvc.lock: its stage did not run for this artifact (fix: restore the gate stage in dvc.yaml "
                "and `dvc repro`)"
            )
    for path, expected in sorted(identity.gate_outs.items()):
        file = repo / path
        if not file.is_file():
            problems.append(f"{path}: missing (dvc.lock lists it; commit the gate records with dvc.lock)")
            continue
        try:
            record, _ = load_json_object(file, "a gate record")
        except ConfigError as exc:
            problems.append(f"{path}: {str(exc).removeprefix(f'{file}: ')}")
            continue
        # A failed gate first: DVC does not lock a failed stage, so its record never matches dvc.lock either.
        actual, passed = md5_of(file), record.get("passed") is True
        if not passed:
            checks = record.get("checks") if isinstance(record.get("checks"), list) else []
            failed = [c.get("name") for c in checks if isinstance(c, dict) and not c.get("success")]
            problems.append(f"{path}: the {record.get('gate', '?')} gate failed ({', '.join(map(str, failed))})")
        elif actual != expected:
            problems.append(f"{path}: md5 {actual} is not the {expected} dvc.lock recorded: not this artifact's record")
        else:
            results[Path(path).stem] = {"path": path, "gate": record.get("gate"), "md5": actual, "passed": passed}
    if problems:
        raise Refused("gate records do not clear this artifact:\n  " + "\n  ".join(problems))
    return results
