from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import evaluate

{%- if cookiecutter.task == "regression" %}


def test_perfect_predictions():
    metrics = evaluate.compute_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], None, "regression")
    assert metrics == {"rmse": 0.0, "mae": 0.0, "r2": 1.0}


def test_known_values():
    metrics = evaluate.compute_metrics([0.0, 0.0, 4.0, 4.0], [1.0, -1.0, 4.0, 4.0], None, "regression")
    assert metrics["mae"] == pytest.approx(0.5)
    assert metrics["rmse"] == pytest.approx(np.sqrt(0.5))
    assert metrics["r2"] == pytest.approx(1 - 2 / 16)


def test_plot_frames():
    versus, residuals = evaluate.regression_rows([3, 5], [2.5, 6])
    assert versus.to_dict("list") == {"actual": [3.0, 5.0], "predicted": [2.5, 6.0]}
    assert residuals.to_dict("list") == {"predicted": [2.5, 6.0], "residual": [0.5, -1.0]}
{%- elif cookiecutter.task == "multiclass-classification" %}

PROBABILITY = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])


def test_perfect_predictions():
    metrics = evaluate.compute_metrics([0, 1, 2, 0], [0, 1, 2, 0], PROBABILITY, "multiclass-classification")
    assert metrics == {
        "accuracy": 1.0,
        "precision_macro": 1.0,
        "recall_macro": 1.0,
        "f1_macro": 1.0,
        "roc_auc_ovr": 1.0,
    }


def test_known_values():
    metrics = evaluate.compute_metrics([0, 1, 2, 2], [0, 1, 2, 0], PROBABILITY, "multiclass-classification")
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["recall_macro"] == pytest.approx((1 + 1 + 0.5) / 3)


def test_plot_frames():
    roc = evaluate.roc_points([0, 1, 2, 0], PROBABILITY, [0, 1, 2])
    assert list(roc.columns) == ["fpr", "tpr"]
    assert roc["fpr"].iloc[-1] == 1.0
    curve = evaluate.precision_recall_points([0, 1, 2, 0], PROBABILITY, [0, 1, 2])
    assert list(curve.columns) == ["recall", "precision"]
    confusion = evaluate.confusion_rows([0, 2], [1, 2])
    assert confusion.to_dict("list") == {"actual": [0, 2], "predicted": [1, 2]}
{%- else %}

BINARY = "binary-classification"


def proba(positive):
    return np.array([[1 - p, p] for p in positive])


def test_perfect_predictions():
    metrics = evaluate.compute_metrics([0, 1, 1, 0], [0, 1, 1, 0], proba([0.1, 0.9, 0.8, 0.2]), BINARY)
    assert metrics == {"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0, "roc_auc": 1.0}


def test_known_values():
    metrics = evaluate.compute_metrics([0, 0, 1, 1], [0, 1, 1, 0], proba([0.2, 0.6, 0.7, 0.4]), BINARY)
    assert metrics["accuracy"] == pytest.approx(0.5)
    assert metrics["precision"] == pytest.approx(0.5)
    assert metrics["recall"] == pytest.approx(0.5)
    assert metrics["roc_auc"] == pytest.approx(0.75)


def test_plot_frames():
    roc = evaluate.roc_points([0, 0, 1, 1], proba([0.2, 0.6, 0.7, 0.4]), [0, 1])
    assert list(roc.columns) == ["fpr", "tpr"]
    assert roc["fpr"].iloc[-1] == 1.0
    curve = evaluate.precision_recall_points([0, 0, 1, 1], proba([0.2, 0.6, 0.7, 0.4]), [0, 1])
    assert list(curve.columns) == ["recall", "precision"]
    confusion = evaluate.confusion_rows([0, 1], [1, 1])
    assert confusion.to_dict("list") == {"actual": [0, 1], "predicted": [1, 1]}
{%- endif %}
