"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch


_UMASK = os.umask(0)
os.umask(_UMASK)


def _write_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")

    return _write_atomic(path, write)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    return _write_atomic(path, write)


def torch_save(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save`` to ``path`` atomically."""
    return _write_atomic(path, lambda tmp: torch.save(obj, tmp))


def json_safe(settings: dict) -> dict:
    """JSON has no Inf: infinite values (a noiseless SNR) become the string 'inf'."""
    return {k: (str(v) if isinstance(v, float) and math.isinf(v) else v) for k, v in settings.items()}


def from_json_safe(settings: dict) -> dict:
    """Undo :func:`json_safe`."""
    return {k: (float(v) if v in ("inf", "-inf") else v) for k, v in settings.items()}


def remove_orphans(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files :func:`_write_atomic` leaves when killed between writing and
    renaming (``.NAME.XXXXXXXX.tmp``) in ``directory`` and its ``layers/``; returns them.

    Call it only where one process writes: a run's own output directory."""
    removed = []
    for folder in (Path(directory), Path(directory) / "layers"):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if _ORPHAN.match(path.name) and path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


_ORPHAN = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
