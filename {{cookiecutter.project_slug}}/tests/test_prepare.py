from __future__ import annotations

from {{ cookiecutter.package_name }} import config, prepare


def test_split_sizes_and_no_overlap(sample_frame):
    train, test = prepare.split(sample_frame, test_size=0.25, seed=1)
    assert len(train) == 90
    assert len(test) == 30
    assert list(train.columns) == list(sample_frame.columns)
    rows = set(map(tuple, sample_frame.values.tolist()))
    assert set(map(tuple, train.values.tolist())) | set(map(tuple, test.values.tolist())) == rows


def test_split_is_stratified(sample_frame):
    _, test = prepare.split(sample_frame, test_size=0.25, seed=1)
    assert test[config.TARGET].value_counts().to_dict() == {0: 15, 1: 15}


def test_split_is_reproducible(sample_frame):
    first, _ = prepare.split(sample_frame, test_size=0.25, seed=7)
    second, _ = prepare.split(sample_frame, test_size=0.25, seed=7)
    assert first.equals(second)
