"""Releases: register a model version, promote it to an environment, roll an environment back.

An environment branch holds the truth: its release record (`releases/<env>/release.json`), the history of every
release (`releases/<env>/history.jsonl`) and the deploy overlay (`deploy/<env>/`, image pinned by digest). The MLflow
registry alias and the image tag are moved to match (steps.py), and every move is undone when a later one fails.

Evidence comes from git only: whether an artifact was released to the previous environment, which image digest
that environment ran, and which artifacts were rejected are read from the environment branches' histories
(environment.py), which only the promote job writes. Registry aliases and tags are outputs of a release, never
proof: other jobs (and code they run) may write them.
"""
