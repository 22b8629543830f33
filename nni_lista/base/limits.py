"""Bounds checked before anything big is allocated or any work starts (issue #16).

Sizes a user gives (depth, problem size, batch) are refused with one line when they exceed a
fixed cap or the memory the machine has; output paths are refused when nothing could be
written there; names that become path parts must be plain.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Optional, TypeGuard, cast

from nni_lista.base.errors import UsageError, require, short

MAX_LAYERS = 256  # the full space has O(T^2) labels (skips); 256 layers is far past any study
MAX_ARCH_FILE_BYTES = 16 << 20
MAX_TRIALS = 10_000  # architectures one multi-trial search may train (10,000 proxies: days on one machine)
MAX_BATCHES = 1_000_000  # supernet training batches of a one-shot or weight-sharing search
MAX_STEPS = 10_000_000  # Adam steps of one training run
MAX_SECONDS = 30 * 24 * 3600  # a time bound (search --max-seconds): at most 30 days
_LAYER_LABEL = re.compile(r"^layer0*(\d+)/")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
_FORBIDDEN_ROOTS = (
    "/proc",
    "/sys",
    "/dev",
    "/etc",
    "/boot",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
)  # the system, not results


def is_int(value: object) -> TypeGuard[int]:
    """An integer, and not a bool (``True`` is an ``int`` to Python, not a size to us)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: object) -> TypeGuard[float]:
    """A finite int or float, and not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_layers(value: object, name: str = "layers", low: int = 1) -> int:
    """``value`` if it is an integer in [low, MAX_LAYERS], else a one-line error."""
    ok = is_int(value) and low <= value <= MAX_LAYERS
    require(ok, f"{name} {short(value)} is not allowed: it must be an integer in [{low}, {MAX_LAYERS}]")
    return cast(int, value)


def check_count(value: object, name: str, high: int, what: str = "") -> int:
    """``value`` if it is an integer in [1, high], else a one-line error (checked before any work:
    a budget of 10^11 is refused, not run until it is killed)."""
    ok = is_int(value) and 1 <= value <= high
    require(ok, f"{name} {short(value)} is not allowed: it must be an integer in [1, {high:,}]{what}")
    return cast(int, value)


def label_layer(label: object) -> Optional[int]:
    """The layer ``k`` a label ``layer{k}/...`` names (leading zeros skipped), ``MAX_LAYERS + 1``
    for a number of more than 9 digits (never converted: Python refuses very long ones), or None
    for a string that is no such label."""
    match = _LAYER_LABEL.match(str(label)) if isinstance(label, str) else None
    if match is None:
        return None
    digits = match.group(1)
    return MAX_LAYERS + 1 if len(digits) > 9 else int(digits)


def check_arch_depth(arch: object, where: str) -> None:
    """Refuse a label map whose labels name a layer beyond :data:`MAX_LAYERS`, before any
    table of its labels is built (the space's label table grows as T^2)."""
    if not isinstance(arch, dict):
        return  # the space's own validation says what is wrong
    for label in arch:
        layer = label_layer(label)
        if layer is not None and layer > MAX_LAYERS:
            raise UsageError(
                f"{where}: label {short(label)} names a layer beyond {MAX_LAYERS}: "
                f"architectures may have at most {MAX_LAYERS} layers"
            )


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The bytes of file ``path``, read up to ``limit + 1`` bytes and refused past ``limit``
    (a size from ``stat`` is not trusted: ``/dev/zero`` and pipes report 0)."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    require(len(data) <= limit, f"{what} {str(path)!r} has more than {limit} bytes: at most {limit} are allowed")
    return data


MAX_RECORD_BYTES = 64 << 20  # a JSON or YAML file the package reads back (records, tables, configs)
MAX_TENSOR_FILE_BYTES = 8 << 30  # a problem file or checkpoint (torch reads it whole)


def check_regular_file(path: Path, limit: int, what: str) -> None:
    """Refuse, before torch reads it, a file that is not a regular file (a device such as
    /dev/zero, a pipe: their size says nothing) or that holds more than ``limit`` bytes or more
    than the memory available now. A missing file raises ``FileNotFoundError`` as before."""
    import stat

    info = os.stat(path)
    require(stat.S_ISREG(info.st_mode), f"{what} {str(path)!r} is not a regular file")
    require(info.st_size <= limit, f"{what} {str(path)!r} has {info.st_size} bytes: at most {limit} are allowed")
    require(
        info.st_size <= available_bytes(),
        f"{what} {str(path)!r} has {info.st_size / 2**30:.1f} GiB but only "
        f"{available_bytes() / 2**30:.1f} GiB of memory are available",
    )


def available_bytes() -> int:
    """Memory this process may use now (psutil's available memory)."""
    import psutil

    return int(psutil.virtual_memory().available)


def estimate_bytes(
    m: int, n: int, layers: int = 1, batch: int = 0, n_fixed: int = 2000, d: Optional[int] = None
) -> int:
    """A rough lower bound on the bytes a run needs: the operator (float64 while made), the fixed
    sets, a full-space model with Adam's state (dense skips: T^2 n-vectors are small, the
    n x n and n x m weights of every layer dominate) and one batch's activations of T layers."""
    d = n if d is None else d
    floats = 3 * m * n  # A in float64 while made, then float32
    floats += n_fixed * (m + d)
    floats += 4 * layers * (n * n + n * m)  # weights, gradients, two Adam moments
    floats += 4 * batch * (m + n + d) * max(layers, 1)  # activations kept for backward, and their gradients
    return 4 * floats


def check_memory(
    what: str, m: int, n: int, layers: int = 1, batch: int = 0, n_fixed: int = 2000, d: Optional[int] = None
) -> None:
    """One-line refusal when :func:`estimate_bytes` exceeds the memory available now."""
    need = estimate_bytes(m, n, layers, batch, n_fixed, d)
    have = available_bytes()
    require(
        need <= have,
        f"{what} needs about {need / 2**30:.1f} GiB of memory but {have / 2**30:.1f} GiB are available: "
        "give smaller sizes",
    )


def check_name(name: object, where: str) -> str:
    """``name`` if it is safe as one path part ([A-Za-z0-9_.-]+, not starting with '.'), else a one-line error."""
    require(
        isinstance(name, str) and len(name) <= 100 and _SAFE_NAME.match(name) is not None,
        f"{where} name {short(name)} is not allowed: use 1-100 of the characters A-Z a-z 0-9 _ . - , not starting "
        "with '.'",
    )
    return cast(str, name)


def check_output(path: Path, option: str = "--out", directory: bool = True) -> None:
    """Refuse an output path that cannot be written, before any work: an existing file where a
    directory is wanted (or the reverse), a path under a file, under a system directory (/proc,
    /sys, /dev, /etc, /boot, /bin, /sbin, /lib), also through a symbolic link, or
    under a directory this process may not write to."""
    path = Path(path)
    resolved = Path(os.path.abspath(path))
    for where in {resolved, Path(os.path.realpath(path))}:  # a link into /proc counts too
        for root in _FORBIDDEN_ROOTS:
            require(
                not (where == Path(root) or Path(root) in where.parents),
                f"{option} {str(path)!r} is not allowed: nothing may be written under {root}",
            )
    if directory:
        require(not path.exists() or path.is_dir(), f"{option} {str(path)!r} is an existing file: give a directory")
    else:
        require(not path.is_dir(), f"{option} {str(path)!r} is a directory: give a file name")
    probe = resolved if directory and path.is_dir() else resolved.parent
    while not probe.exists():
        probe = probe.parent
    require(probe.is_dir(), f"{option} {str(path)!r} is not allowed: {str(probe)!r} is a file, not a directory")
    require(
        os.access(probe, os.W_OK | os.X_OK), f"{option} {str(path)!r} is not allowed: {str(probe)!r} is not writable"
    )


def check_network(m: object, n: object, layers: object, lam: object = None) -> None:
    """The checks every public constructor of a network makes before allocating it (one line each):
    ``1 <= m <= n`` integers, ``layers`` in ``[1, MAX_LAYERS]``, ``lam`` (when given) a finite
    number > 0, and the network's memory against what the machine has available now."""
    check_layers(layers)
    require(is_int(n) and n >= 1, f"n {short(n)} is not allowed: it must be an integer >= 1")
    n = cast(int, n)
    require(is_int(m) and 1 <= m <= n, f"m {short(m)} is not allowed: it must be an integer >= 1 and <= n ({n})")
    require(
        lam is None or (is_finite_number(lam) and lam > 0),
        f"lam {short(lam)} is not allowed: it must be a finite number > 0",
    )
    check_memory(f"a {m}x{n} network with {layers} layers", cast(int, m), n, cast(int, layers), batch=0, n_fixed=0)
