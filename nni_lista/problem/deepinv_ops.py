"""Problems from deepinv's linear physics (deepinv 0.5, ``pip install -e '.[deepinv]'``, see
docs/deepinv.md): the physics' forward operator written out as a matrix, a sparsifying basis of
the user's choice, and sparse codes drawn as for any matrix problem.

For an image of shape ``(C, H, W)`` (``d = C H W`` pixels) the operator's matrix ``M`` has the
columns ``M e_i = vec(A(e_i))``, one call of ``physics.A`` per pixel (batched); rows that are zero
for every pixel (an inpainting mask's missing pixels) are dropped, and their indices kept in the
problem's settings (``rows``), so that a deepinv measurement maps to the problem's by
``y.flatten(1)[:, rows]``. The signal is ``x = D z`` with ``D`` the basis: ``identity`` (the
image itself is sparse), ``dct`` (the orthonormal 2-D DCT-II of each channel: ``D e_j`` is the
inverse DCT of the unit coefficient ``j``), or a ``d x n`` matrix (e.g. a learned dictionary).
"""

from __future__ import annotations

import math
from typing import Union

import numpy as np
import torch

from nni_lista.base.errors import UsageError, require
from nni_lista.problem.problems import Problem

#: what to install for the deepinv features
INSTALL = (
    "deepinv is not installed: install the extra in its own environment (it needs torch 2.14.1 for torchvision), "
    "python -m venv .venv-deepinv && .venv-deepinv/bin/pip install -e '.[deepinv]' (docs/deepinv.md)"
)
BASES = ("identity", "dct")


def require_deepinv():
    """The ``deepinv`` module, or a one-line :class:`UsageError` saying what to install."""
    try:
        import deepinv
    except ImportError:
        raise UsageError(INSTALL) from None
    return deepinv


def physics_matrix(physics, image_size: tuple[int, ...]) -> tuple[torch.Tensor, list[int]]:
    """``physics.A`` as a matrix over the flattened image, without its all-zero rows, and the
    indices of the rows kept."""
    require(
        isinstance(image_size, (tuple, list))
        and len(image_size) == 3
        and all(isinstance(v, int) and v >= 1 for v in image_size),
        f"image_size {image_size!r} is not allowed: give (channels, height, width), positive integers",
    )
    d = math.prod(image_size)
    require(
        d <= 4096,
        f"image_size {tuple(image_size)} is not allowed: at most 4096 pixels (the operator is written out as a matrix)",
    )
    pixels = torch.eye(d).reshape(d, *image_size)
    with torch.no_grad():
        columns = physics.A(pixels).reshape(d, -1).double()  # row i: A(e_i)
    matrix = columns.T  # (outputs, d)
    require(bool(torch.isfinite(matrix).all()), "the physics' operator gave NaN or infinite values")
    rows = torch.nonzero(matrix.abs().sum(dim=1) > 0).flatten().tolist()
    require(bool(rows), "the physics' operator is zero: no measurement depends on the image")
    return matrix[rows], rows


def basis_matrix(basis: Union[str, np.ndarray, torch.Tensor], image_size: tuple[int, ...]) -> torch.Tensor | None:
    """The synthesis matrix ``D`` (``d x n``) of ``basis``; ``None`` for the identity."""
    if isinstance(basis, str):
        require(
            basis in BASES, f"basis {basis!r} is not allowed: choose one of {', '.join(BASES)}, or give a d x n matrix"
        )
        if basis == "identity":
            return None
        from scipy.fft import idctn

        d = math.prod(image_size)
        units = np.eye(d).reshape(d, *image_size)
        return torch.from_numpy(idctn(units, axes=(2, 3), norm="ortho").reshape(d, d).T.copy())
    return torch.as_tensor(np.asarray(basis) if not isinstance(basis, torch.Tensor) else basis).double()


def from_physics(
    physics, image_size: tuple[int, ...], basis: Union[str, np.ndarray, torch.Tensor] = "identity", **options
) -> Problem:
    """A problem on deepinv ``physics`` (a linear operator on images of ``image_size``) with the
    sparsifying ``basis``; ``options`` as :func:`nni_lista.problem.own_data.from_matrix` takes them
    (``p``, ``snr_db``, ``seed``, ``n_val``, ``n_test``; ``normalise`` defaults to off here, so that
    the problem's signals are the images deepinv sees)."""
    from nni_lista.problem.own_data import from_matrix

    require(
        hasattr(physics, "A") and callable(physics.A),
        f"physics {type(physics).__name__} is not allowed: give a deepinv linear physics (it has an A method)",
    )
    matrix, rows = physics_matrix(physics, tuple(image_size))
    dictionary = basis_matrix(basis, tuple(image_size))
    options.setdefault("normalise", False)
    problem = from_matrix(matrix, dictionary=dictionary, source=f"deepinv {type(physics).__name__}", **options)
    problem.settings.update(
        {"image_size": list(image_size), "rows": rows, "basis": basis if isinstance(basis, str) else "matrix"}
    )
    return problem
