"""A problem from a researcher's own matrix, and optionally their own dictionary and signals.

The operator is the user's ``m x n`` matrix ``A`` (a calibrated instrument, rows of a DCT, ...),
or ``A = Phi D`` for a sensing matrix ``Phi`` (``m x d``) and a dictionary ``D`` (``d x n``). By
default the columns of ``A`` are scaled to unit l2 norm, as the synthetic problems' are (with a
dictionary the scale goes into ``D``, so ``s = D z`` is unchanged); ``normalise=False`` keeps the
matrix as given. The Lipschitz constant and ALISTA's analytic weight are computed from ``A`` by the
models, as for every problem.

The codes are drawn as for the synthetic problems (Bernoulli(``p``) support, N(0, 1) values) from
``seed``, unless the user gives their own: ``train``, ``val`` and ``test`` arrays of codes (rows of
length ``n``), or of signals (rows of length ``d``) when there is a dictionary. Noise is added at
``snr_db`` from ``seed``. Files are read without unpickling (``allow_pickle`` is never on) and
their shapes, types and sizes checked before their data is read.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from nni_lista.base.errors import UsageError, require, short
from nni_lista.base.limits import MAX_TENSOR_FILE_BYTES, check_memory, check_regular_file
from nni_lista.problem.problems import _TEST, _VAL, Problem, Split, SyntheticSettings, check_instance, seeded_generator

#: the file types a matrix or a signal set may come in
ARRAY_SUFFIXES = (".npy", ".npz", ".pt")


def _read_header(handle, where: str) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(handle)
    require(version in ((1, 0), (2, 0)), f"{where} is a .npy of format {version}: save it with numpy.save")
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = reader(handle)
    return shape, dtype


def _header(path: Path, what: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the array in a ``.npy`` file or a one-array ``.npz``, from its header only."""
    where = f"{what} {str(path)!r}"
    if path.suffix == ".npy":
        with open(path, "rb") as handle:
            return _read_header(handle, where)
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith(".npy")]
        require(len(names) == 1, f"{where} holds {len(names)} arrays: give a .npz with exactly one")
        with archive.open(names[0]) as handle:
            return _read_header(handle, where)


def read_array(path: str | os.PathLike, what: str) -> np.ndarray:
    """The numeric array in a ``.npy``, ``.npz`` (one array) or ``.pt`` (one tensor) file; a file
    of another kind, an object or non-numeric array, or one too large for the memory available
    is refused in one line before its data is read."""
    path = Path(path)
    require(
        path.suffix in ARRAY_SUFFIXES, f"{what} {str(path)!r} is not allowed: give a {', '.join(ARRAY_SUFFIXES)} file"
    )
    try:
        check_regular_file(path, MAX_TENSOR_FILE_BYTES, what)
        if path.suffix != ".pt":
            shape, dtype = _header(path, what)
            require(
                dtype.kind in "fiu",
                f"{what} {str(path)!r} holds {dtype} values: give a numeric (float or integer) array",
            )
            need = math.prod(shape) * 8 if shape else 0
            require(
                need <= 2 * MAX_TENSOR_FILE_BYTES,
                f"{what} {str(path)!r} has shape {short(shape)}: {need / 2**30:.0f} GiB as "
                f"float64, more than the {2 * MAX_TENSOR_FILE_BYTES / 2**30:.0f} GiB allowed",
            )
            check_memory(f"{what} {str(path)!r} of shape {short(shape)}", 1, max(1, math.prod(shape)), n_fixed=0)
            array = np.load(path, allow_pickle=False)
            if isinstance(array, np.lib.npyio.NpzFile):
                with array:
                    array = array[array.files[0]]
        else:
            value = torch.load(path, map_location="cpu", weights_only=True)
            require(
                isinstance(value, torch.Tensor), f"{what} {str(path)!r} holds a {type(value).__name__}, not one tensor"
            )
            require(
                not value.is_complex() and value.dtype != torch.bool,
                f"{what} {str(path)!r} holds {value.dtype} values: give a real-valued tensor",
            )
            array = value.detach().to(torch.float64).contiguous().numpy()
    except FileNotFoundError:
        raise UsageError(f"{what} {str(path)!r} does not exist") from None
    except UsageError:
        raise
    except Exception as exc:  # numpy and torch raise many kinds for a bad file (ValueError for object arrays, ...)
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise UsageError(f"cannot read {what} {str(path)!r} ({reason})") from None
    return array


def _as_float_matrix(value: object, what: str, rows: Optional[int] = None, cols: Optional[int] = None) -> torch.Tensor:
    """``value`` (numpy array or tensor) as a finite float64 matrix; shape and entries checked."""
    if isinstance(value, torch.Tensor):
        require(
            not value.is_complex() and value.dtype != torch.bool,
            f"{what} holds {value.dtype} values: give real numbers",
        )
        tensor = value.detach().to("cpu", torch.float64)
    else:
        array = np.asarray(value)
        require(
            array.dtype.kind in "fiu", f"{what} holds {array.dtype} values: give a numeric (float or integer) array"
        )
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))
    require(tensor.dim() == 2, f"{what} has shape {short(tuple(tensor.shape))}: give a 2-D array (a matrix)")
    require(rows is None or tensor.shape[0] == rows, f"{what} has {tensor.shape[0]} rows, but {rows} are needed")
    require(
        cols is None or tensor.shape[1] == cols,
        f"{what} has rows of length {tensor.shape[1]}, but the problem's are of length {cols}",
    )
    require(tensor.numel() > 0, f"{what} is empty")
    require(bool(torch.isfinite(tensor).all()), f"{what} has NaN or infinite entries")
    return tensor


def _operator(
    matrix: object, dictionary: Optional[object], normalise: bool
) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The sensing matrix and the synthesis matrix (``None`` without a dictionary), checked and,
    with ``normalise``, with the operator's columns scaled to unit norm."""
    sensing = _as_float_matrix(matrix, "the matrix")
    m = sensing.shape[0]
    synthesis = None if dictionary is None else _as_float_matrix(dictionary, "the dictionary", rows=sensing.shape[1])
    n = sensing.shape[1] if synthesis is None else synthesis.shape[1]
    require(
        m <= n,
        f"the operator is {m}x{n}: m = {m} is not allowed, it must be at most n = {n} (sparse recovery "
        "needs at most as many measurements as unknowns)",
    )
    require(n >= 2, f"the operator is {m}x{n}: n must be at least 2")
    check_memory(f"a {m}x{n} problem", m, n)
    A = sensing if synthesis is None else sensing @ synthesis
    norms = A.norm(dim=0)
    zero = torch.nonzero(norms == 0).flatten().tolist()
    require(
        not zero,
        f"column {zero[0] if zero else ''} of the operator is all zero ({len(zero)} all-zero column"
        f"{'s' if len(zero) > 1 else ''} in all): no code entry there can be recovered; remove them",
    )
    if normalise:
        if synthesis is None:
            sensing = sensing / norms
        else:
            synthesis = synthesis / norms
    return sensing, synthesis


def _matrix_problem(sensing: torch.Tensor, synthesis: Optional[torch.Tensor], **fields) -> Problem:
    """A ``matrix`` problem on this operator, its settings and sets still to fill in."""
    empty = Split(torch.empty(0), torch.empty(0))
    return Problem(
        kind="matrix",
        settings={},
        sensing=sensing.float(),
        synthesis=None if synthesis is None else synthesis.float(),
        val=empty,
        test=empty,
        **fields,
    )


def from_matrix(
    matrix: object,
    p: float = 0.1,
    snr_db: float = math.inf,
    seed: int = 0,
    n_val: int = 1000,
    n_test: int = 1000,
    dictionary: Optional[object] = None,
    normalise: bool = True,
    source: str = "arrays",
) -> Problem:
    """A problem whose operator is ``matrix`` (``m x n``; or ``matrix @ dictionary``), with
    Bernoulli-Gaussian codes drawn from ``seed`` (see the module docstring)."""
    SyntheticSettings(
        m=1, n=2, p=p, snr_db=snr_db, seed=seed, n_val=n_val, n_test=n_test
    )  # the same checks as synthetic
    sensing, synthesis = _operator(matrix, dictionary, normalise)
    problem = _matrix_problem(sensing, synthesis, p=p, snr_db=snr_db)
    problem.settings = {
        "m": problem.m,
        "n": problem.n,
        "p": p,
        "snr_db": snr_db,
        "seed": seed,
        "n_val": n_val,
        "n_test": n_test,
        "normalised": normalise,
        "dictionary": synthesis is not None,
        "signals": "drawn",
        "source": source,
    }
    problem.val = _measured(problem, _signals(problem, n_val, _VAL), _VAL)
    problem.test = _measured(problem, _signals(problem, n_test, _TEST), _TEST)
    check_instance(problem, "the problem")
    return problem


def from_arrays(
    matrix: object,
    train: object,
    val: object,
    test: object,
    snr_db: float = math.inf,
    seed: int = 0,
    dictionary: Optional[object] = None,
    normalise: bool = True,
    source: str = "arrays",
) -> Problem:
    """A problem whose operator is ``matrix`` (or ``matrix @ dictionary``) and whose training pool,
    validation and test sets are the user's own: rows of codes (length ``n``), or of signals
    (length ``d``) with a dictionary. The measurements get noise at ``snr_db`` from ``seed``."""
    SyntheticSettings(m=1, n=2, snr_db=snr_db, seed=seed)  # the same checks as synthetic
    sensing, synthesis = _operator(matrix, dictionary, normalise)
    length = sensing.shape[1]
    sets = {
        name: _as_float_matrix(value, f"the {name} set", cols=length).float()
        for name, value in (("training", train), ("validation", val), ("test", test))
    }
    problem = _matrix_problem(sensing, synthesis, p=1.0, snr_db=snr_db, train_pool=sets["training"])
    problem.settings = {
        "m": problem.m,
        "n": problem.n,
        "snr_db": snr_db,
        "seed": seed,
        "n_train": sets["training"].shape[0],
        "n_val": sets["validation"].shape[0],
        "n_test": sets["test"].shape[0],
        "normalised": normalise,
        "dictionary": synthesis is not None,
        "signals": "given",
        "source": source,
    }
    problem.val = _measured(problem, sets["validation"], _VAL)
    problem.test = _measured(problem, sets["test"], _TEST)
    check_instance(problem, "the problem")
    return problem


def _signals(problem: Problem, count: int, purpose: int) -> torch.Tensor:
    return problem.draw_signals(count, seeded_generator(problem.settings["seed"], purpose, 1))


def _measured(problem: Problem, signals: torch.Tensor, purpose: int) -> Split:
    return Split(problem.measure(signals, seeded_generator(problem.settings["seed"], purpose, 2)), signals)


def from_files(
    matrix: str | os.PathLike,
    dictionary: Optional[str | os.PathLike] = None,
    signals: Optional[Sequence[str | os.PathLike]] = None,
    **options,
) -> Problem:
    """:func:`from_matrix` or (with ``signals``: the training, validation and test files)
    :func:`from_arrays` on arrays read by :func:`read_array`."""
    A = read_array(matrix, "matrix file")
    D = None if dictionary is None else read_array(dictionary, "dictionary file")
    source = Path(matrix).name
    if signals is None:
        return from_matrix(A, dictionary=D, source=source, **options)
    require(len(signals) == 3, f"--signals {short(signals)} is not allowed: give three files, training,validation,test")
    train, val, test = (
        read_array(path, f"{name} file") for path, name in zip(signals, ("training", "validation", "test"))
    )
    options.pop("p", None), options.pop("n_val", None), options.pop("n_test", None)
    return from_arrays(A, train, val, test, dictionary=D, source=source, **options)


def describe(problem: Problem) -> str:
    """One line on a user-matrix problem, for the command line."""
    s = problem.settings
    codes = "the given signals" if s.get("signals") == "given" else f"Bernoulli({s['p']:g})-Gaussian codes"
    return (
        f"a {problem.m}x{problem.n} operator from {s['source']}"
        f"{' (columns scaled to unit norm)' if s['normalised'] else ''}, {codes}, SNR {s['snr_db']} dB"
    )
