"""The per-environment release lock: a registered-model tag "<token> <epoch seconds> <actor>", stale after 30 min."""

from __future__ import annotations

import time
import uuid

from modelrail.errors import Refused
from modelrail.model_registry import Registry

LOCK_PREFIX = "modelrail.lock."
LOCK_STALE_SECONDS = 30 * 60


class EnvironmentLock:
    """A registered-model tag that says a release of this environment is under way; stale after 30 minutes.

    The workflow's `concurrency` group is the first line; this check stops a second promotion or rollback started
    by hand (or from another workflow) while one is running.
    """

    def __init__(self, registry: Registry, env: str, actor: str):
        self.registry, self.key = registry, LOCK_PREFIX + env
        self.token = f"{uuid.uuid4().hex} {int(time.time())} {actor}"
        self.env = env

    def __enter__(self) -> EnvironmentLock:
        held = self.registry.model_tags().get(self.key)
        if held:
            _, since, *who = [*held.split(" ", 2), ""]
            age = time.time() - float(since or 0)
            if age < LOCK_STALE_SECONDS:
                raise Refused(
                    f"another release of '{self.env}' is under way (by {' '.join(who).strip() or 'unknown'}, "
                    f"{age:.0f}s ago; registered model tag {self.key}) (fix: wait for it and re-run; if it died, "
                    f"delete that tag or wait {LOCK_STALE_SECONDS // 60} minutes)"
                )
        self.registry.client.set_registered_model_tag(self.registry.name, self.key, self.token)
        if self.registry.model_tags().get(self.key) != self.token:
            raise Refused(f"another release of '{self.env}' took the lock at the same moment (fix: re-run)")
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.registry.model_tags().get(self.key) == self.token:
                self.registry.client.delete_registered_model_tag(self.registry.name, self.key)
        except Exception:  # the lock goes stale on its own; never hide the real error behind this one
            pass
