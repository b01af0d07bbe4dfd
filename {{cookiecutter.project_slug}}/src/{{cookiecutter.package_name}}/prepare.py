"""Stage `prepare`: split the raw data into a train and a test set (stratified for classification)."""

from __future__ import annotations

from pathlib import Path

from . import config


def split(frame, test_size: float, seed: int, target: str, stratify: bool):
    """Return (train, test), stratified on the label for classification to keep the raw data's class balance.

    A regression target is continuous: there are no classes to keep in balance, and stratifying would fail.
    """
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        frame, test_size=test_size, random_state=seed, stratify=frame[target] if stratify else None
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def run(root: Path | None = None) -> tuple[Path, Path]:
    """Read the raw CSV, split it with params.yaml's `prepare` section and write the two CSV files."""
    import pandas as pd

    params, data = config.load_params("prepare", root), config.data(root)
    frame = pd.read_csv(config.path(data["raw"], root))
    if data["target"] not in frame.columns:
        raise KeyError(f"{data['raw']}: no column {data['target']!r} (params.yaml's data.target)")
    train, test = split(
        frame,
        test_size=float(params["test_size"]),
        seed=int(params["seed"]),
        target=data["target"],
        stratify=config.is_classifier(root),
    )
    outputs = config.path(data["train"], root), config.path(data["test"], root)
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
