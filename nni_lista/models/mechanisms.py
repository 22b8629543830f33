"""The formulas of the post-ALISTA mechanisms, as plain functions (torch only).

Used by the family's plain models (:mod:`nni_lista.models.family`) and by the design space's
modules (:mod:`nni_lista.space.mechanisms`), so both compute the same thing:

* ALISTA-AT's element-wise threshold factor ``1 / (1 + |x| / eps)`` (Kim & Park, IEEE Access 2020);
* HyperLISTA's instance-adaptive threshold factor ``||A^+ (A x - b)||_1 / ||A^+ b||_1`` and support
  fraction ``||x||_0 / n`` for its momentum (Chen, Liu & Yin, NeurIPS 2021);
* GLISTA's gain gates (exponential, inverse-proportional) and inverse-proportional overshoot
  gate (Wu et al., ICLR 2020), as AGLISTA uses them.
"""

from __future__ import annotations

import torch

AT_EPS = 0.1  # ALISTA-AT's epsilon (the value in the NA-ALISTA authors' released code)
GATE_EPS = 0.01  # the inverse-proportional gates' epsilon (AGLISTA's overshoot uses 0.01)


def adaptive_threshold_factor(previous: torch.Tensor | None, eps: float = AT_EPS) -> torch.Tensor | float:
    """ALISTA-AT's factor ``1 / (1 + |x^{k-1}| / eps)`` (1 where there is no previous estimate)."""
    return 1.0 if previous is None else 1.0 / (1.0 + previous.abs() / eps)


def residual_threshold_factor(
    previous: torch.Tensor | None, b: torch.Tensor, A: torch.Tensor, pinv: torch.Tensor
) -> torch.Tensor:
    """HyperLISTA's residual factor, relative: ``||A^+ (A x - b)||_1 / ||A^+ b||_1`` per sample,
    shape (batch, 1) (``pinv`` is ``A^+``, n x m); 1 where there is no previous estimate, so the
    threshold starts at the neuron's own. (HyperLISTA's ``c ||A^+ (A x - b)||_1`` without the
    denominator made the first layers' thresholds about 5x too small at initialisation on the
    100x200 problem, and 1,500 training steps did not recover: -8.8 dB against ALISTA's -21.4.)"""
    start = (b @ pinv.T).abs().sum(dim=-1, keepdim=True)
    if previous is None:
        return torch.ones_like(start)
    return (previous @ A.T - b).matmul(pinv.T).abs().sum(dim=-1, keepdim=True) / start.clamp_min(1e-12)


def exp_gain(u: torch.Tensor, mu, nu) -> torch.Tensor:
    """GLISTA's exponential gain gate applied: ``u (1 + mu exp(-nu |u|))``."""
    return u * (1.0 + mu * torch.exp(-nu * u.abs()))


def inv_gain(u: torch.Tensor, mu, nu, eps: float = GATE_EPS) -> torch.Tensor:
    """GLISTA's inverse-proportional gain gate applied: ``u (1 + mu / (nu |u| + eps))``."""
    return u * (1.0 + mu / (nu * u.abs() + eps))


def inv_overshoot(estimate: torch.Tensor, previous: torch.Tensor | None, a, eps: float = GATE_EPS) -> torch.Tensor:
    """GLISTA's inverse-proportional overshoot: ``x + (1 + a / (|x~ - x| + eps)) (x~ - x)``."""
    step = estimate if previous is None else estimate - previous
    moved = (1.0 + a / (step.abs() + eps)) * step
    return moved if previous is None else previous + moved


def support_fraction(x: torch.Tensor) -> torch.Tensor:
    """``||x||_0 / n`` per sample, (batch, 1); a constant for the gradient."""
    return (x != 0).to(x.dtype).mean(dim=-1, keepdim=True)
