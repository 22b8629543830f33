"""Errors that carry a one-line message meant for the user.

The CLI prints ``nni-lista: error: <message>`` for :class:`UsageError` (and so for
:class:`WriteFailed`) and exits with code 2; for :class:`TrainingDiverged` it exits with code 1
after the last good checkpoint has been kept.
"""


class UsageError(ValueError):
    """Bad input: the message names the bad value and what is allowed."""


class WriteFailed(UsageError):
    """A file could not be written (a full disk, a file-size limit, a file where a directory
    belongs, no permission): the message names the file and why. Like a bad ``--out`` it ends
    the command with one line and exit code 2; the file's previous version, if any, is unchanged
    and no temporary file is left (:mod:`nni_lista.base.io`)."""


class TrainingDiverged(RuntimeError):
    """A loss became NaN or Inf; the message says where and which checkpoint survives."""


def require(condition: object, message: str) -> None:
    """Raise :class:`UsageError` with ``message`` unless ``condition`` is true."""
    if not condition:
        raise UsageError(message)


def _bounded_repr(value: object, limit: int) -> str:
    """A repr that never builds more than about ``limit`` characters: nested YAML aliases
    (a "billion laughs" file) make values whose full repr would take gigabytes."""
    import reprlib

    shown = reprlib.Repr()
    shown.maxlevel, shown.maxstring, shown.maxother = 4, max(limit, 12), max(limit, 12)
    shown.maxlist = shown.maxtuple = shown.maxdict = shown.maxset = shown.maxfrozenset = shown.maxdeque = (
        shown.maxarray
    ) = 8
    if isinstance(value, int) and value.bit_length() > 4096:
        return f"<an integer of {value.bit_length()} bits>"
    try:
        return shown.repr(value)
    except ValueError:  # an integer too long to print, deep inside
        return f"<a {type(value).__name__} too large to show>"


def short(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages: a value a user gave may be huge
    (even a few hundred bytes of YAML aliases), so no more than about ``limit`` characters of it
    are ever built."""
    text = _bounded_repr(value, limit)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, (str, bytes)) else ""
    return f"{text[:limit]}...{size}"
