"""Interrupts (SIGINT, SIGTERM) that end a command the same way, whatever library was running.

NNI and Lightning each handle an interrupt their own way: NNI's experiment swallows Ctrl-C and
returns as if the search had finished, its sequential engine logs "Model fails to be executed",
Lightning turns it into ``SystemExit(1)`` or, for SIGTERM, into a quiet early stop. Inside
:func:`interruptible` both signals raise ``KeyboardInterrupt`` (which all of them know how to
unwind) and are remembered; leaving the block after one arrived raises :class:`Interrupted`,
whatever the libraries made of it, so the command can say what happened and exit with
``128 + signal`` (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class Interrupted(BaseException):
    """SIGINT or SIGTERM ended the work. ``resume`` says what running the command again does."""

    def __init__(self, signum: int, resume: str) -> None:
        super().__init__(signum, resume)
        self.signum, self.resume = signum, resume

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@contextmanager
def interruptible(resume: str) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise ``KeyboardInterrupt``; leaving it after either
    raises :class:`Interrupted` (``resume``: what a rerun does). Nested blocks keep the innermost
    ``resume``. Outside the main thread (where no handler can be set) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except Interrupted:
        raise
    except BaseException:
        if received:
            raise Interrupted(received[0], resume) from None
        raise
    finally:
        for signum, old in previous.items():
            if old is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(signum, old)
    if received:  # a library swallowed it and returned as if done
        raise Interrupted(received[0], resume)
