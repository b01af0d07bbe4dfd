"""`modelrail gate model --target-env/--alias`: the champion comparison against a real (SQLite) MLflow registry."""

import json
import os

import pytest
from support.registry import sqlite_store_bytes

from modelrail.cli import main

CONFIG = """\
environments: [staging, production]
mlflow:
  tracking_uri: sqlite:///registry.db
  registered_model: clf
gates:
  model:
    thresholds:
      accuracy: {min: 0.8}
      log_loss: {max: 0.5}
    champion:
      tolerance: 0.01
      metrics: [accuracy, log_loss]
      when_missing: WHEN
"""


@pytest.fixture
def repo(workdir, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    (workdir / "modelrail.yaml").write_text(CONFIG.replace("WHEN", "thresholds-only"))
    return workdir


if "MUTANT_UNDER_TEST" in os.environ:
    sqlite_store_bytes()  # made in mutmut's fork server, which imports this module once; each mutant inherits it


@pytest.fixture
def champion(repo):
    """Version 1 of `clf`, behind alias `staging`, whose run logged test_accuracy 0.92 and test_log_loss 0.2."""
    from mlflow import MlflowClient

    (repo / "registry.db").write_bytes(sqlite_store_bytes())
    uri = f"sqlite:///{repo / 'registry.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("e", artifact_location=(repo / "artifacts").as_uri())
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "test_accuracy", 0.92)
    client.log_metric(run.info.run_id, "test_log_loss", 0.2)
    client.set_terminated(run.info.run_id)
    client.create_registered_model("clf")
    (repo / "model").mkdir()
    version = client.create_model_version("clf", str(repo / "model"), run_id=run.info.run_id)
    client.set_registered_model_alias("clf", "staging", version.version)
    return client


def gate(repo, metrics: dict, *args: str) -> int:
    (repo / "metrics.json").write_text(json.dumps(metrics))
    return main(["gate", "model", "--metrics", "metrics.json", *args])


def record(repo) -> dict:
    return json.loads((repo / "gates/model.json").read_text())


def test_as_good_as_the_champion_within_tolerance_passes(repo, champion):
    assert gate(repo, {"accuracy": 0.915, "log_loss": 0.2}, "--target-env", "staging") == 0
    saved = record(repo)
    assert saved["inputs"]["champion"]["version"] == "1" and saved["inputs"]["champion"]["alias"] == "staging"
    names = [check["name"] for check in saved["checks"]]
    assert names == ["threshold accuracy", "threshold log_loss", "champion accuracy", "champion log_loss"]
    # What the pull-request report's champion table shows, per metric: this value, the champion's, the change.
    details = {check["name"]: check["details"] for check in saved["checks"] if check["name"].startswith("champion")}
    assert details["champion accuracy"] == {
        "value": 0.915,
        "champion": 0.92,
        "tolerance": 0.01,
        "lower_is_better": False,
        "delta": pytest.approx(-0.005),
    }
    assert details["champion log_loss"]["lower_is_better"] is True and details["champion log_loss"]["delta"] == 0
    messages = {check["name"]: (check["message"], check["file"]) for check in saved["checks"]}
    assert messages["champion log_loss"] == (
        "log_loss = 0.2 vs 0.2 for clf v1 (@staging) (+0, tolerance 0.01)",
        "metrics.json",
    )


def test_worse_by_exactly_the_tolerance_still_passes(repo, champion):
    """The tolerance is inclusive: 0.45 against 0.2 is worse by exactly 0.25 (exact in binary floating point)."""
    (repo / "modelrail.yaml").write_text(CONFIG.replace("WHEN", "thresholds-only").replace("0.01", "0.25"))
    assert gate(repo, {"accuracy": 0.92, "log_loss": 0.45}, "--target-env", "staging") == 0
    assert gate(repo, {"accuracy": 0.92, "log_loss": 0.4500001}, "--target-env", "staging") == 1


def test_worse_than_the_champion_fails_naming_the_metric(repo, champion, capsys):
    # A pull request into main is judged against the first environment's champion.
    assert gate(repo, {"accuracy": 0.85, "log_loss": 0.2}, "--target-env", "main") == 1
    err = capsys.readouterr().err
    assert (
        "metrics.json: accuracy = 0.85 vs 0.92 for clf v1 (@staging) (-0.07, tolerance 0.01): "
        "worse than the champion by more than the tolerance"
    ) in err
    assert record(repo)["passed"] is False


@pytest.mark.parametrize("value", [True, "0.95"], ids=["a boolean", "text"])
def test_a_metric_that_is_not_a_number_cannot_beat_the_champion(repo, champion, capsys, value):
    assert gate(repo, {"accuracy": value, "log_loss": 0.2}, "--target-env", "staging") == 1
    checks = {check["name"]: check for check in record(repo)["checks"]}
    compared = checks["champion accuracy"]
    assert compared["success"] is False and compared["file"] == "metrics.json"
    assert compared["message"] == (
        "metrics.json: metric 'accuracy' is missing or not a number, so it cannot be compared with clf v1 (@staging)"
    )
    assert compared["details"]["value"] == value and compared["details"]["champion"] == 0.92
    assert checks["champion log_loss"]["success"] is True


def test_a_champion_without_the_metric_fails_closed(repo, champion):
    """The champion's run never logged log_loss: nothing to compare with, so the gate cannot pass."""
    experiment = champion.get_experiment_by_name("e").experiment_id
    run = champion.create_run(experiment)
    champion.log_metric(run.info.run_id, "test_accuracy", 0.9)
    champion.set_terminated(run.info.run_id)
    version = champion.create_model_version("clf", str(repo / "model"), run_id=run.info.run_id)
    champion.set_registered_model_alias("clf", "production", version.version)
    assert gate(repo, {"accuracy": 0.95, "log_loss": 0.1}, "--target-env", "production") == 1
    checks = {check["name"]: check for check in record(repo)["checks"]}
    assert checks["champion accuracy"]["success"] is True
    missing = checks["champion log_loss"]
    assert missing["success"] is False and missing["details"]["champion"] is None
    assert missing["message"] == (
        f"clf v2 (@production) has no metric 'test_log_loss' on its run {run.info.run_id} "
        "(fix: its evaluate stage must log it; the gate fails closed)"
    )


def test_lower_is_better_for_a_metric_with_only_a_max_threshold(repo, champion, capsys):
    assert gate(repo, {"accuracy": 0.95, "log_loss": 0.3}, "--alias", "staging") == 1
    assert "log_loss = 0.3 vs 0.2 for clf v1 (@staging) (+0.1, tolerance 0.01)" in capsys.readouterr().err


def test_no_champion_yet_follows_when_missing(repo, champion, capsys):
    assert gate(repo, {"accuracy": 0.9, "log_loss": 0.2}, "--target-env", "production") == 0
    assert "no model version behind clf@production yet: thresholds only" in capsys.readouterr().out
    (repo / "modelrail.yaml").write_text(CONFIG.replace("WHEN", "fail"))
    assert gate(repo, {"accuracy": 0.9, "log_loss": 0.2}, "--target-env", "production") == 1
    assert "when_missing is 'fail'" in capsys.readouterr().err


def test_an_unreachable_registry_fails_closed(repo, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://user:secret@127.0.0.1:9")
    assert gate(repo, {"accuracy": 0.95, "log_loss": 0.2}, "--target-env", "staging") == 1
    err = capsys.readouterr().err
    assert "MLflow registry at http://***@127.0.0.1:9 could not be asked for clf@staging" in err
    assert "fails closed" in err and "secret" not in err
    # The cause, first line only: what was asked and why it could not answer.
    cause = err.split("could not be asked for clf@staging: ", 1)[1]
    assert cause.startswith("API request to http://***@127.0.0.1:9/") and "port=9" in cause, cause
    assert record(repo)["passed"] is False


def test_without_a_target_only_thresholds_are_checked(repo):
    assert gate(repo, {"accuracy": 0.9, "log_loss": 0.2}) == 0
    assert "champion" not in record(repo)["inputs"]


def test_an_unknown_target_environment_is_a_configuration_error(repo, capsys):
    assert gate(repo, {"accuracy": 0.9, "log_loss": 0.2}, "--target-env", "feature-x") == 2
    assert (
        "modelrail.yaml: key 'environments': target environment 'feature-x' is neither an environment "
        "(staging, production) nor a development branch (main, master)"
    ) in capsys.readouterr().err


@pytest.mark.parametrize(
    ("champion_yaml", "expected"),
    [
        ("{tolerance: -0.1}", "'gates.model.champion.tolerance' must be 0 or more"),
        ("{when_missing: maybe}", "'gates.model.champion.when_missing' must be one of thresholds-only, fail"),
        ("{metrics: accuracy}", "'gates.model.champion.metrics' must be a list"),
        ("{tolerence: 0.1}", "unknown key 'gates.model.champion.tolerence'"),
    ],
)
def test_a_bad_champion_section_names_the_key(repo, capsys, champion_yaml, expected):
    text = "environments: [staging]\ngates:\n  model:\n    thresholds: {accuracy: {min: 0.8}}\n"
    (repo / "modelrail.yaml").write_text(text + f"    champion: {champion_yaml}\n")
    assert gate(repo, {"accuracy": 0.9}, "--alias", "staging") == 2
    assert expected in capsys.readouterr().err


REGRESSION = """\
environments: [staging, production]
mlflow:
  tracking_uri: sqlite:///registry.db
  registered_model: clf
gates:
  model:
    thresholds:
      r2: {min: 0.3}
      rmse: {max: 60}
    champion:
      metrics: [r2, rmse]
"""


def test_a_changed_metric_set_without_a_word_fails_closed(repo, champion, capsys):
    (repo / "modelrail.yaml").write_text(REGRESSION)
    assert gate(repo, {"r2": 0.45, "rmse": 54.0}, "--target-env", "staging") == 1
    assert record(repo)["passed"] is False


def test_not_comparable_says_why_and_the_report_shows_it(repo, champion, capsys):
    reason = "classification -> regression: the champion's accuracy does not apply"
    (repo / "modelrail.yaml").write_text(REGRESSION + f"      not_comparable: {json.dumps(reason)}\n")
    assert gate(repo, {"r2": 0.45, "rmse": 54.0}, "--target-env", "staging") == 0
    saved = record(repo)
    assert saved["inputs"]["champion"]["not_comparable"] == reason
    assert "the champion has no r2, rmse" in capsys.readouterr().out
    # The thresholds still judge the model.
    assert gate(repo, {"r2": 0.1, "rmse": 54.0}, "--target-env", "staging") == 1

    from modelrail.markdown import escape
    from modelrail.report_records import Gate
    from modelrail.report_sections import champion

    assert gate(repo, {"r2": 0.45, "rmse": 54.0}, "--target-env", "staging") == 0
    text = "\n".join(champion([Gate("gates/model.json", record(repo), fresh=True)]))
    # The reason is the pull request's text: it reaches the comment escaped, as data.
    assert f"**⚠️ The champion's metrics no longer apply** (`not_comparable`): {escape(reason)}" in text


def test_not_comparable_cannot_switch_off_a_comparison_that_applies(repo, champion, capsys):
    (repo / "modelrail.yaml").write_text(CONFIG.replace("WHEN", "thresholds-only") + "      not_comparable: trust me\n")
    assert gate(repo, {"accuracy": 0.5, "log_loss": 0.2}, "--target-env", "staging") == 1
    assert "not_comparable is set, but clf@staging (version 1) has every metric" in capsys.readouterr().err


def test_the_record_names_the_champion_and_the_rules_it_was_judged_by(repo, champion):
    assert gate(repo, {"accuracy": 0.915, "log_loss": 0.2}, "--target-env", "staging") == 0
    version = champion.get_model_version("clf", "1")
    assert record(repo)["inputs"]["champion"] == {
        "alias": "staging",
        "registered_model": "clf",
        "tracking_uri": f"sqlite:///{repo / 'registry.db'}",
        "tolerance": 0.01,
        "when_missing": "thresholds-only",
        "version": "1",
        "run_id": version.run_id,
    }


def test_without_a_champion_section_every_threshold_metric_is_compared_with_no_tolerance(repo, champion):
    (repo / "modelrail.yaml").write_text(CONFIG.split("    champion:")[0])
    assert gate(repo, {"accuracy": 0.92, "log_loss": 0.2}, "--target-env", "staging") == 0
    saved = record(repo)
    assert [check["name"] for check in saved["checks"]][2:] == ["champion accuracy", "champion log_loss"]
    assert (saved["inputs"]["champion"]["tolerance"], saved["inputs"]["champion"]["when_missing"]) == (
        0.0,
        "thresholds-only",
    )
    assert gate(repo, {"accuracy": 0.9199, "log_loss": 0.2}, "--target-env", "staging") == 1
    # No champion yet: the default is to judge by the thresholds alone.
    assert gate(repo, {"accuracy": 0.9, "log_loss": 0.2}, "--target-env", "production") == 0


def test_an_empty_list_of_champion_metrics_is_refused(repo, capsys):
    (repo / "modelrail.yaml").write_text(CONFIG.replace("[accuracy, log_loss]", "[]").replace("WHEN", "fail"))
    assert gate(repo, {"accuracy": 0.9, "log_loss": 0.2}, "--target-env", "staging") == 2
    assert "modelrail.yaml: key 'gates.model.champion.metrics' names no metric to compare" in capsys.readouterr().err


@pytest.mark.parametrize(
    "cut", ["  registered_model: clf\n", "mlflow:\n  tracking_uri: sqlite:///registry.db\n  registered_model: clf\n"]
)
def test_the_champion_comparison_needs_a_registered_model(repo, capsys, cut):
    (repo / "modelrail.yaml").write_text(CONFIG.replace(cut, "").replace("WHEN", "fail"))
    assert gate(repo, {"accuracy": 0.9, "log_loss": 0.2}, "--target-env", "staging") == 2
    err = capsys.readouterr().err
    assert "modelrail.yaml: key 'mlflow.registered_model' is required for the champion comparison" in err


@pytest.mark.parametrize(
    ("alias", "shown"), [("staging; rm", "'staging; rm'"), ("a" * 256, repr("a" * 40)), ("", "''")]
)
def test_an_alias_mlflow_would_refuse_is_a_usage_error(repo, capsys, alias, shown):
    """A name MLflow rejects must not read as "no champion yet" (which passes with thresholds-only)."""
    assert gate(repo, {"accuracy": 0.9, "log_loss": 0.2}, "--alias", alias) == 2
    assert (
        f"--alias {shown} is not a name MLflow accepts for an alias (letters, digits, _ and -, at most 255; "
        "fix: pass the alias the environment uses, e.g. staging)"
    ) in capsys.readouterr().err
    assert not (repo / "gates").exists()


def test_an_alias_of_255_letters_digits_and_dashes_is_asked_for(repo, champion, capsys):
    alias = "Prod_1-" + "x" * 248
    assert gate(repo, {"accuracy": 0.9, "log_loss": 0.2}, "--alias", alias) == 0
    assert record(repo)["inputs"]["champion"]["alias"] == alias


def test_no_champion_yet_is_recorded_as_a_note_or_a_failure(repo, champion):
    assert gate(repo, {"accuracy": 0.9, "log_loss": 0.2}, "--target-env", "production") == 0
    saved = record(repo)
    assert saved["checks"][2:] == [
        {
            "name": "champion production",
            "success": True,
            "message": (
                "no model version behind clf@production yet: thresholds only "
                "(gates.model.champion.when_missing: thresholds-only)"
            ),
            "details": {"note": True},
        }
    ]
    assert (saved["inputs"]["champion"]["version"], saved["inputs"]["champion"]["run_id"]) == (None, None)
    (repo / "modelrail.yaml").write_text(CONFIG.replace("WHEN", "fail"))
    assert gate(repo, {"accuracy": 0.9, "log_loss": 0.2}, "--target-env", "production") == 1
    assert record(repo)["checks"][2:] == [
        {
            "name": "champion production",
            "success": False,
            "message": (
                "no model version behind clf@production yet: modelrail.yaml: gates.model.champion.when_missing is "
                "'fail' (fix: promote a first model version)"
            ),
        }
    ]


def test_not_comparable_is_recorded_whole_either_way(repo, champion):
    reason = "classification -> regression"
    (repo / "modelrail.yaml").write_text(REGRESSION + f"      not_comparable: {reason}\n")
    assert gate(repo, {"r2": 0.45, "rmse": 54.0}, "--target-env", "staging") == 0
    assert record(repo)["checks"][2:] == [
        {
            "name": "champion staging",
            "success": True,
            "message": (
                f"not compared with clf@staging (version 1): {reason} (gates.model.champion.not_comparable; "
                "the champion has no r2, rmse); the thresholds alone judge this model"
            ),
            "details": {"note": True},
        }
    ]
    (repo / "modelrail.yaml").write_text(
        CONFIG.replace("WHEN", "thresholds-only") + f"      not_comparable: {reason}\n"
    )
    assert gate(repo, {"accuracy": 0.95, "log_loss": 0.2}, "--target-env", "staging") == 1
    assert record(repo)["checks"][2:] == [
        {
            "name": "champion staging",
            "success": False,
            "message": (
                "modelrail.yaml: gates.model.champion.not_comparable is set, but clf@staging (version 1) has every "
                "metric of gates.model.champion.metrics (fix: remove gates.model.champion.not_comparable; the "
                "comparison applies)"
            ),
        }
    ]


def champion_version(client, repo, metrics: dict[str, float], alias: str = "production", run: bool = True) -> str:
    """Another version of `clf` behind `alias`, its run logging `metrics` (no run at all with run=False)."""
    run_id = None
    if run:
        run_id = client.create_run(client.get_experiment_by_name("e").experiment_id).info.run_id
        for name, value in metrics.items():
            client.log_metric(run_id, name, value)
        client.set_terminated(run_id)
    version = client.create_model_version("clf", str(repo / "model"), run_id=run_id)
    client.set_registered_model_alias("clf", alias, version.version)
    return run_id


def test_only_the_run_s_test_metrics_are_the_champion_s(repo, champion):
    """evaluate logs the test metrics as test_<name>; a training metric of the same name is not the champion's."""
    run_id = champion_version(champion, repo, {"test_accuracy": 0.9, "best_log_loss": 0.01, "log_loss": 0.01})
    assert gate(repo, {"accuracy": 0.95, "log_loss": 0.1}, "--target-env", "production") == 1
    checks = {check["name"]: check for check in record(repo)["checks"]}
    assert checks["champion accuracy"]["details"]["champion"] == 0.9
    assert checks["champion log_loss"]["message"] == (
        f"clf v2 (@production) has no metric 'test_log_loss' on its run {run_id} "
        "(fix: its evaluate stage must log it; the gate fails closed)"
    )


def test_a_champion_version_without_a_run_has_no_metrics_and_fails_closed(repo, champion):
    champion_version(champion, repo, {}, run=False)
    assert gate(repo, {"accuracy": 0.95, "log_loss": 0.1}, "--target-env", "production") == 1
    saved = record(repo)
    assert (saved["inputs"]["champion"]["version"], saved["inputs"]["champion"]["run_id"]) == ("2", None)
    failed = [check["message"] for check in saved["checks"] if not check["success"]]
    assert failed == [
        f"clf v2 (@production) has no metric 'test_{name}' on its run None "
        "(fix: its evaluate stage must log it; the gate fails closed)"
        for name in ("accuracy", "log_loss")
    ]


def test_a_champion_whose_run_is_gone_fails_closed_naming_the_run(repo, champion, capsys):
    import sqlite3

    run_id = champion_version(champion, repo, {"test_accuracy": 0.9, "test_log_loss": 0.2})
    with sqlite3.connect(repo / "registry.db") as db:  # the run is gone from the tracking store, the version stays
        db.execute("DELETE FROM runs WHERE run_uuid = ?", (run_id,))
    assert gate(repo, {"accuracy": 0.95, "log_loss": 0.1}, "--target-env", "production") == 1
    (check,) = record(repo)["checks"][2:]
    assert (check["name"], check["success"]) == ("champion registry", False)
    assert check["message"] == (
        f"MLflow registry at sqlite:///{repo / 'registry.db'} could not be asked for clf@production: "
        f"run {run_id} of version 2: Run with id={run_id} not found "
        "(fix: check that the tracking server is up and MLFLOW_TRACKING_URI is right; the gate fails closed)"
    )


def test_without_mlflow_the_comparison_fails_closed(repo, monkeypatch):
    import sys

    for module in ("mlflow", "mlflow.exceptions"):  # as if not installed: importing it raises ImportError
        monkeypatch.setitem(sys.modules, module, None)
    assert gate(repo, {"accuracy": 0.95, "log_loss": 0.1}, "--target-env", "staging") == 1
    (check,) = record(repo)["checks"][2:]
    assert check["message"] == (
        f"MLflow registry at sqlite:///{repo / 'registry.db'} could not be asked for clf@staging: mlflow is not "
        "installed (import of mlflow.exceptions halted; None in sys.modules) (fix: check that the tracking server "
        "is up and MLFLOW_TRACKING_URI is right; the gate fails closed)"
    )


@pytest.mark.parametrize(
    ("uri", "cause"),
    [
        ("unknown://host", "Model registry functionality is unavailable; got unsupported URI 'unknown://host'"),
        ("file:///tmp/mlruns", "The filesystem tracking backend (e.g., './mlruns') is in maintenance mode"),
    ],
)
def test_a_registry_uri_mlflow_cannot_open_fails_closed(repo, monkeypatch, uri, cause):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert gate(repo, {"accuracy": 0.95, "log_loss": 0.1}, "--target-env", "staging") == 1
    (check,) = record(repo)["checks"][2:]
    assert check["message"].startswith(f"MLflow registry at {uri} could not be asked for clf@staging: {cause}")


def test_a_champion_metric_that_is_not_a_number_cannot_be_compared(repo, champion):
    """MLflow stores NaN (infinity it clamps to the largest float), and NaN compares false both ways: no verdict."""
    best = float("nan")
    champion_version(champion, repo, {"test_accuracy": 0.9, "test_log_loss": best})
    assert gate(repo, {"accuracy": 0.95, "log_loss": 0.1}, "--target-env", "production") == 1
    checks = {check["name"]: check for check in record(repo)["checks"]}
    assert checks["champion accuracy"]["success"] is True
    assert checks["champion log_loss"] == {
        "name": "champion log_loss",
        "success": False,
        "message": (
            f"log_loss: not a finite number (0.1 here, {best} for clf v2 (@production)), so it cannot be compared "
            "(the gate fails closed)"
        ),
        "file": "metrics.json",
        "details": {"value": 0.1, "champion": str(best), "tolerance": 0.01, "lower_is_better": True},
    }


def test_a_champion_metric_without_a_threshold_is_compared_as_higher_is_better(repo, champion):
    # Only a metric with nothing but a `max` threshold is lower-is-better; one without a threshold is not.
    config = CONFIG.replace("WHEN", "thresholds-only").replace("      log_loss: {max: 0.5}\n", "")
    (repo / "modelrail.yaml").write_text(config)
    assert gate(repo, {"accuracy": 0.95, "log_loss": 0.3}, "--alias", "staging") == 0
    checks = {check["name"]: check for check in record(repo)["checks"]}
    assert list(checks) == ["threshold accuracy", "champion accuracy", "champion log_loss"]
    assert checks["champion log_loss"]["success"] is True
    assert (
        checks["champion log_loss"]["message"] == "log_loss = 0.3 vs 0.2 for clf v1 (@staging) (+0.1, tolerance 0.01)"
    )
