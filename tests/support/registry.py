"""An empty MLflow store on SQLite, as the unit tests of the champion and of promotion start from."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path


@functools.cache
def sqlite_store_bytes(registered_model: str | None = None) -> bytes:
    """The bytes of an empty SQLite tracking and registry store (holding `registered_model`, empty, if one is named),
    made once per process: its schema migrations take seconds (15 under load).

    Kept in memory rather than per session: `make mutation` runs each mutant in a new pytest session forked from one
    process, which would otherwise pay the migrations again for every mutant.
    """
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{Path(folder) / 'registry.db'}"
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments()  # opening the store runs the migrations
        if registered_model is not None:
            client.create_registered_model(registered_model)
        return (Path(folder) / "registry.db").read_bytes()
