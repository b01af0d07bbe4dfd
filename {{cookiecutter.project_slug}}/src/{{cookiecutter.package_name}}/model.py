{%- set kind = "Regressor" if cookiecutter.task == "regression" else "Classifier" -%}
"""The model: the one file to edit to train another estimator (README: "Swap the model").

train.py calls build_estimator() with params.yaml's `train` section and saves what it returns with the two
settings below. Anything scikit-learn compatible works: an estimator or a Pipeline with preprocessing.
"""

from __future__ import annotations

from typing import Any

# skops loads only the types listed here (no pickle), so a saved model cannot run code it was not meant to.
# Another estimator needs its own; this lists them:
#   skops.io.get_untrusted_types(data=skops.io.dumps(build_estimator(params).fit(X, y)))
SKOPS_TRUSTED_TYPES = [
    "sklearn.tree._tree.Tree",
    "sklearn.tree._classes.DecisionTree{{ kind }}",
    "sklearn.ensemble._forest.RandomForest{{ kind }}",
    "numpy.dtype",
]
# What the saved model needs to load, pinned to the installed versions when it is saved; add the library of
# another estimator (e.g. "xgboost"). Listing them saves MLflow inferring them in a subprocess (seconds).
PIP_REQUIREMENTS = ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")


def build_estimator(params: dict[str, Any]):
    """A new, unfitted estimator configured from params.yaml's `train` section."""
    from sklearn.ensemble import RandomForest{{ kind }}

    return RandomForest{{ kind }}(
        n_estimators=int(params["n_estimators"]),
        max_depth=None if params.get("max_depth") is None else int(params["max_depth"]),
        random_state=int(params["seed"]),
        n_jobs=1,
    )
