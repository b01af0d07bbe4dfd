from __future__ import annotations

from {{ cookiecutter.package_name }} import config, prepare


def split(frame, target, seed=1):
    return prepare.split(frame, test_size=0.25, seed=seed, target=target, stratify=config.is_classifier())


def test_split_sizes_and_no_overlap(sample_frame, target):
    train, test = split(sample_frame, target)
    assert len(train) + len(test) == len(sample_frame)
    assert len(test) == round(len(sample_frame) * 0.25)
    assert list(train.columns) == list(sample_frame.columns)
    rows = set(map(tuple, sample_frame.values.tolist()))
    assert set(map(tuple, train.values.tolist())) | set(map(tuple, test.values.tolist())) == rows

{%- if cookiecutter.task != "regression" %}


def test_split_is_stratified(sample_frame, target):
    _, test = split(sample_frame, target)
    expected = (sample_frame[target].value_counts() * 0.25).round().astype(int).to_dict()
    assert test[target].value_counts().to_dict() == expected
{%- endif %}


def test_split_is_reproducible(sample_frame, target):
    first, _ = split(sample_frame, target, seed=7)
    second, _ = split(sample_frame, target, seed=7)
    assert first.equals(second)
