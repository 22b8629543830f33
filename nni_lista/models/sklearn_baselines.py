"""scikit-learn's classical sparse solvers on a batch of measurements (rows of ``b``).

* :func:`lasso` solves ``min_x 0.5 ||b - A x||^2 + lam ||x||_1`` per sample with
  ``sklearn.linear_model.Lasso(alpha=lam / m, fit_intercept=False)`` -- scikit-learn scales
  the data term by ``1 / (2 m)``, hence ``alpha = lam / m``. The same problem ISTA and FISTA
  solve.
* :func:`omp` runs orthogonal matching pursuit with a given number of non-zeros.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch


def lasso(A: torch.Tensor, b: torch.Tensor, lam: float, tol: float = 1e-10, max_iter: int = 100_000) -> torch.Tensor:
    """LASSO solutions (batch, n) by coordinate descent, to ``tol``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    A64 = A.double().numpy()
    solver = Lasso(alpha=lam / A64.shape[0], fit_intercept=False, tol=tol, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        solver.fit(A64, b.double().numpy().T)
    return torch.from_numpy(np.atleast_2d(solver.coef_)).to(b.dtype)


def omp(A: torch.Tensor, b: torch.Tensor, nonzeros: int) -> torch.Tensor:
    """Orthogonal matching pursuit estimates (batch, n) with ``nonzeros`` atoms each."""
    from sklearn.linear_model import orthogonal_mp

    codes = orthogonal_mp(A.double().numpy(), b.double().numpy().T, n_nonzero_coefs=nonzeros)
    return torch.from_numpy(np.atleast_2d(codes.T)).to(b.dtype)
