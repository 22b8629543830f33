"""A resumable plan of work: each *unit* writes its result atomically to ``OUT/units/KEY.json``
and a rerun skips the units already written (training inside a unit resumes from its own
checkpoints). Nothing here knows what a unit does."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from nni_lista.base.errors import require
from nni_lista.base.io import remove_orphans, write_json


@dataclass
class Unit:
    """One piece of work: ``key`` names its result file, ``work()`` returns its result."""

    key: str
    work: Callable[[], dict]


def unit_path(out: Path, key: str) -> Path:
    return Path(out) / "units" / f"{key}.json"


def unit_result(out: Path, key: str) -> Optional[dict]:
    """The result of unit ``key`` when it has run, ``None`` when not; a damaged file is a one-line error."""
    path = unit_path(out, key)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        result = data["result"] if isinstance(data, dict) else None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, RecursionError):
        result = None
    require(isinstance(result, dict), f"unit file {str(path)!r} is damaged: delete it and run the same command again to redo that unit")
    return result


def run_units(units: list[Unit], out: Path, progress: bool = True, desc: str = "study") -> float:
    """Run, in order, every unit whose result is not in ``out`` yet; returns the seconds spent.
    Each result is written as ``{"key", "seconds", "result"}`` once its unit has finished."""
    from tqdm import tqdm

    remove_orphans(out, recursive=True)  # temporary files of a run killed between writing and renaming
    started = time.perf_counter()
    finished = sum(unit_result(out, u.key) is not None for u in units)  # a damaged unit file is refused before any work
    if finished:
        print(f"resuming: {finished} of {len(units)} units already done", file=sys.stderr, flush=True)
    with tqdm(total=len(units), initial=finished, desc=desc, unit="unit", disable=not progress, dynamic_ncols=True) as bar:
        for index, unit in enumerate(units, start=1):
            if unit_path(out, unit.key).is_file():
                continue
            bar.set_postfix_str(unit.key)
            print(f"[{index}/{len(units)}] {unit.key}", file=sys.stderr, flush=True)
            began = time.perf_counter()
            result = unit.work()
            write_json(unit_path(out, unit.key), {"key": unit.key, "seconds": round(time.perf_counter() - began, 3), "result": result})
            bar.update(1)
    return time.perf_counter() - started
