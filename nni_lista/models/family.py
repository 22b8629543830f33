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
ALISTA-AT      ALISTA with the threshold ``theta_k / (1 + |x| / 0.1)``        gamma_k, theta_k
               (Kim & Park 2020)
AGLISTA        ALISTA on ``u = x (1 + mu_k exp(-nu_k |x|))`` (gain gate),     + mu_k, nu_k, a_k
               then ``x <- x + (1 + a_k / (|x~ - x| + 0.01)) (x~ - x)``
               (overshoot gate; Wu et al. 2020, as in NA-ALISTA's AGLISTA)
HyperLISTA     ALISTA on ``u = x + c_k (||x||_0 / n) (x - x_prev)``          + c_k
               (momentum) with ``theta_k ||A^+ (A x - b)||_1 / ||A^+ b||_1``
               (Chen, Liu & Yin 2021; per-layer coefficients, fixed
               support-selection schedule)
=============  ===========================================================  ==============

The post-ALISTA members' gates and momentum start at 0 (the network starts as ALISTA's
formula with their threshold), as in the design space (:mod:`nni_lista.space.mechanisms`).

:meth:`UnrolledModel.layer_parameters` tells which parameters layer k introduces, which the
stage-wise protocol needs. :data:`MODELS` is the registry keyed by CLI name.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nni_lista.base.errors import require, short
from nni_lista.base.limits import MAX_STEPS, check_count, check_network
from nni_lista.models.mechanisms import (
    adaptive_threshold_factor,
    exp_gain,
    inv_overshoot,
    residual_threshold_factor,
    support_fraction,
)
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

    A: torch.Tensor

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

    W: torch.Tensor

    def __init__(self, A: torch.Tensor, layers: int, lam: float = DEFAULT_LAM):
        super().__init__(A, layers, lam)
        self.register_buffer("W", analytic_weight(self.A))
        self.gamma = _scalars(alista_step(self.A, self.W), layers)
        self.theta = _scalars(lam / self.L, layers)

    def layer_parameters(self, k: int) -> list[nn.Parameter]:
        return [self.gamma[k], self.theta[k]]

    def forward(self, b: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        x = b.new_zeros(b.shape[0], self.n)
        outputs: list[torch.Tensor] = []
        for k in range(self.depth(depth)):
            previous = outputs[-1] if outputs else None
            u = x if previous is None else self.merge(k, previous, outputs[-2] if len(outputs) > 1 else None)
            step = (u @ self.A.T - b) @ self.W
            theta = self.threshold(k, previous, b)
            estimate = support_selected_threshold(u - self.gamma[k] * step, theta, cpss_percent(k))
            x = self.finish(k, estimate, previous)
            outputs.append(x)
        return outputs

    def merge(self, k: int, previous: torch.Tensor, before: torch.Tensor | None) -> torch.Tensor:
        """The input ``u`` of layer ``k`` (0-based, k >= 1) from ``x^{k-1}`` and ``x^{k-2}``."""
        return previous

    def threshold(self, k: int, previous: torch.Tensor | None, b: torch.Tensor):
        """Layer ``k``'s threshold."""
        return self.theta[k]

    def finish(self, k: int, estimate: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
        """Layer ``k``'s output from the thresholded ``estimate``."""
        return estimate


class ALISTAAT(ALISTA):
    """ALISTA-AT (Kim & Park, IEEE Access 2020): ALISTA with the element-wise threshold
    ``theta_k / (1 + |x^{k-1}| / 0.1)``, smaller where the estimate is already large."""

    def threshold(self, k, previous, b):
        return self.theta[k] * adaptive_threshold_factor(previous)


class AGLISTA(ALISTA):
    """AGLISTA (Wu et al., ICLR 2020: GLISTA's gates on ALISTA): the exponential gain gate
    ``u = x (1 + mu_k exp(-nu_k |x|))`` before the update (layers 2..T) and the
    inverse-proportional overshoot ``x + (1 + a_k / (|x~ - x| + 0.01)) (x~ - x)`` after it;
    ``mu_k = a_k = 0`` and ``nu_k = 1`` at initialisation."""

    def __init__(self, A: torch.Tensor, layers: int, lam: float = DEFAULT_LAM):
        super().__init__(A, layers, lam)
        self.mu = _scalars(0.0, layers - 1)  # layer 1 has no gain gate (x^0 = 0)
        self.nu = _scalars(1.0, layers - 1)
        self.a = _scalars(0.0, layers)

    def layer_parameters(self, k: int) -> list[nn.Parameter]:
        gate = [self.mu[k - 1], self.nu[k - 1]] if k > 0 else []
        return [*super().layer_parameters(k), *gate, self.a[k]]

    def merge(self, k, previous, before):
        return exp_gain(previous, self.mu[k - 1], self.nu[k - 1])

    def finish(self, k, estimate, previous):
        return inv_overshoot(estimate, previous, self.a[k])


class HyperLISTA(ALISTA):
    """HyperLISTA (Chen, Liu & Yin, NeurIPS 2021), with per-layer coefficients: ALISTA with the
    momentum ``u = x + c_k (||x||_0 / n) (x - x^{k-2})`` (layers 2..T, ``c_k = 0`` at
    initialisation) and the instance-adaptive threshold ``theta_k ||A^+ (A x - b)||_1 / ||A^+ b||_1``.
    The paper ties the coefficients across layers and adapts the support-selection share too;
    here the share follows ALISTA's schedule."""

    pinv: torch.Tensor

    def __init__(self, A: torch.Tensor, layers: int, lam: float = DEFAULT_LAM):
        super().__init__(A, layers, lam)
        self.c = _scalars(0.0, layers - 1)  # layer 1 has no momentum (x^0 = 0)
        self.register_buffer("pinv", torch.linalg.pinv(self.A.double()).float())

    def layer_parameters(self, k: int) -> list[nn.Parameter]:
        return [*super().layer_parameters(k), *([self.c[k - 1]] if k > 0 else [])]

    def merge(self, k, previous, before):
        difference = previous if before is None else previous - before
        return previous + self.c[k - 1] * support_fraction(previous) * difference

    def threshold(self, k, previous, b):
        return self.theta[k] * residual_threshold_factor(previous, b, self.A, self.pinv)


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


MODELS: dict[str, type[UnrolledModel]] = {
    "ista": ISTA,
    "fista": FISTA,
    "lista": LISTA,
    "lista-cp": LISTACP,
    "lista-cpss": LISTACPSS,
    "alista": ALISTA,
    "alista-at": ALISTAAT,
    "aglista": AGLISTA,
    "hyperlista": HyperLISTA,
}


def build(name: str, A: torch.Tensor, layers: int, lam: float = DEFAULT_LAM) -> UnrolledModel:
    """The model registered as ``name`` for operator ``A`` with ``layers`` layers; a bad name,
    operator (not a finite real m x n matrix with m <= n), depth or ``lam``, or one too large for
    the memory available, is one line (:class:`~nni_lista.base.errors.UsageError`) before anything is built.

    Parameters
    ----------
    name : str
        One of :data:`MODELS`: ``ista``, ``fista``, ``lista``, ``lista-cp``, ``lista-cpss``,
        ``alista``, ``alista-at``, ``aglista``, ``hyperlista``.
    A : torch.Tensor
        The ``m x n`` operator.
    layers : int
        The depth T (for ISTA and FISTA, the number of iterations).
    lam : float, default 0.4
        The LASSO weight of the ISTA initialisation.

    Returns
    -------
    UnrolledModel
        The model, ISTA-initialised; ``model(b)`` gives the estimate after each layer.
    """
    require(name in MODELS, f"model {short(name)} is not allowed: choose one of {', '.join(MODELS)}")
    ok = isinstance(A, torch.Tensor) and A.dim() == 2 and A.dtype.is_floating_point and not A.is_complex()
    shape = tuple(A.shape) if isinstance(A, torch.Tensor) else type(A).__name__
    require(ok, f"the operator A must be a real floating-point matrix (a 2-D torch tensor), not {short(shape)}")
    if MODELS[name].learned:
        check_network(A.shape[0], A.shape[1], layers, lam)
    else:  # ISTA and FISTA hold no parameters per layer: ``layers`` counts iterations, up to MAX_STEPS
        check_count(layers, "layers (iterations)", MAX_STEPS)
        check_network(A.shape[0], A.shape[1], 1, lam)
    require(bool(torch.isfinite(A).all()), "the operator A has NaN or infinite entries")
    return MODELS[name](A, layers, lam)
