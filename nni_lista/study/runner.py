"""A resumable plan of work: each *unit* writes its result atomically to ``OUT/units/KEY.json``
and a rerun skips the units already written (training inside a unit resumes from its own
checkpoints). Nothing here knows what a unit does.

Several processes on one machine may run the same plan into the same ``OUT`` at once: a process
runs a unit only while it holds that unit's claim (an advisory ``flock`` on
``OUT/work/KEY.lock``, released when the unit ends or the process dies, however it dies) and
once the units it ``needs`` are written; it skips the others and comes back to them until every
unit is written.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator, Optional

from nni_lista.base.errors import require
from nni_lista.base.limits import MAX_RECORD_BYTES, read_bounded
from nni_lista.base.io import remove_orphans, remove_orphans_of, write_json

fcntl: Optional[ModuleType]
try:
    import fcntl
except ImportError:  # Windows: no flock; one process per study there
    fcntl = None


POLL_SECONDS = 2.0  # how often a process with nothing it can run looks again


@dataclass
class Unit:
    """One piece of work: ``key`` names its result file, ``work()`` returns its result and may
    read the results of the units named in ``needs`` (earlier units of the same plan)."""

    key: str
    work: Callable[[], dict]
    needs: tuple[str, ...] = ()


def unit_path(out: Path, key: str) -> Path:
    return Path(out) / "units" / f"{key}.json"


def unit_result(out: Path, key: str) -> Optional[dict]:
    """The result of unit ``key`` when it has run, ``None`` when not; a damaged file is a one-line error."""
    path = unit_path(out, key)
    if not path.is_file():
        return None
    try:
        data = json.loads(read_bounded(path, MAX_RECORD_BYTES, "unit file"))
        result = data["result"] if isinstance(data, dict) else None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, RecursionError):
        result = None
    require(
        isinstance(result, dict),
        f"unit file {str(path)!r} is damaged: delete it and run the same command again to redo that unit",
    )
    return result


@contextmanager
def claim(path: Path, wait: bool = False) -> Iterator[bool]:
    """Hold an exclusive claim on ``path`` among this machine's processes: yields True while this
    process holds it, False when another one does (``wait=True`` blocks until it is free). The
    lock file is removed on release; a holder checks that the file it locked is still the one at
    ``path``, so a claim is never held twice. An existing directory is locked in place: nothing
    is created or removed."""
    if fcntl is None:
        yield True
        return
    if path.is_dir():
        fd = os.open(path, os.O_RDONLY)
        try:
            yield _lock(fd, wait)
        finally:
            os.close(fd)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _lock(fd, wait):
            os.close(fd)
            yield False
            return
        try:
            if os.path.samestat(os.stat(path), os.fstat(fd)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # the holder before us removed that file: lock the new one
    try:
        yield True
    finally:
        try:
            os.unlink(path)
        finally:
            os.close(fd)


def _lock(fd: int, wait: bool) -> bool:
    """``flock`` ``fd`` exclusively: True once held, False when another process holds it and ``wait`` is off."""
    if fcntl is None:  # claim() never calls it then; this tells the type checker
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def work_path(out: Path, key: str) -> Path:
    """Where unit ``key`` keeps its checkpoints and other files while it runs."""
    return Path(out) / "work" / key


def lock_path(out: Path, key: str) -> Path:
    return Path(out) / "work" / f"{key}.lock"


def run_units(units: list[Unit], out: Path, progress: bool = True, desc: str = "study") -> float:
    """Run, in order, every unit whose result is not in ``out`` yet, sharing the work with any
    other process running the same plan into ``out`` (module docstring); returns the seconds
    spent, once every unit's result is written. Each result is written as
    ``{"key", "seconds", "result"}`` once its unit has finished."""
    from tqdm import tqdm

    index = {u.key: i for i, u in enumerate(units, start=1)}
    for unit in units:
        for need in unit.needs:
            require(
                index.get(need, len(units) + 1) < index[unit.key],
                f"unit {unit.key!r} needs {need!r}, which is not an earlier unit of the plan",
            )
    started = time.perf_counter()
    done = {
        u.key for u in units if unit_result(out, u.key) is not None
    }  # a damaged unit file is refused before any work
    if done:
        print(f"resuming: {len(done)} of {len(units)} units already done", file=sys.stderr, flush=True)
    pending = [u for u in units if u.key not in done]
    told: list[str] = []
    with tqdm(
        total=len(units), initial=len(done), desc=desc, unit="unit", disable=not progress, dynamic_ncols=True
    ) as bar:
        while pending:
            waiting, ran = [], False
            for unit in pending:
                if unit_path(out, unit.key).is_file():  # written by another process meanwhile
                    bar.update(1)
                    continue
                if not all(unit_path(out, need).is_file() for need in unit.needs):  # another process is computing them
                    waiting.append(unit)
                    continue
                with claim(lock_path(out, unit.key)) as mine:
                    if not mine:
                        waiting.append(unit)
                        continue
                    if unit_path(out, unit.key).is_file():  # finished by the process that held it before us
                        bar.update(1)
                        continue
                    # temporary files of a run killed between writing and renaming: only the
                    # claim's holder writes these, so only it may sweep them
                    remove_orphans_of(unit_path(out, unit.key))
                    remove_orphans(work_path(out, unit.key), recursive=True)
                    bar.set_postfix_str(unit.key)
                    print(f"[{index[unit.key]}/{len(units)}] {unit.key}", file=sys.stderr, flush=True)
                    began = time.perf_counter()
                    result = unit.work()
                    write_json(
                        unit_path(out, unit.key),
                        {"key": unit.key, "seconds": round(time.perf_counter() - began, 3), "result": result},
                    )
                    bar.update(1)
                    ran = True
            pending = waiting
            if pending and not ran:  # every unit left is another process's or needs one of theirs
                told = _tell_waiting(pending, told)
                time.sleep(POLL_SECONDS)
    return time.perf_counter() - started


def _tell_waiting(waiting: list[Unit], told: list[str]) -> list[str]:
    """Say which units this process waits for, once per change of that list."""
    keys = [u.key for u in waiting]
    if keys and keys != told:
        shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
        print(
            f"waiting for {len(keys)} unit(s) that other processes are running or that need theirs: {shown}",
            file=sys.stderr,
            flush=True,
        )
    return keys
