"""The `modelrail` command line: parse, dispatch to one handler per command (commands.py), map errors to exit codes."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from modelrail import __version__, commands, github
from modelrail.commands import non_negative
from modelrail.errors import ModelrailError
from modelrail.markdown import escape

UNEXPECTED = commands.UNEXPECTED
# Process-wide settings of the libraries the commands drive, set by the program (never by library code), and only
# where the environment does not set them: a gate must answer in reasonable time, and MLflow's defaults retry a dead
# server for minutes.
LIBRARY_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def _finite(text: str) -> float:
    """argparse type: a finite number, 0 or more (an infinite tolerance would pass any prediction)."""
    value = non_negative(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a finite number, 0 or more")
    return value


def _positive(text: str) -> int:
    """argparse type: a whole number, 1 or more (0 rows would compare no prediction at all)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number, 1 or more")
    return int(text)


def _release_options(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument(
        "--env",
        default=env("MODELRAIL_ENV") or None,
        required=not env("MODELRAIL_ENV"),
        help="environment branch, e.g. staging (default: MODELRAIL_ENV)",
    )
    parser.add_argument(
        "--registry",
        default=env("MODELRAIL_REGISTRY") or None,
        help="image registry/namespace (default: MODELRAIL_REGISTRY, else modelrail.yaml's container_registry)",
    )
    parser.add_argument(
        "--no-image",
        action="store_true",
        default=env("MODELRAIL_NO_IMAGE") == "true",
        help="move only the registry alias and the record (no image tag, no manifests); for repos without images",
    )
    parser.add_argument(
        "--allow-rejected", action="store_true", help="override: release a version marked rejected, on purpose"
    )
    parser.add_argument(
        "--push", default=env("MODELRAIL_PUSH") or None, help="git remote to push the release commit to, e.g. origin"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="modelrail",
        description="Gate every stage of a model repo on data quality.",
        epilog="Exit codes: 0 passed, 1 a gate failed, 2 usage or configuration error, 3 an unexpected error "
        "(MODELRAIL_DEBUG=1 prints its traceback).",
    )
    parser.add_argument("--version", action="version", version=f"modelrail {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gate = subcommands.add_parser("gate", help="run a gate and write its record").add_subparsers(
        dest="gate", required=True, metavar="GATE"
    )
    data = gate.add_parser("data", help="validate CSV or Parquet files against an expectation suite")
    data.add_argument("--data", type=Path, action="append", required=True, help="data file (repeatable)")
    data.add_argument("--suite", type=Path, required=True, help="GX suite JSON, e.g. expectations/raw.json")
    data.add_argument("--record", type=Path, help="gate record JSON (default: <paths.gates>/<suite name>.json)")
    data.add_argument("--summary", type=Path, help="Markdown summary (default: the record with .md)")
    data.add_argument(
        "--engine",
        choices=("pandas", "spark"),
        help="validate with pandas or Spark (default: gates.data.engine in modelrail.yaml, else pandas)",
    )
    data.add_argument("--config", type=Path, help="modelrail.yaml to read (default: modelrail.yaml if present)")
    data.set_defaults(handler=commands.gate_data, doing="validating data against the suite")

    model = gate.add_parser("model", help="check evaluation metrics against modelrail.yaml thresholds")
    model.add_argument("--metrics", type=Path, required=True, help="metrics JSON, e.g. metrics/metrics.json")
    model.add_argument("--config", type=Path, default=Path("modelrail.yaml"), help="default: modelrail.yaml")
    model.add_argument("--record", type=Path, help="gate record JSON (default: <paths.gates>/model.json)")
    model.add_argument("--summary", type=Path, help="Markdown summary (default: the record with .md)")
    champion = model.add_mutually_exclusive_group()
    champion.add_argument(
        "--target-env", help="also compare with the champion of this environment or base branch, e.g. staging, main"
    )
    champion.add_argument("--alias", help="also compare with the model version behind this MLflow alias")
    model.set_defaults(handler=commands.gate_model, doing="checking metrics against thresholds and the champion")

    report = subcommands.add_parser("report", help="write the pull-request report: gates, metrics diff, champion")
    report.add_argument("--base", help="base branch to diff against, e.g. main (default: no diff)")
    report.add_argument("--out", type=Path, default=Path("modelrail-report.md"), help="default: modelrail-report.md")
    report.add_argument("--gates", type=Path, help="folder of gate records (default: modelrail.yaml's paths.gates)")
    report.add_argument(
        "--pipeline-outcome",
        default="success",
        help="outcome of the pipeline step (success, failure, cancelled, skipped); anything but success fails",
    )
    report.add_argument(
        "--since", help="epoch seconds when the pipeline started: records written since then are this run's"
    )
    report.set_defaults(handler=commands.pull_request_report, doing="writing the pull-request report")

    verify = subcommands.add_parser(
        "verify", help="re-hash DVC outputs against dvc.lock and re-derive every gate; compare with the records"
    )
    verify.add_argument("--stage", action="append", help="re-derive only this gate stage of dvc.yaml (repeatable)")
    verify.add_argument("--record", type=Path, help="its own gate record (default: <paths.gates>/verify.json)")
    verify.add_argument("--summary", type=Path, help="Markdown summary (default: the record with .md)")
    verify.set_defaults(handler=commands.verify, doing="re-deriving the gates from the content")

    suite = subcommands.add_parser("suite", help="work with expectation suites").add_subparsers(
        dest="suite", required=True, metavar="ACTION"
    )
    init = suite.add_parser("init", help="draft a suite from data files, for review")
    init.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="CSV or Parquet file to profile; repeat it for every file the suite must fit (e.g. train and test)",
    )
    init.add_argument("--out", type=Path, required=True, help="suite JSON to write, e.g. expectations/raw.json")
    init.add_argument("--name", help="suite name (default: the file name)")
    init.add_argument("--force", action="store_true", help="overwrite an existing suite")
    init.set_defaults(handler=commands.suite_init, doing="drafting a suite from the data file")

    drift = subcommands.add_parser("drift", help="compare current data with a reference, column by column; gate on it")
    drift.add_argument(
        "--reference",
        type=Path,
        required=True,
        help="data the model was trained on (file or folder), or its profile saved with --save-profile (.json)",
    )
    drift.add_argument("--save-profile", type=Path, help="also save the reference's profile here, for later runs")
    drift.add_argument(
        "--current", type=Path, required=True, help="newest data: a CSV/Parquet file or a folder of prediction logs"
    )
    drift.add_argument("--suite", type=Path, help="also run this suite on the current data, e.g. expectations/raw.json")
    drift.add_argument(
        "--engine",
        choices=("pandas", "spark"),
        help="count the current data with pandas (streamed) or Spark (default: drift.engine, else pandas)",
    )
    drift.add_argument("--config", type=Path, help="thresholds under `drift:` (default: modelrail.yaml if present)")
    drift.add_argument("--record", type=Path, help="gate record JSON (default: <paths.gates>/drift.json)")
    drift.add_argument("--summary", type=Path, help="Markdown report (default: the record with .md)")
    drift.set_defaults(handler=commands.drift, doing="comparing current data with the reference")
    containerize = subcommands.add_parser("containerize", help="build, smoke-test and push the serving image")
    steps = containerize.add_subparsers(dest="step", required=True, metavar="STEP")
    image_help = "image to use (default: MODELRAIL_IMAGE, else <project>:model-<content hash> from dvc.lock)"
    build = steps.add_parser("build", help="build the image from the Dockerfile, tagged sha-<commit>, model-<hash>")
    build.add_argument("--dockerfile", default="Dockerfile", help="default: Dockerfile")
    build.add_argument(
        "--base-image", default=os.environ.get("MODELRAIL_BASE_IMAGE") or None, help="BASE_IMAGE build argument"
    )
    build.add_argument(
        "--model-version",
        default=os.environ.get("MODELRAIL_MODEL_VERSION") or None,
        help="label value (default: the MLflow run id in the run record, paths.run_record)",
    )
    build.set_defaults(handler=commands.containerize_build, doing="building the serving image")
    smoke = steps.add_parser("smoke", help="gate: run the image offline, check health, predictions, bad requests")
    smoke.add_argument("--image", default=os.environ.get("MODELRAIL_IMAGE") or None, help=image_help)
    smoke.add_argument("--model", type=Path, help="in-process reference model (default: paths.model)")
    smoke.add_argument("--sample", type=Path, help="golden sample file (default: paths.test_data)")
    smoke.add_argument("--rows", type=_positive, default=50, help="rows of the golden sample (default: 50)")
    smoke.add_argument("--suite", type=Path, help="predictions suite (default: paths.prediction_suite)")
    smoke.add_argument("--tolerance", type=_finite, default=1e-6, help="absolute tolerance (default: 1e-6)")
    smoke.add_argument("--timeout", type=_finite, default=120.0, help="seconds to wait for health (default: 120)")
    smoke.add_argument("--record", type=Path, help="gate record JSON (default: <paths.gates>/container.json)")
    smoke.add_argument("--summary", type=Path, help="Markdown summary (default: the record with .md)")
    smoke.set_defaults(handler=commands.containerize_smoke, doing="smoke-testing the serving image")
    push = steps.add_parser("push", help="push the image with both tags; print the digest")
    push.add_argument("--image", default=os.environ.get("MODELRAIL_IMAGE") or None, help=image_help)
    push_registry = "registry/namespace (default: MODELRAIL_REGISTRY, else modelrail.yaml's container_registry)"
    push.add_argument("--registry", default=os.environ.get("MODELRAIL_REGISTRY") or None, help=push_registry)
    push.set_defaults(handler=commands.containerize_push, doing="pushing the serving image")
    published = steps.add_parser(
        "published", help="is model-<content hash> already in the registry? (outputs exists, digest)"
    )
    published.add_argument("--registry", default=os.environ.get("MODELRAIL_REGISTRY") or None, help=push_registry)
    published.set_defaults(handler=commands.containerize_published, doing="looking the image up in the registry")

    template = subcommands.add_parser("template", help="work with the template the repository was made from")
    template_steps = template.add_subparsers(dest="step", required=True, metavar="ACTION")
    template_check = template_steps.add_parser(
        "check", help="refuse template markup in .cruft.json's answers (run before `cruft update`)"
    )
    template_check.add_argument("--file", type=Path, default=Path(".cruft.json"), help="default: .cruft.json")
    template_check.add_argument("--template", help="the template source .cruft.json must record (default: any)")
    template_check.set_defaults(handler=commands.template_check, doing="checking the template answers")

    new = subcommands.add_parser("new", help="bake a new model repo: each question checked as it is answered")
    new.add_argument("--template", type=Path, help="template checkout (default: the one this modelrail runs from)")
    new.add_argument(
        "--output-dir", type=Path, help="where the repo goes (default: here, or next to the template when inside it)"
    )
    new.set_defaults(handler=commands.new, doing="baking a new model repo")

    register = subcommands.add_parser("register", help="tag the trained model version with its content identity")
    register.set_defaults(handler=commands.register, doing="tagging the model version in the registry")
    promote = subcommands.add_parser("promote", help="release this commit's gated artifact to an environment")
    _release_options(promote)
    promote.add_argument(
        "--approved-sha",
        default=os.environ.get("MODELRAIL_APPROVED_SHA") or None,
        help="refuse unless HEAD is this commit or only release commits follow it "
        "(default: MODELRAIL_APPROVED_SHA; the promote workflow passes the pushed commit)",
    )
    promote.set_defaults(handler=commands.promote, doing="promoting to the environment")
    rollback = subcommands.add_parser("rollback", help="bring back an environment's earlier release")
    _release_options(rollback)
    rollback.add_argument("--to", help="model version to restore (default: the release before the current one)")
    rollback.add_argument("--reject", action="store_true", help="mark the version rolled back from as rejected")
    rollback.set_defaults(handler=commands.rollback, doing="rolling back the environment")
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors also annotated inside GitHub Actions (exit 2, as argparse does)."""

    def error(self, message: str):

        github.error(f"{self.prog}: {message}")
        github.summary(f"- ❌ `{self.prog}`: usage error: {escape(message)}")
        super().error(message)


def _fail(command: str, message: str, code: int) -> int:
    """A failure that is not a gate's verdict: one line on stderr, and the annotation and summary line in Actions."""

    print(f"ERROR: {message}", file=sys.stderr)
    github.error(f"modelrail {command}: {message}")
    github.summary(f"- ❌ modelrail {command} (exit {code}): {escape(message, limit=1000)}")
    return code


def main(argv: list[str] | None = None) -> int:
    """Run one command; map its outcome to 0 passed, 1 gate failed, 2 usage or configuration, 3 unexpected."""
    args = build_parser().parse_args(argv)
    for name, value in LIBRARY_DEFAULTS.items():
        os.environ.setdefault(name, value)
    command = " ".join(
        getattr(args, key) for key in ("command", "gate", "suite", "step") if isinstance(getattr(args, key, None), str)
    )
    try:
        return args.handler(args)
    except ModelrailError as exc:
        return _fail(command, str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail(command, "interrupted", UNEXPECTED)
    except Exception as exc:  # the one place an unexpected error becomes exit 3, not a traceback
        if os.environ.get("MODELRAIL_DEBUG") == "1":
            traceback.print_exc()
        reason = " ".join(str(exc).split())[:200]
        message = (
            f"unexpected {type(exc).__name__} while {args.doing}"
            f"{': ' + reason if reason else ''} (re-run with MODELRAIL_DEBUG=1 for the traceback)"
        )
        return _fail(command, message, UNEXPECTED)
