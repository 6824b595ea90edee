"""Errors that carry a message for a person: what, where, what was expected, what to do."""


class NetmedicError(Exception):
    """Base of every error netmedic raises on purpose; the CLI prints it without a traceback."""

    exit_code = 2


class BadInputError(NetmedicError, ValueError):
    """A file, an argument or an array is not what netmedic expects (CLI exit 2)."""


class UserCodeError(NetmedicError):
    """The user's own code raised (CLI exit 3); ``__cause__`` is their exception."""

    exit_code = 3
