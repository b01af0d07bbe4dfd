"""Pipeline code of this model repository: prepare, train, evaluate and predict, called by `dvc repro`."""

__version__ = "0.1.0"
