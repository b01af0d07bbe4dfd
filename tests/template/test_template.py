"""Template tests: bake the template with several sets of answers and run each baked repo's own checks."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import ROOT
from support.template import BIN, bake, dvc, modelrail, run

pytestmark = pytest.mark.bake

GITHUB_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
STAGES = ["raw_gate", "prepare", "feature_gate", "train", "evaluate", "model_gate"]


def expected_files(
    package: str, dataset: str = "breast_cancer.csv", environments: str = "staging,production", gitops: str = "argocd"
) -> set[str]:
    """Every file git tracks in a fresh bake; the sample data itself is tracked by DVC, not by git."""
    sync = set() if gitops == "none" else {f"deploy/sync/{env.strip()}.yaml" for env in environments.split(",")}
    return sync | {
        ".cookiecutter.json",
        ".cruft.json",
        ".dvc/.gitignore",
        ".dvc/config",
        ".dockerignore",
        ".dvcignore",
        ".github/CODEOWNERS",
        ".github/workflows/monitor.yml",
        ".github/workflows/promote.yml",
        ".github/workflows/publish.yml",
        ".github/workflows/pull-request.yml",
        ".github/workflows/template-update.yml",
        ".github/dependabot.yml",
        ".gitignore",
        ".pre-commit-config.yaml",
        "Dockerfile",
        "Makefile",
        "README.md",
        "constraints.txt",
        "data/raw/.gitignore",
        f"data/raw/{dataset}.dvc",
        "deploy/base/deployment.yaml",
        "deploy/base/hpa.yaml",
        "deploy/base/kustomization.yaml",
        "deploy/base/service.yaml",
        "dvc.yaml",
        "expectations/features.json",
        "expectations/predictions.json",
        "expectations/raw.json",
        "modelrail.yaml",
        "params.yaml",
        "pyproject.toml",
        "serving/modelrail_serving.py",
        f"src/{package}/__init__.py",
        f"src/{package}/config.py",
        f"src/{package}/evaluate.py",
        f"src/{package}/model.py",
        f"src/{package}/predict.py",
        f"src/{package}/prepare.py",
        f"src/{package}/train.py",
        "tests/conftest.py",
        "tests/test_evaluate.py",
        "tests/test_predict.py",
        "tests/test_prepare.py",
        "tests/test_stages.py",
        "tests/test_train.py",
    }


def assert_static_checks(repo: Path, package: str, dataset: str = "breast_cancer.csv") -> None:
    tracked = set(run(["git", "ls-files"], repo).stdout.split())
    answers = json.loads((repo / ".cookiecutter.json").read_text())
    assert tracked == expected_files(package, dataset, answers["environments"], answers["gitops"])
    for path in repo.rglob("*"):
        if path.is_file() and ".git" not in path.parts and ".dvc" not in path.parts:
            # GitHub expressions (`${{ ... }}`) in the copied-as-is workflows are not template markup.
            text = GITHUB_EXPRESSION.sub("", path.read_text(errors="ignore"))
            assert "{{" not in text and "}}" not in text, f"unrendered template markup in {path}"
    run([str(BIN / "ruff"), "check", "."], repo)
    run([str(BIN / "ruff"), "format", "--check", "."], repo)


# Per task kind: the metrics evaluate writes and the plots dvc.yaml draws.
TASK_OUTPUTS = {
    "binary-classification": ({"accuracy", "precision", "recall", "f1", "roc_auc"}, {"roc.csv", "confusion.csv"}),
    "multiclass-classification": (
        {"accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc_ovr"},
        {"roc.csv", "precision_recall.csv", "confusion.csv"},
    ),
    "regression": ({"rmse", "mae", "r2"}, {"predicted.csv", "residuals.csv"}),
}


def assert_pipeline_runs(repo: Path, task: str = "binary-classification") -> dict:
    """`dvc repro` runs every stage, every gate passes, and the MLflow run holds params, metrics, model and tags."""
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], repo)
    dvc(repo, "repro")
    lock = json.loads(json.dumps(__import__("yaml").safe_load((repo / "dvc.lock").read_text())))
    assert list(lock["stages"]) == STAGES
    for gate in ("raw", "features", "model"):
        assert json.loads((repo / f"gates/{gate}.json").read_text())["passed"] is True
    assert_layout_matches_the_pipeline(repo, lock)
    metrics = json.loads((repo / "metrics/metrics.json").read_text())
    names, plots = TASK_OUTPUTS[task]
    assert set(metrics) == names
    shown = dvc(repo, "plots", "show", "--json").stdout
    assert all(plot in shown for plot in plots)

    import mlflow

    run_id = json.loads((repo / "models/run.json").read_text())["run_id"]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    mlflow_run = client.get_run(run_id)
    assert {"train.n_estimators", "train.max_depth", "prepare.test_size"} <= set(mlflow_run.data.params)
    logged = set(mlflow_run.data.metrics)
    assert {f"test_{name}" for name in names} | {f"train_{name}" for name in names} <= logged
    assert mlflow_run.data.params["task"] == task
    tags = mlflow_run.data.tags
    head = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    assert tags["git_sha"] == head
    assert tags["data.raw.md5"] == lock["stages"]["raw_gate"]["deps"][0]["md5"]
    models = client.search_logged_models(experiment_ids=[mlflow_run.info.experiment_id])
    assert models and models[0].source_run_id == run_id
    return lock


def assert_layout_matches_the_pipeline(repo: Path, lock: dict) -> None:
    """The layout the baked modelrail.yaml declares (what the modelrail commands read) is where the pipeline writes."""
    from modelrail.identity import read_identity
    from modelrail.layout import load_layout

    layout = load_layout(repo)
    outs = {out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])}
    train_outs = {out["path"] for out in lock["stages"][layout.train_stage]["outs"]}
    assert {layout.model, layout.run_record} <= train_outs
    assert {layout.train_data, layout.test_data, layout.metrics} <= outs
    assert {f"{layout.gates}/{name}.json" for name in ("raw", "features", "model")} <= outs
    assert any(out.startswith(f"{layout.plots}/") for out in outs)
    assert (repo / layout.prediction_suite).is_file() and (repo / layout.suites).is_dir()
    params = yaml.safe_load((repo / "params.yaml").read_text())["data"]
    assert (params["train"], params["test"]) == (layout.train_data, layout.test_data)
    identity = read_identity(repo, layout)
    assert params["raw"] in identity.data and len(identity.gate_outs) == 3


def test_default_bake_is_a_working_repo(tmp_path):
    repo = bake(tmp_path)
    assert repo.name == "breast-cancer-classifier"
    assert_static_checks(repo, "breast_cancer_classifier")
    assert run(["git", "branch", "--show-current"], repo).stdout.strip() == "main"
    branches = run(["git", "branch", "--format=%(refname:short)"], repo).stdout.split()
    assert sorted(branches) == ["main", "production", "staging"]
    assert (tmp_path / "breast-cancer-classifier-dvc-remote").is_dir()
    # `dvc status --cloud` exits 0 with unpushed data too ("new: <file>"): its verdict is in the text.
    cloud = dvc(repo, "status", "--cloud").stdout
    assert "Cache and remote 'local' are in sync." in cloud and "new:" not in cloud, cloud
    answers = json.loads((repo / ".cookiecutter.json").read_text())
    assert answers["environments"] == "staging,production"
    assert_pipeline_runs(repo)
    # A second run has nothing to do: every stage, gates included, is cached.
    assert "Stage 'train' didn't change" in dvc(repo, "repro").stdout


def test_other_answers_bake_a_working_repo(tmp_path):
    repo = bake(
        tmp_path,
        project_name="Churn Model",
        package_name="churn",
        environments="dev,qa,prod",
        python_version="3.12",
        dvc_remote=str(tmp_path / "remote"),
    )
    assert_static_checks(repo, "churn")
    branches = run(["git", "branch", "--format=%(refname:short)"], repo).stdout.split()
    assert sorted(branches) == ["dev", "main", "prod", "qa"]
    assert "environments: [dev, qa, prod]" in (repo / "modelrail.yaml").read_text().replace("'", "")
    assert any((tmp_path / "remote").rglob("*")), "dvc push did not reach the absolute remote"
    assert_pipeline_runs(repo)


def test_a_corrupted_raw_file_stops_the_pipeline_at_the_raw_data_gate(tmp_path):
    repo = bake(tmp_path)
    raw = repo / "data/raw/breast_cancer.csv"
    lines = raw.read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[0], "not-a-number", 1)
    raw.write_text("\n".join(lines) + "\n")
    proc = dvc(repo, "repro", check=False)
    assert proc.returncode != 0
    assert "column 'mean_radius'" in proc.stderr + proc.stdout
    record = json.loads((repo / "gates/raw.json").read_text())
    assert record["passed"] is False
    for later in ("data/prepared", "gates/features.json", "models", "metrics"):
        assert not (repo / later).exists(), f"{later} exists: a stage after the failed gate ran"


def valid_combinations():
    """Option combinations for static checks, dropping those pre_gen_project.py rejects (tested in test_hooks)."""
    environments = ["staging,production", "dev,qa,prod", "prod", "staging,staging", "main,prod"]
    # Each GitOps controller in turn rather than in the product: a bake per combination costs seconds.
    gitops = itertools.cycle(["argocd", "flux", "none"])
    for envs, python, package in itertools.product(environments, ["3.11", "3.13"], ["", "model_x"]):
        names = envs.split(",")
        if len(set(names)) == len(names) and "main" not in names:
            sync = next(gitops)
            yield pytest.param(envs, python, package, sync, id=f"{envs}-py{python}-{package or 'derived'}-{sync}")


@pytest.mark.parametrize(("environments", "python_version", "package", "gitops"), list(valid_combinations()))
def test_option_combinations_bake_clean(tmp_path, environments, python_version, package, gitops):
    answers = {"environments": environments, "python_version": python_version, "gitops": gitops}
    if package:
        answers["package_name"] = package
    repo = bake(tmp_path, **answers)
    assert_static_checks(repo, package or "breast_cancer_classifier")
    branches = set(run(["git", "branch", "--format=%(refname:short)"], repo).stdout.split())
    assert branches == {"main", *environments.split(",")}
    assert f'requires-python = ">={python_version}"' in (repo / "pyproject.toml").read_text()


HOSTILE = "Evil ''' \"\"\" '; import os; os.system('touch {marker}') # $(touch {marker}) `touch {marker}`"


def test_hostile_free_text_is_baked_as_inert_text(tmp_path):
    marker = tmp_path / "pwned"
    name = HOSTILE.format(marker=marker)
    repo = bake(tmp_path, project_name=name, project_slug="evil", description=name, author_name=name)
    assert not marker.exists()
    assert json.loads((repo / ".cookiecutter.json").read_text())["project_name"] == name
    assert_static_checks_without_markup(repo)


def assert_static_checks_without_markup(repo: Path) -> None:
    """The hostile text itself contains braces, so only the tools' checks apply to this bake."""
    assert set(run(["git", "ls-files"], repo).stdout.split()) == expected_files("evil")
    run([str(BIN / "ruff"), "check", "."], repo)
    run([str(BIN / "ruff"), "format", "--check", "."], repo)
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], repo)


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"description": "two\nlines; import os"}, "ERROR: description contains a newline"),
        ({"environments": "staging,,production"}, "ERROR: environments"),
        ({"package_name": "1; import os"}, "ERROR: package_name"),
    ],
)
def test_rejected_answers_stop_with_an_error_and_write_nothing(tmp_path, answers, expected):
    args = [str(BIN / "cookiecutter"), "--no-input", str(ROOT), "-o", str(tmp_path / "out")]
    args += [f"{key}={value}" for key, value in answers.items()]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode != 0
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "out").glob("*")), "a rejected bake left files behind"


def test_multiclass_bake_runs_its_pipeline_and_smokes_its_image(tmp_path, docker_infra):
    """Three classes (scikit-learn's wine): macro metrics, micro-averaged curves, a stratified split; its image
    serves its model, and the smoke gate tells it from the same model with its classes relabelled."""
    repo = bake(tmp_path, task="multiclass-classification")
    assert repo.name == "wine-classifier"
    assert_static_checks(repo, "wine_classifier", "wine.csv")
    assert_pipeline_runs(repo, "multiclass-classification")
    suite = json.loads((repo / "expectations/predictions.json").read_text())
    assert {"column": "prediction", "value_set": [0, 1, 2]} in [e["kwargs"] for e in suite["expectations"]]
    assert_no_breast_cancer_words(repo)
    assert_image_smokes(repo, docker_infra, relabelled(repo / "models/model", tmp_path / "relabelled"))


def relabelled(model_dir: Path, copy: Path) -> Path:
    """A copy of a classifier's MLflow model whose classes are rotated: the same trees, other answers."""
    import numpy as np
    import skops.io

    shutil.copytree(model_dir, copy)
    model_file = copy / "model.skops"
    model = skops.io.load(model_file, trusted=skops.io.get_untrusted_types(file=model_file))
    model.classes_ = np.roll(model.classes_, 1)
    skops.io.dump(model, model_file)
    return copy


def assert_image_smokes(repo: Path, engine: dict, other_model: Path) -> None:
    """Build the bake's serving image on the real engine and run its container smoke gate, which must pass; the
    answers the image gave would not match `other_model`, so the gate tells the model it serves from another one.
    The image is removed after: on vfs every layer is a full copy of the file system.

    The Dockerfile, requirements and wheelhouse are the same for every task kind, so the engine's layer cache (the
    session's earlier builds: tests/container's binary image) holds every layer but the model's.
    """
    import docker
    import mlflow.pyfunc
    import pandas as pd

    from modelrail.container import smoke as container_smoke

    proc = modelrail(repo, "containerize", "build", "--base-image", engine["MODELRAIL_BASE_IMAGE"])
    image_id = proc.stdout.strip().splitlines()[-1].split()[1]
    try:
        smoke = modelrail(repo, "containerize", "smoke", "--image", image_id, check=False)
    finally:
        docker.from_env().images.remove(image_id, force=True)
    record = json.loads((repo / "gates/container.json").read_text())
    assert smoke.returncode == 0 and record["passed"] is True, smoke.stdout + smoke.stderr
    model_dir = repo / "models/model"
    sample = container_smoke.golden_sample(
        repo / "data/prepared/test.csv", container_smoke.signature_inputs(model_dir), 50
    )
    checks = {check["name"]: check for check in record["checks"]}
    assert {"healthy", "predictions match the in-process model", "survives malformed requests"} <= set(checks)
    assert checks["predictions match the in-process model"]["details"]["rows"] == len(sample) > 0
    assert record["inputs"]["image"]["id"] == image_id

    # A second container start only to see the comparison fail costs a minute on vfs: the gate's own comparison of
    # the answers the image gave (written by the gate) against the other model's predictions for the same rows.
    served = pd.read_csv(repo / "build/containerize/predictions.csv")
    other = container_smoke.as_frame(mlflow.pyfunc.load_model(str(other_model)).predict(sample))
    mismatch = container_smoke.compare(served, other, 1e-6)
    assert not mismatch.success and "predictions differ, e.g. row" in mismatch.message, mismatch


def assert_no_breast_cancer_words(repo: Path) -> None:
    for path in repo.rglob("*"):
        if path.is_file() and not {".git", ".dvc"} & set(path.parts):
            text = path.read_text(errors="ignore").lower()
            assert "breast" not in text and "cancer" not in text and "tumour" not in text, path


RIDGE = """
from typing import Any

SKOPS_TRUSTED_TYPES = [
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._ridge.Ridge",
]
PIP_REQUIREMENTS = ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")


def build_estimator(params: dict[str, Any]):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), Ridge(alpha=1.0))
"""


def test_regression_bake_with_its_own_file_and_label_column(tmp_path, docker_infra):
    """Regression on a data set and label column of the user's naming: every name is written once, in params.yaml;
    renaming the file is that one edit; another estimator is model.py alone, and its image passes the smoke gate."""
    repo = bake(tmp_path, task="regression", dataset="patients_2024.csv", target="disease_marker")
    assert_static_checks(repo, "diabetes_progression", "patients_2024.csv")
    # Where each name may appear: params.yaml configures it; DVC's pointer and ignore file and the recorded bake
    # answers (.cookiecutter.json, .cruft.json) are bookkeeping; the label column is data and a column of the suites.
    bookkeeping = {"params.yaml", "data/raw/patients_2024.csv.dvc", "data/raw/.gitignore", ".cookiecutter.json"}
    files = [*run(["git", "ls-files"], repo).stdout.split(), "data/raw/patients_2024.csv"]
    for name, allowed in (
        ("patients_2024", bookkeeping | {".cruft.json"}),
        (
            "disease_marker",
            bookkeeping
            | {".cruft.json", "data/raw/patients_2024.csv", "expectations/raw.json", "expectations/features.json"},
        ),
    ):
        found = {file for file in files if name in (repo / file).read_text(errors="ignore")}
        assert found <= allowed, f"{name} is written in {sorted(found - allowed)}"
        assert "params.yaml" in found
    assert "target" not in (repo / "data/raw/patients_2024.csv").read_text().splitlines()[0].split(",")
    assert_no_breast_cancer_words(repo)
    assert_pipeline_runs(repo, "regression")

    # Rename the data set: move the file with DVC, then the one edit in params.yaml.
    dvc(repo, "move", "data/raw/patients_2024.csv", "data/raw/cohort.csv")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("data/raw/patients_2024.csv", "data/raw/cohort.csv"))
    dvc(repo, "repro")
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert lock["stages"]["raw_gate"]["deps"][0]["path"] == "data/raw/cohort.csv"
    assert json.loads((repo / "gates/raw.json").read_text())["passed"] is True

    # Another estimator through model.py alone: the pipeline retrains from `train` on and stays green.
    before = json.loads((repo / "metrics/metrics.json").read_text())
    forest = shutil.copytree(repo / "models/model", tmp_path / "forest")
    (repo / "src/diabetes_progression/model.py").write_text(RIDGE.lstrip())
    out = dvc(repo, "repro").stdout
    assert "Stage 'prepare' didn't change" in out and "Running stage 'train'" in out
    assert json.loads((repo / "gates/model.json").read_text())["passed"] is True
    after = json.loads((repo / "metrics/metrics.json").read_text())
    assert after != before
    assert "Ridge" in (repo / "models/model/MLmodel").read_text() or any(
        "Ridge" in p.read_text(errors="ignore") for p in (repo / "models/model").rglob("*") if p.is_file()
    )
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], repo)
    # The image is labelled with the commit it comes from, and built from the .dvc files git tracks: commit first.
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "Ridge on cohort.csv"], repo)
    # The image serves the swapped model: the gate passes, and the forest it replaced would not pass as its reference.
    assert_image_smokes(repo, docker_infra, forest)
