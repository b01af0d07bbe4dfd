"""Regenerate the template's sample data and its drafted suites from data sets scikit-learn ships.

One sample per task kind, in templates/samples/<task>/ (cookiecutter's include folder): data.csv, and the raw,
features and predictions suites drafted from it the way a model team drafts its own (`modelrail suite init`).
The bake writes the chosen kind's files into the new repository under the answered file and column names, so a
baked repo works offline. Run this only to refresh them, then review the diff:

    python scripts/export_sample_data.py
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "templates" / "samples"
# The split the baked prepare stage makes with params.yaml's defaults, so the features suite fits its output.
TEST_SIZE, SEED = 0.2, 42
LOADERS = {
    "binary-classification": "load_breast_cancer",
    "multiclass-classification": "load_wine",
    "regression": "load_diabetes",
}


def load_frame(task: str):
    """The data set as one frame: features with snake_case names, then the label column `target`."""
    import sklearn.datasets

    loader = getattr(sklearn.datasets, LOADERS[task])
    # Diabetes unscaled: the measurements as recorded (age in years, sex 1/2), not mean-centred.
    bunch = loader(as_frame=True, **({"scaled": False} if task == "regression" else {}))
    frame = bunch.frame.copy()
    # Spaces and slashes in column names make every later use (expectations, code, SQL) awkward.
    frame.columns = [str(name).strip().replace(" ", "_").replace("/", "_") for name in frame.columns]
    if task != "regression":
        frame["target"] = frame["target"].astype("int64")
    return frame


def split(frame, task: str):
    from sklearn.model_selection import train_test_split

    stratify = None if task == "regression" else frame["target"]
    return train_test_split(frame, test_size=TEST_SIZE, random_state=SEED, stratify=stratify)


def predictions_suite(frame, task: str) -> dict:
    """What every prediction of a model trained on this data must look like: the labels, or the target's range."""

    def expect(kind: str, **kwargs) -> dict:
        return {"type": kind, "kwargs": kwargs, "meta": {}}

    expectations = [
        expect("expect_table_columns_to_match_ordered_list", column_list=["prediction"]),
        expect("expect_table_row_count_to_be_between", min_value=1),
        expect("expect_column_values_to_not_be_null", column="prediction"),
    ]
    if task == "regression":
        low, high = float(frame["target"].min()), float(frame["target"].max())
        slack = (high - low) * 0.5
        expectations += [
            expect("expect_column_values_to_be_in_type_list", column="prediction", type_list=["float", "float64"]),
            expect(
                "expect_column_values_to_be_between",
                column="prediction",
                min_value=round(max(0.0, low - slack) if low >= 0 else low - slack, 6),
                max_value=round(high + slack, 6),
            ),
        ]
    else:
        labels = sorted(int(label) for label in frame["target"].unique())
        expectations += [
            expect("expect_column_values_to_be_in_type_list", column="prediction", type_list=["int", "int32", "int64"]),
            expect(
                "expect_column_values_to_be_between", column="prediction", min_value=labels[0], max_value=labels[-1]
            ),
            expect("expect_column_values_to_be_in_set", column="prediction", value_set=labels),
        ]
    return {"name": "predictions", "expectations": expectations}


def export(task: str, out: Path) -> None:
    import json

    import pandas as pd

    from modelrail.gates import suite_init

    frame = load_frame(task)
    out.mkdir(parents=True, exist_ok=True)
    # A fixed float format keeps the file byte-identical across pandas versions.
    options = {"index": False, "float_format": "%.6g", "lineterminator": "\n"}
    frame.to_csv(out / "data.csv", **options)
    suite_init.run([out / "data.csv"], out / "raw.json", "raw", force=True)
    with tempfile.TemporaryDirectory() as tmp:
        parts = []
        # Split what the bake ships, as the prepare stage will: the CSV's column types, not the loader's.
        shipped = pd.read_csv(out / "data.csv")
        for name, part in zip(("train.csv", "test.csv"), split(shipped, task), strict=True):
            part.to_csv(Path(tmp) / name, **options)
            parts.append(Path(tmp) / name)
        suite_init.run(parts, out / "features.json", "features", force=True)
    for name in ("raw.json", "features.json"):
        # The draft records where it came from; here that is a temporary folder, meaningless in a baked repo.
        suite = json.loads((out / name).read_text(encoding="utf-8"))
        suite["meta"]["drafted_from"] = [Path(path).name for path in suite["meta"]["drafted_from"]]
        (out / name).write_text(json.dumps(suite, indent=2) + "\n", encoding="utf-8")
    (out / "predictions.json").write_text(json.dumps(predictions_suite(frame, task), indent=2) + "\n", "utf-8")
    print(f"{task}: {len(frame)} rows x {len(frame.columns)} columns -> {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write one sub-folder per task into")
    args = parser.parse_args(argv)
    for task in LOADERS:
        export(task, args.out / task)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
