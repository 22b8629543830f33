"""Errors that carry a one-line message meant for the user.

The CLI prints ``nni-lista: error: <message>`` for :class:`UsageError` and exits with
code 2; for :class:`TrainingDiverged` it exits with code 1 after the last good
checkpoint has been kept.
"""


class UsageError(ValueError):
    """Bad input: the message names the bad value and what is allowed."""


class TrainingDiverged(RuntimeError):
    """A loss became NaN or Inf; the message says where and which checkpoint survives."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`UsageError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise UsageError(message)


def short(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages: a value a user gave may be huge."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
