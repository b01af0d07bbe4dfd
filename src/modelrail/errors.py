"""Expected failures, each with the exit code the CLI maps it to."""


class ModelrailError(Exception):
    """An expected failure: the message names the file, key or column at fault."""

    exit_code = 2


class ConfigError(ModelrailError):
    """Usage or configuration is wrong (a missing file, a bad suite, a bad modelrail.yaml): exit 2."""


class StepFailed(ModelrailError):
    """The step failed on what it was given (the data, the image, the release): exit 1."""

    exit_code = 1


class DataError(StepFailed):
    """The data itself is bad (unreadable, malformed, empty): the gate fails."""


class ContainerError(StepFailed):
    """An image failed to build or to push."""


class Refused(StepFailed):
    """A promotion or rollback refused before anything changed; the message says why and what to do.

    Raised before any registry or branch moves, so re-running after the fix is always safe."""


class ReleaseFailed(StepFailed):
    """A registry failed midway through a release; every move already made was undone."""
