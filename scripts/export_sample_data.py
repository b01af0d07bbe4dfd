"""Regenerate the template's sample data from scikit-learn's bundled breast cancer data set.

The CSV is committed into the template so a baked repo works offline; run this only to refresh it:

    python scripts/export_sample_data.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "{{cookiecutter.project_slug}}" / "data" / "raw" / "breast_cancer.csv"


def load_frame():
    """Return the data set as one frame: features with snake_case names, then an int `target` (0/1)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.copy()
    # Spaces in column names make every later use (expectations, code, SQL) awkward.
    frame.columns = [str(name).strip().replace(" ", "_") for name in frame.columns]
    frame["target"] = frame["target"].astype("int64")
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="CSV file to write")
    args = parser.parse_args(argv)
    frame = load_frame()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # A fixed float format keeps the file byte-identical across pandas versions.
    frame.to_csv(args.out, index=False, float_format="%.6g", lineterminator="\n")
    print(f"wrote {len(frame)} rows x {len(frame.columns)} columns to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
