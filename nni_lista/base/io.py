"""Atomic file writes: a reader sees the old file or the new one, never half of one.

A write goes to ``.NAME.XXXXXXXX.tmp`` beside ``NAME`` (eight random
characters) and is renamed over ``NAME`` when complete. A write that fails (a full disk, a
file-size limit, a file where a directory belongs) removes its temporary file and raises
:class:`~nni_lista.base.errors.WriteFailed`, one line naming the file; a process killed between
writing and renaming leaves its temporary file behind, which :func:`remove_orphans` (a run's
directory, a search's or study's output tree) and :func:`remove_orphans_of` (one file's) delete
on the next run.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import re
import secrets
from pathlib import Path
from typing import Any, Callable


from nni_lista.base.errors import WriteFailed


_UMASK = os.umask(0)
os.umask(_UMASK)
_TMP_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"
_TMP_CHARS = f"[{_TMP_ALPHABET}]{{8}}"  # the random part: eight of the alphabet
_ORPHAN = re.compile(rf"^\..+\.{_TMP_CHARS}\.tmp$")
_NOT_OURS = ("nni-experiments",)  # NNI's own experiment folders under a search's --out: never touched


def _reason(path: Path, exc: OSError) -> str:
    """Why writing ``path`` failed, in a few words (never more than one line)."""
    for parent in path.parents:
        if os.path.lexists(parent):
            if not parent.is_dir():
                return f"{str(parent)!r} is {'a file, not' if parent.is_file() else 'not'} a directory"
            break
    if path.is_dir():
        return "it is a directory"
    if exc.errno == errno.EFBIG:
        return "the file would exceed this process's file-size limit (ulimit -f)"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device (or the disk quota is used up): free some and run the command again"
    return (exc.strerror or type(exc).__name__).splitlines()[0]


def _write_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:  # the name is known before the file exists, so a SIGTERM between the two cannot orphan it
            tmp = str(path.parent / f".{path.name}.{''.join(secrets.choice(_TMP_ALPHABET) for _ in range(8))}.tmp")
            try:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                break
            except FileExistsError:
                tmp = None
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # created 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise WriteFailed(f"cannot write {str(path)!r}: {_reason(path, exc)}") from exc
        raise
    return path


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")

    return _write_atomic(path, write)


def json_unit(path: str | os.PathLike, work: Callable[[], Any]) -> Any:
    """The JSON at ``path``; when there is none, ``work()``'s result, written there atomically
    first (a finished piece of a long benchmark, kept for its rerun)."""
    path = Path(path)
    if path.is_file():
        return json.loads(path.read_text())
    value = work()
    write_json(path, value)
    return value


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    return _write_atomic(path, write)


def torch_save(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save`` to ``path`` atomically.

    The bytes are made in memory and written by Python, so that a failed write raises
    ``OSError`` (torch's own file writer reports a full disk as a bare ``RuntimeError``)."""
    import torch  # here, so that the JSON and text writers need no torch

    def write(tmp: str) -> None:
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())

    return _write_atomic(path, write)


def json_safe(settings: dict) -> dict:
    """JSON has no Inf: infinite values (a noiseless SNR) become the string 'inf'."""
    return {k: (str(v) if isinstance(v, float) and math.isinf(v) else v) for k, v in settings.items()}


def from_json_safe(settings: dict) -> dict:
    """Undo :func:`json_safe`."""
    return {k: (float(v) if v in ("inf", "-inf") else v) for k, v in settings.items()}


def _listing(folder: Path) -> list[Path]:
    """The entries of ``folder``; none where it is missing, not a directory or unreadable."""
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def _remove(path: Path) -> bool:
    if not path.is_file() or path.is_symlink():
        return False
    try:
        path.unlink(missing_ok=True)
    except OSError:  # not ours to delete after all (a read-only folder): leave it
        return False
    return True


def remove_orphans(directory: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Delete the temporary files :func:`_write_atomic` leaves when killed between writing and
    renaming (``.NAME.XXXXXXXX.tmp``) in ``directory`` and its ``layers/`` (a run's directory),
    or, with ``recursive``, anywhere under ``directory`` except NNI's ``nni-experiments/``
    (a search's or a study's output tree, the prefix cache in it); returns them. Links are
    neither followed nor deleted.

    Call it only where one process writes, before it starts: a command's own output directory."""
    root = Path(directory)
    if recursive:
        folders = []
        for walked, subfolders, _ in os.walk(root):
            subfolders[:] = [name for name in subfolders if name not in _NOT_OURS]
            folders.append(Path(walked))
    else:
        folders = [root, root / "layers"]
    removed = []
    for folder in folders:
        removed += [path for path in _listing(folder) if _ORPHAN.match(path.name) and _remove(path)]
    return removed


def remove_orphans_of(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that writing ``path`` atomically left beside it
    (``.NAME.XXXXXXXX.tmp`` for this ``NAME`` only: the folder may hold other files); returns them."""
    path = Path(path)
    mine = re.compile(rf"^\.{re.escape(path.name)}\.{_TMP_CHARS}\.tmp$")
    return [p for p in _listing(path.parent) if mine.match(p.name) and _remove(p)]
