from __future__ import annotations

import hashlib

import pytest

from {{ cookiecutter.package_name }} import train

PARAMS = {"n_estimators": 10, "max_depth": 3, "seed": 0}


def test_fit_returns_a_fitted_model(sample_frame):
    model = train.fit(sample_frame, PARAMS)
    features, target = train.features_and_target(sample_frame)
    assert model.n_estimators == 10
    assert list(model.feature_names_in_) == list(features.columns)
    assert (model.predict(features) == target).mean() > 0.9


def test_training_metrics_are_probabilities(sample_frame):
    metrics = train.training_metrics(train.fit(sample_frame, PARAMS), sample_frame)
    assert set(metrics) == {"train_accuracy", "train_f1", "train_roc_auc"}
    assert all(0.0 <= value <= 1.0 for value in metrics.values())


def test_saved_model_loads_back(sample_frame, tmp_path):
    import mlflow.sklearn

    model = train.fit(sample_frame, PARAMS)
    features, _ = train.features_and_target(sample_frame)
    train.save_model(model, features.head(3), tmp_path / "model")
    loaded = mlflow.sklearn.load_model(str(tmp_path / "model"))
    assert (loaded.predict(features) == model.predict(features)).all()


def test_md5_and_git_sha(tmp_path):
    file = tmp_path / "data.csv"
    file.write_bytes(b"a,b\n1,2\n")
    assert train.md5(file) == hashlib.md5(b"a,b\n1,2\n").hexdigest()
    assert train.git_sha(tmp_path / "not-a-repository") == "unknown"


@pytest.mark.parametrize("max_depth", [None, 2])
def test_max_depth_is_optional(sample_frame, max_depth):
    model = train.fit(sample_frame, {**PARAMS, "max_depth": max_depth})
    assert model.max_depth == max_depth
