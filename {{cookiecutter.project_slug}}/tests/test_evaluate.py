from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }} import evaluate


def test_perfect_predictions():
    metrics = evaluate.compute_metrics([0, 1, 1, 0], [0, 1, 1, 0], [0.1, 0.9, 0.8, 0.2])
    assert metrics == {"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0, "roc_auc": 1.0}


def test_known_values():
    metrics = evaluate.compute_metrics([0, 0, 1, 1], [0, 1, 1, 0], [0.2, 0.6, 0.7, 0.4])
    assert metrics["accuracy"] == pytest.approx(0.5)
    assert metrics["precision"] == pytest.approx(0.5)
    assert metrics["recall"] == pytest.approx(0.5)
    assert metrics["roc_auc"] == pytest.approx(0.75)


def test_plot_frames():
    roc = evaluate.roc_points([0, 0, 1, 1], [0.2, 0.6, 0.7, 0.4])
    assert list(roc.columns) == ["fpr", "tpr"]
    assert roc["fpr"].iloc[-1] == 1.0
    confusion = evaluate.confusion_rows([0, 1], [1, 1])
    assert confusion.to_dict("list") == {"actual": [0, 1], "predicted": [1, 1]}
