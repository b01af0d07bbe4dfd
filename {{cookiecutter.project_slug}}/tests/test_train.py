from __future__ import annotations

import hashlib

from {{ cookiecutter.package_name }} import model as model_module
from {{ cookiecutter.package_name }} import train

PARAMS = {"n_estimators": 10, "max_depth": 3, "seed": 0}


def test_fit_returns_a_fitted_model(sample_frame, target):
    model = train.fit(sample_frame, PARAMS, target)
    features, labels = train.features_and_target(sample_frame, target)
    assert list(model.feature_names_in_) == list(features.columns)
{%- if cookiecutter.task == "regression" %}
    # R² on the data it was fitted on: clearly better than the mean, whatever model.py builds.
    assert model.score(features, labels) > 0.2
{%- else %}
    assert (model.predict(features) == labels).mean() > 0.9
{%- endif %}


def test_training_metrics_mirror_the_test_metrics(sample_frame, target, task):
    from {{ cookiecutter.package_name }} import evaluate

    model = train.fit(sample_frame, PARAMS, target)
    metrics = train.training_metrics(model, sample_frame, target, task)
    features, labels = train.features_and_target(sample_frame, target)
    expected = evaluate.score(model, features, labels, task)
    assert metrics == {f"train_{name}": value for name, value in expected.items()}


def test_saved_model_loads_back(sample_frame, target, tmp_path):
    import mlflow.sklearn

    model = train.fit(sample_frame, PARAMS, target)
    features, _ = train.features_and_target(sample_frame, target)
    train.save_model(model, features.head(3), tmp_path / "model")
    loaded = mlflow.sklearn.load_model(str(tmp_path / "model"))
    assert (loaded.predict(features) == model.predict(features)).all()


def test_model_py_lists_every_type_its_estimator_saves(sample_frame, target):
    """An estimator that needs more trusted types fails here, not at the first load of a saved model."""
    import skops.io

    features, labels = train.features_and_target(sample_frame, target)
    fitted = model_module.build_estimator(PARAMS).fit(features, labels)
    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(fitted))
    assert set(untrusted) <= set(model_module.SKOPS_TRUSTED_TYPES)


def test_md5_and_git_sha(tmp_path):
    file = tmp_path / "data.csv"
    file.write_bytes(b"a,b\n1,2\n")
    assert train.md5(file) == hashlib.md5(b"a,b\n1,2\n").hexdigest()
    assert train.git_sha(tmp_path / "not-a-repository") == "unknown"
