"""Stage `prepare`: split the raw data into a stratified train and test set."""

from __future__ import annotations

from pathlib import Path

from . import config


def split(frame, test_size: float, seed: int):
    """Return (train, test), stratified on the target so both keep the class balance of the raw data."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        frame, test_size=test_size, random_state=seed, stratify=frame[config.TARGET]
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def run(root: Path | None = None) -> tuple[Path, Path]:
    """Read the raw CSV, split it with params.yaml's `prepare` section and write the two CSV files."""
    import pandas as pd

    params = config.load_params("prepare", root)
    frame = pd.read_csv(config.path(config.RAW_DATA, root))
    train, test = split(frame, test_size=float(params["test_size"]), seed=int(params["seed"]))
    outputs = config.path(config.TRAIN_DATA, root), config.path(config.TEST_DATA, root)
    for part, out in zip((train, test), outputs, strict=True):
        out.parent.mkdir(parents=True, exist_ok=True)
        part.to_csv(out, index=False, lineterminator="\n")
    return outputs


def main() -> int:
    train, test = run()
    print(f"wrote {train} and {test}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
