import pytest

from modelrail.config import load_config
from modelrail.errors import ConfigError
from modelrail.layout import PATHS, Layout, layout_of, load_layout

VALID = """\
project: demo
environments: [staging, production]
mlflow: {tracking_uri: "sqlite:///mlflow.db", experiment: demo, registered_model: demo}
gates: {model: {thresholds: {accuracy: {min: 0.9}}}}
"""


def write(tmp_path, text):
    path = tmp_path / "modelrail.yaml"
    path.write_text(text)
    return path


def test_a_valid_config_loads(tmp_path):
    config = load_config(write(tmp_path, VALID))
    assert config["environments"] == ["staging", "production"]
    assert config["gates"]["model"]["thresholds"]["accuracy"] == {"min": 0.9}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (VALID + "colour: blue\n", "unknown key 'colour'"),
        (VALID.replace("experiment: demo", "experment: demo"), "unknown key 'mlflow.experment'"),
        (VALID.replace("{min: 0.9}", "{min: high}"), "key 'gates.model.thresholds.accuracy.min' must be a number"),
        (VALID.replace("{min: 0.9}", "{minimum: 0.9}"), "unknown key 'gates.model.thresholds.accuracy.minimum'"),
        (VALID.replace("{min: 0.9}", "{min: 0.9, max: 0.5}"), "min is greater than max"),
        (VALID.replace("[staging, production]", "staging"), "key 'environments' must be a list"),
        (VALID.replace("[staging, production]", "[staging, 7]"), "key 'environments[1]' must be a string"),
        (VALID.replace("[staging, production]", "[staging, staging]"), "'staging' is listed twice"),
        (VALID.replace("[staging, production]", "[main, production]"), "'main' is the development branch"),
        (VALID.replace("[staging, production]", "[]"), "at least one environment"),
        (VALID.replace("[staging, production]", "[Bad Name]"), "not a valid branch name"),
        (VALID.replace("environments: [staging, production]\n", ""), "key 'environments' is required"),
        ("environments: [staging\n", "not valid YAML at line"),
        ("- a list\n", "must be a mapping"),
        (VALID + "drift: {psi: high}\n", "key 'drift.psi' must be a number"),
        (VALID + "drift: {psi: 0}\n", "key 'drift.psi' must be greater than 0"),
        (VALID + "drift: {ks: 1.5}\n", "key 'drift.ks' must be in (0, 1]"),
        (VALID + "drift: {bins: 2.5}\n", "key 'drift.bins' must be a whole number from 2 to 100"),
        (VALID + "drift: {exclude: label}\n", "key 'drift.exclude' must be a list"),
        (VALID + "drift: {columns: {size: {psi: 0.3, pvalue: 0}}}\n", "key 'drift.columns.size.pvalue' must be in"),
        (VALID + "drift: {columns: {size: {p: 0.3}}}\n", "unknown key 'drift.columns.size.p'"),
        (VALID + "promotion: {reference_data: {qa: r.csv}}\n", "'promotion.reference_data.qa': 'qa' is not an"),
        (
            VALID + "promotion: {training_data: a.csv}\n",
            "key 'promotion.training_data' has moved to 'paths.train_data'",
        ),
        (VALID + "paths: {modle: m}\n", "unknown key 'paths.modle' (allowed: model, run_record, data,"),
        (VALID + "paths: {model: [m]}\n", "key 'paths.model' must be a string, got a list"),
        (VALID + "paths: {gates: 3}\n", "key 'paths.gates' must be a string, got int 3"),
        (VALID + "paths: {model: /srv/model}\n", "key 'paths.model' must be a path inside the repository"),
        (VALID + "paths: {data: ../elsewhere}\n", "key 'paths.data' must be a path inside the repository"),
        (VALID + "paths: {gates: .}\n", "key 'paths.gates' must be a path inside the repository"),
        (VALID + "paths: {run_record: ''}\n", "key 'paths.run_record' must be a non-empty path"),
        (VALID + "paths: {metrics: 'm\\x.json'}\n", "key 'paths.metrics' must be a non-empty path"),
        (VALID + "stages: {fit: fit}\n", "unknown key 'stages.fit' (allowed: train)"),
        (VALID + "stages: {train: 'my stage'}\n", "key 'stages.train' must be a dvc.yaml stage name"),
    ],
)
def test_a_bad_config_names_the_key_and_the_file(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_drift_thresholds_load(tmp_path):
    text = VALID + "drift: {psi: 0.25, bins: 8, exclude: [id], columns: {size: {psi: 0.3, ks: 0.15}}}\n"
    drift = load_config(write(tmp_path, text))["drift"]
    assert drift["columns"]["size"] == {"psi": 0.3, "ks": 0.15}


def test_a_missing_config_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"modelrail\.yaml: no such file"):
        load_config(tmp_path / "modelrail.yaml")


@pytest.mark.parametrize(
    ("required", "expected"),
    [
        ("[]", "key 'gates.required' must name at least one gate"),
        ("[raw, raw]", "key 'gates.required': 'raw' is listed twice"),
        ("[Raw Data]", "key 'gates.required': 'Raw Data' is not a gate name"),
        ("[raw, feature]", "key 'gates.required': unknown gate 'feature': no stage of"),
    ],
)
def test_required_gates_are_validated_against_the_pipeline(tmp_path, required, expected):
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  raw_gate: {cmd: x, outs: [gates/raw.json, {gates/raw.md: {cache: false}}]}\n"
        "  feature_gate: {cmd: x, outs: [{gates/features.json: {cache: false}}]}\n"
    )
    path = write(tmp_path, VALID.replace("gates: {", f"gates: {{required: {required}, "))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: ") and expected in str(error.value)
    (tmp_path / "modelrail.yaml").write_text(VALID.replace("gates: {", "gates: {required: [raw, features], "))
    assert load_config(path)["gates"]["required"] == ["raw", "features"]


def test_the_layout_defaults_to_the_template_and_takes_what_is_declared(tmp_path):
    assert load_layout(tmp_path) == Layout(source=f"{tmp_path / 'modelrail.yaml'} (absent: the default layout)")
    assert {key: getattr(Layout(), key) for key in PATHS} == PATHS
    declared = "paths: {model: artifacts/model/, data: ./inputs, gates: checks}\nstages: {train: fit}\n"
    path = write(tmp_path, VALID + declared)
    layout = load_layout(tmp_path)
    assert layout == layout_of(load_config(path), path)
    assert (layout.model, layout.data, layout.gates, layout.train_stage) == (
        "artifacts/model",
        "inputs",
        "checks",
        "fit",
    )
    assert layout.run_record == "models/run.json" and layout.source == str(path)
    assert layout.is_data("inputs/raw/x.csv") and not layout.is_data("inputs2/x.csv") and not layout.is_data("data/x")
    assert layout.is_gate_record("checks/raw.json") and not layout.is_gate_record("checks/raw.md")
    assert layout.key("model") == f"{path}: key 'paths.model' ('artifacts/model')"


def test_required_gates_are_looked_up_in_the_declared_gates_folder(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages:\n  raw_gate: {cmd: x, outs: [checks/raw.json]}\n")
    path = write(tmp_path, VALID.replace("gates: {", "gates: {required: [raw], "))
    with pytest.raises(ConfigError, match=r"no stage of .*dvc\.yaml writes gates/raw\.json .*set paths\.gates"):
        load_config(path)
    path.write_text(path.read_text() + "paths: {gates: checks}\n")
    assert load_config(path)["paths"] == {"gates": "checks"}
