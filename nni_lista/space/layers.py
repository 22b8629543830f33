"""One unrolled layer of the design space and its parts, each an NNI-profiler leaf module.

Layer k (1-based) computes estimate ``x^k`` from the previous one and earlier ones:

1. merge: ``u = x^{k-1} + sum_{j on} g_{kj} x^j`` over the chosen skip edges from earlier
   estimates ``x^j`` (1 <= j <= k-2); each edge has a learned gain ``g_{kj}`` that starts at
   0, so every architecture starts as LISTA, i.e. as ISTA (docs/design-space.md); then the
   momentum term and the gain gate (:mod:`nni_lista.space.mechanisms`) act on ``u``;
2. weight form: ``lista``: ``z = B b + W_k u`` (``B`` shared by all layers, ``W_k`` untied;
   layer 1 has no ``u`` and computes ``z = B b``), ``coupled``:
   ``z = u + W_k^T (b - A u)`` (layer 1: ``z = W_1^T b``), or ``analytic`` (ALISTA, Liu et al.
   ICLR 2019): ``z = u + gamma_k W^T (b - A u)`` with ALISTA's fixed analytic ``W`` and a
   learned step ``gamma_k`` (layer 1: ``z = gamma_1 W^T b``);
3. neuron: ``x~ = neuron_k(z)`` from :data:`nni_lista.space.neurons.NEURONS`, its threshold
   shaped by the threshold choice; the overshoot gate then gives ``x^k`` from ``x~`` and
   ``x^{k-1}`` (``x^k = x~`` when off).

Rows are samples, so ``W_k u`` is ``u @ W_k.T``. ``initialise(A, L, lam)`` sets the ISTA
values: ``B = A^T / L``, ``W_k = I - B A`` (lista) or ``A / L`` (coupled), thresholds
``lam / L``, gains 0; the analytic form starts at ALISTA's step ``min(1, 1 / ||W^T A||_2)``. FLOPs (per sample, 2 per
multiply-add of a matrix product, as
``torch.utils.flop_counter`` counts them): ``B b`` 2mn, lista 2n^2, coupled 4mn (2mn in
layer 1), analytic as coupled, everything element-wise 0.
"""

from __future__ import annotations

from typing import Optional, TypeGuard, TypeVar

import torch
from torch import nn

from nni_lista.space import nni_import  # noqa: F401  (NNI imported without its two harmless warnings)
from nni.mutable import label_scope
from nni.nas.nn.pytorch import LayerChoice
from nni.nas.profiler.pytorch.flops import FlopsResult
from nni.nas.profiler.pytorch.utils import MutableShape, profiler_leaf_module

from nni_lista.space.architectures import SpaceConfig
from nni_lista.space.mechanisms import MECHANISMS, OFF
from nni_lista.space.neurons import NEURONS

_Model = TypeVar("_Model", bound=nn.Module)


class _Leaf(nn.Module):
    """A leaf with analytic FLOPs ``flops`` and exact parameter count."""

    flops: int = 0

    def _count_flops(self, inputs, outputs) -> FlopsResult:
        return FlopsResult(float(self.flops), float(sum(p.numel() for p in self.parameters())))


@profiler_leaf_module
class MeasurementMap(_Leaf):
    """``B b`` with the shared ``B`` (n x m) of the lista weight form."""

    def __init__(self, m: int, n: int):
        super().__init__()
        self.B = nn.Parameter(torch.zeros(n, m))
        self.flops = 2 * m * n

    def initialise(self, A: torch.Tensor, L: float, lam: float) -> None:
        with torch.no_grad():
            self.B.copy_(A.T / L)

    def forward(self, b):
        return b @ self.B.T

    def _shape_forward(self, b) -> MutableShape:
        return MutableShape(*b.real_shape[:-1], self.B.shape[0])


class _Form(_Leaf):
    """A weight form: maps the tuple ``(u, b, Bb)`` to the pre-activation ``z`` (batch, n)."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def initialise(self, A: torch.Tensor, L: float, lam: float) -> None:
        """Set the form's weights to their ISTA values for ``A`` (Lipschitz constant ``L``)."""
        raise NotImplementedError  # pragma: no cover - every form has its own

    def _shape_forward(self, inputs) -> MutableShape:
        return MutableShape(*inputs[1].real_shape[:-1], self.n)


@profiler_leaf_module
class ListaForm(_Form):
    """``z = B b + W u`` (``W`` n x n); in layer 1 ``z = B b``."""

    def __init__(self, m: int, n: int, first: bool):
        super().__init__(n)
        self.first = first
        if not first:
            self.W = nn.Parameter(torch.zeros(n, n))
            self.flops = 2 * n * n

    def initialise(self, A: torch.Tensor, L: float, lam: float) -> None:
        if not self.first:
            with torch.no_grad():
                self.W.copy_(torch.eye(self.n) - A.T @ A / L)

    def forward(self, inputs):
        u, _, Bb = inputs
        return Bb if self.first else torch.addmm(Bb, u, self.W.T)


@profiler_leaf_module
class CoupledForm(_Form):
    """``z = u + W^T (b - A u)`` (``W`` m x n); in layer 1 ``z = W^T b``."""

    A: torch.Tensor

    def __init__(self, m: int, n: int, first: bool):
        super().__init__(n)
        self.first = first
        self.W = nn.Parameter(torch.zeros(m, n))
        self.register_buffer("A", torch.zeros(m, n), persistent=False)
        self.flops = 2 * m * n if first else 4 * m * n

    def initialise(self, A: torch.Tensor, L: float, lam: float) -> None:
        with torch.no_grad():
            self.A.copy_(A)
            self.W.copy_(A / L)

    def forward(self, inputs):
        u, b, _ = inputs
        if self.first:
            return b @ self.W
        return torch.addmm(u, b - u @ self.A.T, self.W)


@profiler_leaf_module
class AnalyticForm(_Form):
    """``z = u + gamma W^T (b - A u)`` with ALISTA's analytic ``W`` (m x n, fixed) and a learned
    scalar step ``gamma``; in layer 1 ``z = gamma W^T b``."""

    A: torch.Tensor
    W: torch.Tensor

    def __init__(self, m: int, n: int, first: bool):
        super().__init__(n)
        self.first = first
        self.gamma = nn.Parameter(torch.tensor(1.0))
        self.register_buffer("A", torch.zeros(m, n), persistent=False)
        self.register_buffer("W", torch.zeros(m, n), persistent=False)
        self.flops = 2 * m * n if first else 4 * m * n

    def initialise(self, A: torch.Tensor, L: float, lam: float) -> None:
        from nni_lista.models.family import alista_step, analytic_weight

        W = analytic_weight(A)
        with torch.no_grad():
            self.A.copy_(A)
            self.W.copy_(W)
            self.gamma.fill_(alista_step(A, W))

    def forward(self, inputs):
        u, b, _ = inputs
        if self.first:
            return self.gamma * (b @ self.W)
        return u + self.gamma * ((b - u @ self.A.T) @ self.W)

    def _count_flops(self, inputs, outputs) -> FlopsResult:
        return FlopsResult(float(self.flops), 1.0)


FORMS = {
    "lista": ListaForm,
    "coupled": CoupledForm,
    "analytic": AnalyticForm,
}  # weight form name -> its module (WEIGHT_FORMS)


@profiler_leaf_module
class NoSkip(_Leaf):
    """The "off" state of a skip edge: contributes nothing (``0 x``)."""

    def forward(self, x):
        return x * 0.0

    def _shape_forward(self, x) -> MutableShape:
        return MutableShape(*x.real_shape)


@profiler_leaf_module
class GatedSkip(_Leaf):
    """The "on" state of a skip edge: ``g x`` with a learned gain ``g`` that starts at 0."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(0.0))

    def initialise(self, A: torch.Tensor, L: float, lam: float) -> None:
        with torch.no_grad():
            self.gain.zero_()

    def forward(self, x):
        return self.gain * x

    def _shape_forward(self, x) -> MutableShape:
        return MutableShape(*x.real_shape)


def analytic_flops(model: nn.Module) -> int:
    """FLOPs per sample of a frozen network: the sum of its leaves' analytic counts (what NNI's
    ``FlopsProfiler`` gives for its sample; element-wise work counts 0)."""
    return int(sum(module.flops for module in model.modules() if isinstance(module, _Leaf)))


def choose(label: str, candidates: dict[str, nn.Module]) -> nn.Module:
    """A ``LayerChoice`` over ``candidates`` labelled ``label`` (inside the current
    ``label_scope``); the module itself when there is only one candidate (a fixed part of the
    space, with no label)."""
    if len(candidates) == 1:
        return next(iter(candidates.values()))
    return LayerChoice(candidates, label=label)


class UnrolledLayer(nn.Module):
    """Layer ``k`` (1-based): skip merge, momentum, gain gate, weight form, neuron with its
    threshold shape, overshoot, with labels ``layer{k}/...`` (:class:`SpaceConfig`)."""

    def __init__(self, k: int, m: int, n: int, config: SpaceConfig):
        super().__init__()
        self.k = k
        sources = list(range(1, k - 1)) if config.skips else []
        self.skip_sources = sources
        values = config.layer_values(k)
        first = k == 1
        with label_scope(f"layer{k}"):
            self.form = choose("weight_form", {name: FORMS[name](m, n, first) for name in values["weight_form"]})
            self.neuron = choose("neuron", {name: NEURONS[name](k - 1) for name in values["neuron"]})
            mechanisms = {
                dimension: self._mechanism(dimension, values[dimension], m, n, first)
                for dimension in MECHANISMS
                if dimension in values
            }
            edges = [choose(f"skip_from{j}", {"off": NoSkip(), "on": GatedSkip()}) for j in sources]
        self.threshold = mechanisms["threshold"]
        self.gain_gate = mechanisms.get("gain_gate")
        self.overshoot = mechanisms["overshoot"]
        self.momentum = mechanisms.get("momentum")
        self.skips = nn.ModuleList(edges) if edges else None  # no empty container: profilers warn

    @staticmethod
    def _mechanism(dimension: str, values: tuple[str, ...], m: int, n: int, first: bool) -> Optional[nn.Module]:
        """The choice of a mechanism (:mod:`nni_lista.space.mechanisms`) in the current label
        scope; None where the space fixes it at its "off" value (an unused module would make NNI's
        profilers fail)."""
        if values == (next(iter(MECHANISMS[dimension])),):
            return None
        return choose(dimension, {name: MECHANISMS[dimension][name](m, n, first) for name in values})

    def forward(self, b, Bb, previous, estimates: list):
        """``estimates`` holds ``x^1 .. x^{k-1}``; ``previous`` is ``x^{k-1}`` (None in layer 1).
        A part that computes nothing (an "off" edge, gate or momentum, a scalar threshold) is skipped."""
        u = previous
        for j, edge in zip(self.skip_sources, self.skips or ()):
            if not isinstance(edge, NoSkip):  # a frozen "off" edge costs nothing
                u = u + edge(estimates[j - 1])
        if _active(self.momentum):
            u = u + self.momentum((previous, estimates[-2] if len(estimates) > 1 else None))
        if _active(self.gain_gate):
            u = self.gain_gate(u)
        z = self.form((u, b, Bb))
        estimate = self.neuron((z, self.threshold((previous, b)))) if _active(self.threshold) else self.neuron(z)
        return self.overshoot((estimate, previous)) if _active(self.overshoot) else estimate


def _active(module: Optional[nn.Module]) -> TypeGuard[nn.Module]:
    """Whether a mechanism is there and computes something (not fixed or frozen at "off")."""
    return module is not None and not isinstance(module, OFF)


def initialise(model: _Model, A: torch.Tensor, lam: float) -> _Model:
    """ISTA-initialise every part of ``model`` that knows how: a frozen network, the space, or
    a supernet whose choices a one-shot strategy replaced by mixed operations."""
    from nni_lista.models.family import lipschitz

    A = A.detach().float()
    L = lipschitz(A)
    for module in model.modules():
        if module is not model and hasattr(module, "initialise"):
            getattr(module, "initialise")(A, L, lam)
    setattr(model, "lam", lam)
    return model
