"""Expected failures, each with the exit code the CLI maps it to."""


class ModelrailError(Exception):
    """An expected failure: the message names the file, key or column at fault."""

    exit_code = 2


class ConfigError(ModelrailError):
    """Usage or configuration is wrong (a missing file, a bad suite, a bad modelrail.yaml): exit 2."""

    exit_code = 2


class DataError(ModelrailError):
    """The data itself is bad (unreadable, malformed, empty): the gate fails, exit 1."""

    exit_code = 1


class ContainerError(ModelrailError):
    """An image failed to build or to push: the step failed, exit 1."""

    exit_code = 1
