"""D-LADMM (differentiable linearised ADMM; Xie et al., NeurIPS 2019) as an NNI model space with
the connectivity and neuron dimensions of the LISTA space: the "beyond" of the study.

D-LADMM unrolls linearised ADMM for ``min ||Z||_1 + lam ||E||_1  s.t.  X = A Z + E`` (sparse
code ``Z`` plus sparse corruption ``E``; docs/design-space.md). Layer k (1-based) holds a learned
``W_k`` (n x m), step vectors ``beta1_k``, ``beta2_k`` (length m), a threshold ``theta_E`` for
``E`` and the neuron of its ``Z`` update, and computes (rows are samples)::

    u  = Z^{k-1} + sum_{j on} g_kj Z^j                         (skips, gains start at 0)
    T  = u A^T + E - X,   V = Lambda + beta1_k * T
    Z^k = neuron_k(u - V W_k^T)
    E  <- eta_{theta_E}(X - Z^k A^T - beta2_k * Lambda)
    Lambda <- Lambda + beta1_k * (Z^k A^T + E - X)

with ``Z^0 = E^0 = Lambda^0 = 0``. Initialisation: ``W_k = A^T / L``, ``beta1 = beta2 = 1``,
``theta_E = 1`` (E starts nearly off, so layer 1 is an ISTA step) and the neuron's ISTA value.
How the paper grafted searched skip patterns into D-LADMM is not published; we apply them to the
``Z`` update, where LISTA's estimates live.

Labels are those of the LISTA space without ``weight_form``: ``layer{k}/neuron`` and
``layer{k}/skip_from{j}``; an architecture is the label map of the ``paper`` preset.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from nni_lista.space import nni_import  # noqa: F401  (NNI imported without its two harmless warnings)
from nni.mutable import label_scope
from nni.nas.nn.pytorch import ModelSpace

from nni_lista.base.errors import require
from nni_lista.base.limits import check_network
from nni_lista.models.family import DEFAULT_LAM
from nni_lista.space.layers import GatedSkip, NoSkip, choose, initialise
from nni_lista.space.mixed_skip import oneshot_hooks
from nni_lista.space.neurons import NEURONS
from nni_lista.space.architectures import DLADMM_PRESETS, validate_dladmm
from nni_lista.models.thresholds import soft_threshold


class DLADMMLayer(nn.Module):
    """One D-LADMM layer with its skip and neuron choices (labels ``layer{k}/...``)."""

    A: torch.Tensor

    def __init__(self, k: int, m: int, n: int, neurons: tuple[str, ...], skips: bool):
        super().__init__()
        self.k = k
        self.W = nn.Parameter(torch.zeros(n, m))
        self.beta1 = nn.Parameter(torch.ones(m))
        self.beta2 = nn.Parameter(torch.ones(m))
        self.theta_e = nn.Parameter(torch.tensor(1.0))
        self.register_buffer("A", torch.zeros(m, n), persistent=False)
        self.skip_sources = list(range(1, k - 1)) if skips else []
        with label_scope(f"layer{k}"):
            self.neuron = choose("neuron", {name: NEURONS[name](k - 1) for name in neurons})
            edges = [choose(f"skip_from{j}", {"off": NoSkip(), "on": GatedSkip()}) for j in self.skip_sources]
        self.skips = nn.ModuleList(edges) if edges else None

    def initialise(self, A: torch.Tensor, L: float, lam: float) -> None:
        with torch.no_grad():
            self.A.copy_(A)
            self.W.copy_(A.T / L)
            self.beta1.fill_(1.0)
            self.beta2.fill_(1.0)
            self.theta_e.fill_(1.0)

    def forward(self, X, state, estimates: list):
        """``state`` is ``(Z, E, Lambda)`` after layer k-1; returns the new state."""
        Z, E, lagrange = state
        u = Z
        for j, edge in zip(self.skip_sources, self.skips or ()):
            if not isinstance(edge, NoSkip):
                u = u + edge(estimates[j - 1])
        V = lagrange + self.beta1 * (u @ self.A.T + E - X)
        Z = self.neuron(u - V @ self.W.T)
        AZ = Z @ self.A.T
        E = soft_threshold(X - AZ - self.beta2 * lagrange, self.theta_e)
        lagrange = lagrange + self.beta1 * (AZ + E - X)
        return Z, E, lagrange


class DLADMMSpace(ModelSpace):
    """T unrolled D-LADMM layers for an m x n problem; ``forward(b)`` returns the list of the
    layers' code estimates ``Z^k``, like every model of :mod:`nni_lista.models.family`."""

    learned = True

    def __init__(self, m: int, n: int, layers: int = 16, neurons: tuple[str, ...] = ("soft",), skips: bool = False):
        check_network(m, n, layers)  # before anything is allocated
        super().__init__()
        self.layers, self.m, self.n = layers, m, n
        self.lam = DEFAULT_LAM
        self.blocks = nn.ModuleList(DLADMMLayer(k, m, n, tuple(neurons), skips) for k in range(1, layers + 1))

    @classmethod
    def from_preset(cls, preset: str, m: int, n: int, layers: int = 16) -> "DLADMMSpace":
        require(
            preset in DLADMM_PRESETS,
            f"D-LADMM space {preset!r} is not allowed: choose one of {', '.join(DLADMM_PRESETS)}",
        )
        config = DLADMM_PRESETS[preset]
        return cls(m, n, layers, config.neurons, config.skips)

    def initialise(self, A: torch.Tensor, lam: float = DEFAULT_LAM) -> "DLADMMSpace":
        return initialise(self, A, lam)

    def extra_oneshot_hooks(self, strategy) -> list:
        """As :meth:`nni_lista.space.spaces.LISTASpace.extra_oneshot_hooks`."""
        return oneshot_hooks(strategy)

    def layer_parameters(self, k: int) -> list[nn.Parameter]:
        return list(self.blocks[k].parameters())

    def forward(self, b: torch.Tensor, depth: Optional[int] = None) -> list[torch.Tensor]:
        zeros_m = b.new_zeros(b.shape[0], b.shape[1])
        state = (b.new_zeros(b.shape[0], self.n), zeros_m, zeros_m)
        estimates: list[torch.Tensor] = []
        for block in self.blocks[: self.layers if depth is None else depth]:
            state = block(b, state, estimates)
            estimates.append(state[0])
        return estimates


def build(arch: dict, m: int, n: int, A: Optional[torch.Tensor] = None, lam: float = DEFAULT_LAM) -> DLADMMSpace:
    """The D-LADMM network of ``arch`` (a label map of the ``paper`` labels, validated),
    initialised for ``A``."""
    layers = validate_dladmm(arch)
    model = DLADMMSpace.from_preset("paper", m, n, layers).freeze(arch)
    model.arch = dict(arch)
    return model if A is None else model.initialise(A, lam)
