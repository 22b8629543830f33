"""The post-ALISTA mechanisms of the design space, each an NNI-profiler leaf module.

Four per-layer dimensions extend the 2019 space (weight form, neuron, skips). Each has an
"off" value that computes exactly what the layer computed without it, and every learned gate
or coefficient starts at the value that leaves the layer unchanged (0), so a network with
gates or momentum starts as the network without them, as the skip gains do. In layer ``k``
(``x^{k-1}`` the previous estimate, ``x^0 = 0``; ``u`` the merged input of the weight form;
``x~`` the neuron's output):

==============  ==========  =====================================================================
dimension       value       what it computes (element-wise unless said)
==============  ==========  =====================================================================
``threshold``   scalar      the neuron's threshold ``theta_k`` (LISTA .. ALISTA)
                vector      ``theta_k v_k`` with a learned ``v_k`` in R^n, init 1 (per coordinate)
                adaptive    ``theta_k / (1 + |x^{k-1}| / eps)``, eps = 0.1 (ALISTA-AT, Kim & Park,
                            IEEE Access 2020)
                residual    ``theta_k ||A^+ (A x^{k-1} - b)||_1 / ||A^+ b||_1`` per sample (HyperLISTA's
                            instance-adaptive threshold, Chen, Liu & Yin, NeurIPS 2021)
``gain_gate``   off         ``u``
                exp         ``u (1 + mu_k exp(-nu_k |u|))``, mu init 0, nu init 1 (GLISTA's
                            exponential gain gate, Wu et al., ICLR 2020; AGLISTA's)
                inv         ``u (1 + mu_k / (nu_k |u| + 0.01))`` (GLISTA's inverse-proportional gate)
``overshoot``   off         ``x^k = x~``
                inv         ``x^k = x^{k-1} + (1 + a_k / (|x~ - x^{k-1}| + 0.01)) (x~ - x^{k-1})``,
                            a init 0 (GLISTA's inverse-proportional overshoot, as in AGLISTA)
``momentum``    off         nothing added
                learned     ``u += beta_k (x^{k-1} - x^{k-2})``, a signed learned ``beta_k``, init 0
                adaptive    ``u += c_k (||x^{k-1}||_0 / n) (x^{k-1} - x^{k-2})`` (HyperLISTA's
                            momentum, its coefficient proportional to the estimate's support size)
==============  ==========  =====================================================================

The threshold shapes only change thresholded neurons (soft, soft-ss, firm); the others ignore
them. Gain gates and momentum have no label in layer 1, where ``x^0 = 0`` makes them nothing.
FLOPs follow :mod:`nni_lista.space.layers` (2 per multiply-add, element-wise work 0): only the
residual threshold has matrix products, 6mn (2mn in layer 1, where ``x^0 = 0``).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from nni_lista.space import nni_import  # noqa: F401  (NNI imported without its two harmless warnings)
from nni.nas.profiler.pytorch.flops import FlopsResult
from nni.nas.profiler.pytorch.utils import MutableShape, profiler_leaf_module

from nni_lista.models.mechanisms import (
    adaptive_threshold_factor,
    exp_gain,
    inv_gain,
    inv_overshoot,
    residual_threshold_factor,
    support_fraction,
)


class Mechanism(nn.Module):
    """Base of the mechanisms: analytic ``flops`` per sample, exact parameter count, ``initialise``."""

    flops: int = 0

    def initialise(self, A: torch.Tensor, L: float, lam: float) -> None:
        """Set the learned parts to the values that leave the layer as it was (see the module docstring)."""

    def _count_flops(self, inputs, outputs) -> FlopsResult:
        return FlopsResult(float(self.flops), float(sum(p.numel() for p in self.parameters())))


def _zeros_like_rows(b: torch.Tensor, n: int) -> torch.Tensor:
    return b.new_zeros(b.shape[0], n)


# ----------------------------------------------------------------------------- threshold shapes


class ThresholdShape(Mechanism):
    """Maps ``(x^{k-1} or None, b)`` to the factor the neuron's threshold is multiplied by, a
    (batch, n) tensor (an expanded view where the factor is shared: every candidate of a choice
    has the shape NNI's profilers merge)."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def rows(self, factor, b: torch.Tensor) -> torch.Tensor:
        """``factor`` (a number, or a tensor that broadcasts) as a (batch, n) view."""
        factor = factor if isinstance(factor, torch.Tensor) else b.new_tensor(factor)
        return factor.expand(b.shape[0], self.n)

    def _shape_forward(self, inputs) -> MutableShape:
        return MutableShape(*inputs[1].real_shape[:-1], self.n)


@profiler_leaf_module
class ScalarThreshold(ThresholdShape):
    """The neuron's own scalar threshold (factor 1)."""

    def forward(self, inputs):
        return self.rows(1.0, inputs[1])


@profiler_leaf_module
class VectorThreshold(ThresholdShape):
    """A per-coordinate threshold ``theta_k v`` (``v`` in R^n, init 1)."""

    def __init__(self, n: int):
        super().__init__(n)
        self.v = nn.Parameter(torch.ones(n))

    def initialise(self, A, L, lam):
        with torch.no_grad():
            self.v.fill_(1.0)

    def forward(self, inputs):
        return self.rows(self.v, inputs[1])


@profiler_leaf_module
class AdaptiveThreshold(ThresholdShape):
    """ALISTA-AT: ``theta_k / (1 + |x^{k-1}| / eps)``, small where the estimate is already large."""

    def forward(self, inputs):
        previous, b = inputs
        return self.rows(adaptive_threshold_factor(previous), b)


@profiler_leaf_module
class ResidualThreshold(ThresholdShape):
    """HyperLISTA's instance-adaptive threshold ``theta_k ||A^+ (A x^{k-1} - b)||_1 / ||A^+ b||_1``."""

    A: torch.Tensor
    pinv: torch.Tensor

    def __init__(self, m: int, n: int, first: bool):
        super().__init__(n)
        self.register_buffer("A", torch.zeros(m, n), persistent=False)
        self.register_buffer("pinv", torch.zeros(n, m), persistent=False)
        self.flops = 2 * m * n if first else 6 * m * n  # A^+ b; and A x, A^+ r after layer 1

    def initialise(self, A, L, lam):
        with torch.no_grad():
            self.A.copy_(A)
            self.pinv.copy_(torch.linalg.pinv(A.double()).to(A.dtype))

    def forward(self, inputs):
        previous, b = inputs
        return self.rows(residual_threshold_factor(previous, b, self.A, self.pinv), b)


# ----------------------------------------------------------------------------- gain gates


class GainGate(Mechanism):
    """Maps the merged input ``u`` to ``g(u) u``."""

    def _shape_forward(self, u) -> MutableShape:
        return MutableShape(*u.real_shape)


@profiler_leaf_module
class NoGainGate(GainGate):
    """``u`` unchanged."""

    def forward(self, u):
        return u


class _LearnedGainGate(GainGate):
    def __init__(self):
        super().__init__()
        self.mu = nn.Parameter(torch.tensor(0.0))
        self.nu = nn.Parameter(torch.tensor(1.0))

    def initialise(self, A, L, lam):
        with torch.no_grad():
            self.mu.zero_()
            self.nu.fill_(1.0)


@profiler_leaf_module
class ExpGainGate(_LearnedGainGate):
    """``u (1 + mu exp(-nu |u|))``."""

    def forward(self, u):
        return exp_gain(u, self.mu, self.nu)


@profiler_leaf_module
class InvGainGate(_LearnedGainGate):
    """``u (1 + mu / (nu |u| + 0.01))``."""

    def forward(self, u):
        return inv_gain(u, self.mu, self.nu)


# ----------------------------------------------------------------------------- overshoot gates


class Overshoot(Mechanism):
    """Maps ``(x~, x^{k-1} or None)`` to the layer's estimate ``x^k``."""

    def _shape_forward(self, inputs) -> MutableShape:
        return MutableShape(*inputs[0].real_shape)


@profiler_leaf_module
class NoOvershoot(Overshoot):
    """``x^k = x~``."""

    def forward(self, inputs):
        return inputs[0]


@profiler_leaf_module
class InvOvershoot(Overshoot):
    """``x^{k-1} + (1 + a / (|x~ - x^{k-1}| + 0.01)) (x~ - x^{k-1})``, ``a`` init 0."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.0))

    def initialise(self, A, L, lam):
        with torch.no_grad():
            self.a.zero_()

    def forward(self, inputs):
        return inv_overshoot(inputs[0], inputs[1], self.a)


# ----------------------------------------------------------------------------- momentum


class Momentum(Mechanism):
    """Maps ``(x^{k-1}, x^{k-2} or None)`` to the term added to the merged input ``u``."""

    def _shape_forward(self, inputs) -> MutableShape:
        return MutableShape(*inputs[0].real_shape)


@profiler_leaf_module
class NoMomentum(Momentum):
    """Adds nothing (``0 x``)."""

    def forward(self, inputs):
        return inputs[0] * 0.0


def _difference(previous: torch.Tensor, before: torch.Tensor | None) -> torch.Tensor:
    return previous if before is None else previous - before


class _Coefficient(Momentum):
    def __init__(self):
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(0.0))

    def initialise(self, A, L, lam):
        with torch.no_grad():
            self.beta.zero_()


@profiler_leaf_module
class LearnedMomentum(_Coefficient):
    """``beta_k (x^{k-1} - x^{k-2})`` with a signed learned ``beta_k``, init 0."""

    def forward(self, inputs):
        return self.beta * _difference(*inputs)


@profiler_leaf_module
class AdaptiveMomentum(_Coefficient):
    """HyperLISTA's momentum ``c_k (||x^{k-1}||_0 / n) (x^{k-1} - x^{k-2})``, ``c_k`` init 0."""

    def forward(self, inputs):
        previous, before = inputs
        return self.beta * support_fraction(previous) * _difference(previous, before)


# ----------------------------------------------------------------------------- registries

#: dimension -> value -> factory(m, n, first) of a fresh module; the first value is "off"
MECHANISMS: dict[str, dict[str, Callable[[int, int, bool], Mechanism]]] = {
    "threshold": {
        "scalar": lambda m, n, first: ScalarThreshold(n),
        "vector": lambda m, n, first: VectorThreshold(n),
        "adaptive": lambda m, n, first: AdaptiveThreshold(n),
        "residual": ResidualThreshold,
    },
    "gain_gate": {
        "off": lambda m, n, first: NoGainGate(),
        "exp": lambda m, n, first: ExpGainGate(),
        "inv": lambda m, n, first: InvGainGate(),
    },
    "overshoot": {"off": lambda m, n, first: NoOvershoot(), "inv": lambda m, n, first: InvOvershoot()},
    "momentum": {
        "off": lambda m, n, first: NoMomentum(),
        "learned": lambda m, n, first: LearnedMomentum(),
        "adaptive": lambda m, n, first: AdaptiveMomentum(),
    },
}

#: the modules that compute nothing, which a frozen network skips
OFF = (ScalarThreshold, NoGainGate, NoOvershoot, NoMomentum)
