"""The `modelrail` command line: parse, dispatch to one module per command, map results to exit codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelrail import __version__
from modelrail.errors import ModelrailError

PASSED, FAILED = 0, 1


def _gate_data(args: argparse.Namespace) -> int:
    from modelrail import data_gate

    record = args.record or Path("gates") / f"{args.suite.stem}.json"
    result = data_gate.run(args.data, args.suite, record, args.summary or record.with_suffix(".md"))
    return _report(result)


def _gate_model(args: argparse.Namespace) -> int:
    from modelrail import model_gate

    record = args.record or Path("gates/model.json")
    result = model_gate.run(args.metrics, args.config, record, args.summary or record.with_suffix(".md"))
    return _report(result)


def _suite_init(args: argparse.Namespace) -> int:
    from modelrail import suite_init

    draft = suite_init.run(args.data, args.out, args.name, args.force)
    print(f"Drafted {len(draft.expectations)} expectations into {draft.path}: review them before you commit.")
    return PASSED


def _report(result) -> int:
    print(result.summary_path.read_text(encoding="utf-8"), end="")
    for check in result.failures:
        print(f"ERROR: {result.gate} gate: {check.message}", file=sys.stderr)
    print(f"Gate record: {result.record_path}")
    return PASSED if result.passed else FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelrail",
        description="Gate every stage of a model repo on data quality.",
        epilog="Exit codes: 0 passed, 1 a gate failed, 2 usage or configuration error.",
    )
    parser.add_argument("--version", action="version", version=f"modelrail {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gate = commands.add_parser("gate", help="run a gate and write its record").add_subparsers(
        dest="gate", required=True, metavar="GATE"
    )
    data = gate.add_parser("data", help="validate CSV or Parquet files against an expectation suite")
    data.add_argument("--data", type=Path, action="append", required=True, help="data file (repeatable)")
    data.add_argument("--suite", type=Path, required=True, help="GX suite JSON, e.g. expectations/raw.json")
    data.add_argument("--record", type=Path, help="gate record JSON (default: gates/<suite name>.json)")
    data.add_argument("--summary", type=Path, help="Markdown summary (default: the record with .md)")
    data.set_defaults(handler=_gate_data)

    model = gate.add_parser("model", help="check evaluation metrics against modelrail.yaml thresholds")
    model.add_argument("--metrics", type=Path, required=True, help="metrics JSON, e.g. metrics/metrics.json")
    model.add_argument("--config", type=Path, default=Path("modelrail.yaml"), help="default: modelrail.yaml")
    model.add_argument("--record", type=Path, help="gate record JSON (default: gates/model.json)")
    model.add_argument("--summary", type=Path, help="Markdown summary (default: the record with .md)")
    model.set_defaults(handler=_gate_model)

    suite = commands.add_parser("suite", help="work with expectation suites").add_subparsers(
        dest="suite", required=True, metavar="ACTION"
    )
    init = suite.add_parser("init", help="draft a suite from a data file, for review")
    init.add_argument("--data", type=Path, required=True, help="CSV or Parquet file to profile")
    init.add_argument("--out", type=Path, required=True, help="suite JSON to write, e.g. expectations/raw.json")
    init.add_argument("--name", help="suite name (default: the file name)")
    init.add_argument("--force", action="store_true", help="overwrite an existing suite")
    init.set_defaults(handler=_suite_init)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ModelrailError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return exc.exit_code
