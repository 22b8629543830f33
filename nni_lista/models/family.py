"""The LISTA family and its classical ancestors, as plain PyTorch modules.

Every model maps measurements ``b`` (batch, m) to the list of its T layer outputs, each
(batch, n), for the operator ``A`` (m x n) it was built for. ``L = 1.001 ||A||_2^2``.

=============  ===========================================================  ==============
model          layer k (rows; ``eta`` soft threshold, ``eta_ss`` with        learned
               support selection)
=============  ===========================================================  ==============
ISTA           ``x <- eta_{lam/L}(x + (b - x A^T) A / L)``                   nothing
FISTA          ISTA step at a Nesterov point ``y`` (Beck & Teboulle 2009)    nothing
LISTA          ``x <- eta_{theta_k}(b B^T + x W_k^T)``, x^0 = 0              B, W_k, theta_k
               (Gregor & LeCun 2010); init ``B = A^T/L``, ``W_k = I - BA``,
               ``theta_k = lam/L`` -- exactly ISTA at initialisation
LISTA-CP       ``x <- eta_{theta_k}(x + (b - x A^T) W_k)``, init ``W_k = A/L``  W_k, theta_k
               (Chen et al. 2018, coupled weights)
LISTA-CPSS     LISTA-CP with ``eta_ss``, ``q_k = min(1.2 (k+1), 13)`` %       W_k, theta_k
ALISTA         ``x <- eta_ss(x - gamma_k (x A^T - b) W)`` with the analytic   gamma_k, theta_k
               ``W`` of :func:`analytic_weight` (Liu et al. 2019)
=============  ===========================================================  ==============

:meth:`UnrolledModel.layer_parameters` tells which parameters layer k introduces, which the
stage-wise protocol needs. :data:`MODELS` is the registry keyed by CLI name.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from nni_lista.models.thresholds import cpss_percent, soft_threshold, support_selected_threshold

DEFAULT_LAM = 0.4


def lipschitz(A: torch.Tensor) -> float:
    """``1.001 ||A||_2^2``, the step-size constant of ISTA used throughout the family."""
    return 1.001 * float(torch.linalg.matrix_norm(A.double(), ord=2)) ** 2


def analytic_weight(A: torch.Tensor) -> torch.Tensor:
    """ALISTA's analytic weight: the minimiser of ``||W^T A||_F`` subject to
    ``diag(W^T A) = 1``. Closed form with ``G = A A^T``: column i is
    ``G^{-1} a_i / (a_i^T G^{-1} a_i)``. Returns an (m x n) float32 matrix."""
    A64 = A.double()
    GinvA = torch.linalg.solve(A64 @ A64.T, A64)
    return (GinvA / (A64 * GinvA).sum(dim=0, keepdim=True)).to(A.dtype)


def alista_step(A: torch.Tensor, W: torch.Tensor) -> float:
    """ALISTA's initial step ``min(1, 1 / ||W^T A||_2)`` (1 in the paper; smaller when that
    would make the first iterations expand)."""
    return min(1.0, 1.0 / float(torch.linalg.matrix_norm(W.double().T @ A.double(), ord=2)))


def _scalars(value: float, count: int) -> nn.ParameterList:
    return nn.ParameterList(nn.Parameter(torch.tensor(float(value))) for _ in range(count))


class UnrolledModel(nn.Module):
    """Base of every model: holds ``A`` as a buffer, the layer count and ``lam``."""

    learned = True

    def __init__(self, A: torch.Tensor, layers: int, lam: float = DEFAULT_LAM):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.register_buffer("A", A.detach().clone().float())
        self.layers = layers
        self.lam = lam
        self.L = lipschitz(A)

    @property
    def m(self) -> int:
        return self.A.shape[0]

    @property
    def n(self) -> int:
        return self.A.shape[1]

    def layer_parameters(self, k: int) -> list[nn.Parameter]:
        """The parameters that layer ``k`` (0-based) introduces."""
        return []

    def depth(self, depth: int | None) -> int:
        """How many layers a forward pass runs: all of them unless ``depth`` says fewer."""
        return self.layers if depth is None else depth

    def forward(self, b: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        """The outputs of layers ``0 .. depth-1`` (all layers by default)."""
        raise NotImplementedError  # pragma: no cover - abstract


class ISTA(UnrolledModel):
    """T iterations of ISTA for ``min 0.5 ||b - Ax||^2 + lam ||x||_1``, from x^0 = 0."""

    learned = False

    def forward(self, b: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        x = b.new_zeros(b.shape[0], self.n)
        outputs = []
        for _ in range(self.depth(depth)):
            x = soft_threshold(x + (b - x @ self.A.T) @ self.A / self.L, self.lam / self.L)
            outputs.append(x)
        return outputs


class FISTA(UnrolledModel):
    """T iterations of FISTA (ISTA with Nesterov momentum), from x^0 = 0."""

    learned = False

    def forward(self, b: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        x = y = b.new_zeros(b.shape[0], self.n)
        t = 1.0
        outputs = []
        for _ in range(self.depth(depth)):
            x_next = soft_threshold(y + (b - y @ self.A.T) @ self.A / self.L, self.lam / self.L)
            t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
            y = x_next + ((t - 1.0) / t_next) * (x_next - x)
            x, t = x_next, t_next
            outputs.append(x)
        return outputs


class LISTA(UnrolledModel):
    """LISTA with a shared ``B`` and untied ``W_k``; layer 0 has no ``W`` since x^0 = 0."""

    def __init__(self, A: torch.Tensor, layers: int, lam: float = DEFAULT_LAM):
        super().__init__(A, layers, lam)
        B = self.A.T / self.L
        W = torch.eye(self.n) - B @ self.A
        self.B = nn.Parameter(B.clone())
        self.W = nn.ParameterList(nn.Parameter(W.clone()) for _ in range(layers - 1))
        self.theta = _scalars(lam / self.L, layers)

    def layer_parameters(self, k: int) -> list[nn.Parameter]:
        return [self.B, self.theta[0]] if k == 0 else [self.W[k - 1], self.theta[k]]

    def forward(self, b: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        Bb = b @ self.B.T
        x = soft_threshold(Bb, self.theta[0])
        outputs = [x]
        for k in range(1, self.depth(depth)):
            x = soft_threshold(torch.addmm(Bb, x, self.W[k - 1].T), self.theta[k])
            outputs.append(x)
        return outputs


class LISTACP(UnrolledModel):
    """LISTA with coupled weights, ``x + W_k^T (b - A x)``, untied ``W_k`` init ``A / L``."""

    support_selection = False

    def __init__(self, A: torch.Tensor, layers: int, lam: float = DEFAULT_LAM):
        super().__init__(A, layers, lam)
        self.W = nn.ParameterList(nn.Parameter(self.A / self.L) for _ in range(layers))
        self.theta = _scalars(lam / self.L, layers)

    def layer_parameters(self, k: int) -> list[nn.Parameter]:
        return [self.W[k], self.theta[k]]

    def neuron(self, z: torch.Tensor, k: int) -> torch.Tensor:
        if self.support_selection:
            return support_selected_threshold(z, self.theta[k], cpss_percent(k))
        return soft_threshold(z, self.theta[k])

    def forward(self, b: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        x = self.neuron(b @ self.W[0], 0)
        outputs = [x]
        for k in range(1, self.depth(depth)):
            residual = b - x @ self.A.T
            x = self.neuron(torch.addmm(x, residual, self.W[k]), k)
            outputs.append(x)
        return outputs


class LISTACPSS(LISTACP):
    """LISTA-CP with support selection, ``q_k = min(1.2 (k+1), 13)`` %."""

    support_selection = True


class ALISTA(UnrolledModel):
    """ALISTA: analytic ``W`` (a buffer), learned step ``gamma_k`` and threshold ``theta_k``,
    support selection as in LISTA-CPSS. Init ``theta_k = lam / L`` and
    ``gamma_k = min(1, 1 / ||W^T A||_2)``: the step of the ALISTA paper (1) unless that makes the
    first iterations expand (a badly conditioned ``A``, e.g. a learned image dictionary)."""

    def __init__(self, A: torch.Tensor, layers: int, lam: float = DEFAULT_LAM):
        super().__init__(A, layers, lam)
        self.register_buffer("W", analytic_weight(self.A))
        self.gamma = _scalars(alista_step(self.A, self.W), layers)
        self.theta = _scalars(lam / self.L, layers)

    def layer_parameters(self, k: int) -> list[nn.Parameter]:
        return [self.gamma[k], self.theta[k]]

    def forward(self, b: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        x = b.new_zeros(b.shape[0], self.n)
        outputs = []
        for k in range(self.depth(depth)):
            step = (x @ self.A.T - b) @ self.W
            x = support_selected_threshold(x - self.gamma[k] * step, self.theta[k], cpss_percent(k))
            outputs.append(x)
        return outputs


def coupled_from_alista(alista: ALISTA, support_selection: bool = True) -> LISTACP:
    """LISTA-CPSS (or, without support selection, LISTA-CP) set to what a trained ``alista``
    computes: ``W_k = gamma_k W`` with ALISTA's analytic ``W`` and the same thresholds, since
    ``x + gamma_k (b - A x) W`` is the coupled layer ``x + W_k^T (b - A x)`` (rows are samples).
    With support selection the network is the same function, so training it from there starts at
    ALISTA's NMSE and frees ALISTA's fixed matrix (the two-stage recipe of docs/training.md)."""
    model = (LISTACPSS if support_selection else LISTACP)(alista.A, alista.layers, alista.lam)
    with torch.no_grad():
        for k in range(alista.layers):
            model.W[k].copy_(alista.gamma[k] * alista.W)
            model.theta[k].copy_(alista.theta[k])
    return model


MODELS: dict[str, Callable[..., UnrolledModel]] = {
    "ista": ISTA,
    "fista": FISTA,
    "lista": LISTA,
    "lista-cp": LISTACP,
    "lista-cpss": LISTACPSS,
    "alista": ALISTA,
}


def build(name: str, A: torch.Tensor, layers: int, lam: float = DEFAULT_LAM) -> UnrolledModel:
    """The model registered as ``name`` for operator ``A`` with ``layers`` layers."""
    return MODELS[name](A, layers, lam)
