"""One handler per command: call its module, write its step outputs, print its lines; return the exit code."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from modelrail import github
from modelrail.errors import ConfigError

PASSED, FAILED, UNEXPECTED = 0, 1, 3


def gate_data(args: argparse.Namespace) -> int:
    from modelrail.config import load_config
    from modelrail.engines import choose
    from modelrail.gates import data as data_gate

    config_path = _config_path(args.config)
    config = load_config(config_path) if config_path is not None else {}
    engine = choose(args.engine, config.get("gates", {}), "data")
    record = args.record or _gates() / f"{args.suite.stem}.json"
    result = data_gate.run(args.data, args.suite, record, args.summary or record.with_suffix(".md"), engine, config)
    return _report(result)


def _layout():
    """The layout of the model repo in the working directory (modelrail.yaml's `paths:`, else the defaults)."""
    from modelrail.layout import load_layout

    return load_layout(Path("."))


def _gates() -> Path:
    """Where a gate's record goes unless --record says: the layout's gate records folder."""
    return Path(_layout().gates)


def _config_path(given: Path | None) -> Path | None:
    """--config, else modelrail.yaml in the working directory if there is one (a model repo's root)."""
    return given if given is not None or not Path("modelrail.yaml").is_file() else Path("modelrail.yaml")


def gate_model(args: argparse.Namespace) -> int:
    from modelrail.gates import model as model_gate

    record = args.record or _gates() / "model.json"
    summary = args.summary or record.with_suffix(".md")
    result = model_gate.run(args.metrics, args.config, record, summary, args.target_env, args.alias)
    return _report(result)


def suite_init(args: argparse.Namespace) -> int:
    from modelrail.gates import suite_init as drafting

    draft = drafting.run(args.data, args.out, args.name, args.force)
    print(f"Drafted {len(draft.expectations)} expectations into {draft.path}: review them before you commit.")
    return PASSED


def drift(args: argparse.Namespace) -> int:
    from modelrail.gates import drift as drift_gate

    config = _config_path(args.config)
    record = args.record or _gates() / "drift.json"
    summary = args.summary or record.with_suffix(".md")
    result = drift_gate.run(
        args.reference, args.current, args.suite, config, record, summary, args.save_profile, engine=args.engine
    )
    if github.in_actions():  # the outputs the drift action promises (the exit code alone cannot tell them)
        github.write(
            {
                "passed": str(result.passed).lower(),
                "drifted": str(result.drifted).lower(),
                "report-path": str(result.summary_path),
                "record-path": str(result.record_path),
            }
        )
    return _report(result)


def pull_request_report(args: argparse.Namespace) -> int:
    from modelrail import report

    since = _epoch(args.since) if args.since else None
    result = report.run(args.out, args.base or None, args.gates, args.pipeline_outcome, since)
    print(result.markdown, end="")
    print(f"Report: {result.path}")
    return PASSED if result.passed else FAILED


def non_negative(text: str) -> float | None:
    """`text` as a finite number, 0 or more; None when it is not one (the CLI's numbers: --since, --tolerance...)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _epoch(text: str) -> float:
    value = non_negative(text)
    if value is None:
        raise ConfigError(f"--since {text[:40]!r}: must be epoch seconds, e.g. $(date +%s) when the pipeline started")
    return value


def verify(args: argparse.Namespace) -> int:
    from modelrail.trust import verify as verifier

    record = args.record or _gates() / "verify.json"
    result = verifier.run(Path("."), record, args.summary or record.with_suffix(".md"), args.stage or None)
    return _report(result)


def new(args: argparse.Namespace) -> int:
    from modelrail import new

    new.run(args.template, args.output_dir)
    return PASSED


def containerize_build(args: argparse.Namespace) -> int:
    from modelrail.container import build as container_build

    result = container_build.run(Path("."), args.dockerfile, args.base_image, args.model_version)
    github.write({"image-id": result.image_id, "image": result.references[-1]})
    print(f"Built {result.image_id} in {result.seconds:.0f}s, tagged {', '.join(result.references)}")
    return PASSED


def containerize_smoke(args: argparse.Namespace) -> int:
    from modelrail.container import smoke as container_smoke
    from modelrail.identity import load_artifact

    layout = _layout()
    if args.image:
        image = args.image
    else:
        artifact = load_artifact(Path("."))
        image = f"{artifact.project}:{artifact.model_tag}"
    record = args.record or Path(layout.gates) / "container.json"
    result = container_smoke.run(
        image,
        args.model or Path(layout.model),
        args.sample or Path(layout.test_data),
        args.suite or Path(layout.prediction_suite),
        record,
        args.summary or record.with_suffix(".md"),
        Path("build/containerize/predictions.csv"),
        rows=args.rows,
        tolerance=args.tolerance,
        timeout=args.timeout,
    )
    github.write({"passed": str(result.passed).lower()})
    return _report(result)


def containerize_push(args: argparse.Namespace) -> int:
    from modelrail.container import push as container_push

    result = container_push.run(Path("."), args.image, args.registry)
    github.write({"digest": result.digest, "image": f"{result.repository}@{result.digest}"})
    if result.skipped:
        print(f"Not pushed: the registry already has {result.references[0]}, kept as it is")
    else:
        print(f"Pushed {', '.join(result.references)}")
    print(f"digest={result.digest}")
    return PASSED


def containerize_published(args: argparse.Namespace) -> int:
    from modelrail.container import push as container_push

    reference, digest = container_push.published(Path("."), args.registry)
    github.write({"exists": "true" if digest else "false", "digest": digest or ""})
    print(f"{reference}: {'in the registry at ' + digest if digest else 'not in the registry'}")
    return PASSED


def template_check(args: argparse.Namespace) -> int:
    from modelrail.trust import template_answers

    try:
        count = template_answers.check(args.file, args.template)
    except template_answers.MarkupError as exc:
        raise ConfigError(str(exc)) from None
    print(f"{args.file}: {count} answers, none holds template markup")
    return PASSED


def register(args: argparse.Namespace) -> int:
    from modelrail.release import register

    result = register.run(Path("."))
    github.write({"model-version": result.model_version, "content-hash": result.content_hash})
    print(f"Tagged {result.registered_model} v{result.model_version} with content hash {result.content_hash}")
    return PASSED


def promote(args: argparse.Namespace) -> int:
    from modelrail.release import promote

    result = promote.run(Path("."), args.env, _release_options(args), args.registry, args.approved_sha)
    return _release(result)


def rollback(args: argparse.Namespace) -> int:
    from modelrail.release import rollback

    result = rollback.run(Path("."), args.env, _release_options(args), args.to, args.reject)
    return _release(result)


def _release_options(args: argparse.Namespace):
    from modelrail.release.steps import Options

    return Options(image=not args.no_image, allow_rejected=args.allow_rejected, push_to=args.push or None)


def _release(result) -> int:

    digest = ((result.record or {}).get("image") or {}).get("digest") or ""
    github.write(
        {
            "model-version": result.model_version,
            "content-hash": result.content_hash,
            "digest": digest,
            "changed": str(result.changed).lower(),
            "commit": result.commit or "",
        }
    )
    verb = "released" if result.changed else "unchanged"
    print(f"{result.env}: {verb} ({result.kind}) v{result.model_version} content {result.content_hash}")
    return PASSED


def _report(result) -> int:
    from modelrail.gates.records import render_terminal

    out, failures = render_terminal(result)
    print("\n".join(out))
    for _, message in failures:
        print(f"ERROR: {result.gate} gate: {message}", file=sys.stderr)
    return PASSED if result.passed else FAILED
