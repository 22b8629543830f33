"""The registry of named neurons of the design space, each an NNI-profiler leaf module.

Each neuron maps a pre-activation z (batch, n) to an estimate of the same shape. NNI's
profilers see a leaf module with a shape formula (same shape) and a FLOPs formula. FLOPs
follow ``torch.utils.flop_counter``: 2 per multiply-add of a matrix product, per sample;
element-wise work (every neuron) counts 0, so the profiler's count equals what
``FlopCounterMode`` measures on a frozen model. Parameters are counted exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from nni_lista.space import nni_import  # noqa: F401  (NNI imported without its two harmless warnings)
from nni.nas.profiler.pytorch.flops import FlopsResult
from nni.nas.profiler.pytorch.utils import MutableShape, profiler_leaf_module

from nni_lista.models.thresholds import cpss_percent, firm_threshold, soft_threshold, support_selected_threshold


class Neuron(nn.Module):
    """Base of the element-wise neurons: same-shape output, no FLOPs, ``theta`` if thresholded.

    ``forward(z)`` or ``forward((z, scale))`` (one argument, as NNI's ``LayerChoice`` passes):
    ``scale`` is the factor of a threshold shape (:mod:`nni_lista.space.mechanisms`) that
    multiplies a thresholded neuron's ``theta``; the neurons without a threshold ignore it.
    """

    def forward(self, inputs):
        z, scale = inputs if isinstance(inputs, tuple) else (inputs, None)
        return self.respond(z, scale)

    def respond(self, z: torch.Tensor, scale) -> torch.Tensor:
        """The neuron on ``z`` with its threshold scaled by ``scale`` (None: unscaled)."""
        return self.activate(z)

    def activate(self, z: torch.Tensor) -> torch.Tensor:
        """The neuron without a threshold."""
        raise NotImplementedError

    def initialise(self, A: torch.Tensor, L: float, lam: float) -> None:
        """Set the threshold (if any) to its ISTA value ``lam / L``."""

    def _shape_forward(self, inputs) -> MutableShape:
        z = inputs[0] if isinstance(inputs, tuple) else inputs
        return MutableShape(*z.real_shape)

    def _count_flops(self, inputs, outputs) -> FlopsResult:
        return FlopsResult(0.0, sum(p.numel() for p in self.parameters()))


class Thresholded(Neuron):
    """A neuron with a learned threshold ``theta``: ``forward(z)`` is ``shrink(z, theta)``."""

    def __init__(self):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(0.0))

    def initialise(self, A: torch.Tensor, L: float, lam: float) -> None:
        with torch.no_grad():
            self.theta.fill_(lam / L)

    def respond(self, z, scale):
        return self.shrink(z, self.theta if scale is None else self.theta * scale)

    def shrink(self, z: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """The neuron with threshold ``theta`` (broadcast against ``z``: batched training passes one per network)."""
        raise NotImplementedError


@profiler_leaf_module
class SoftThreshold(Thresholded):
    """``eta_theta(z) = sign(z) max(|z| - theta, 0)`` with a learned ``theta``."""

    def shrink(self, z, theta):
        return soft_threshold(z, theta)


@profiler_leaf_module
class SupportSelection(Thresholded):
    """Soft threshold whose top ``percent`` % entries bypass it (LISTA-CPSS)."""

    def __init__(self, percent: float):
        super().__init__()
        self.percent = percent

    def shrink(self, z, theta):
        return support_selected_threshold(z, theta, self.percent)


@profiler_leaf_module
class FirmThreshold(Thresholded):
    """Firm threshold with learned ``theta`` and ``mu = 2 theta``."""

    def shrink(self, z, theta):
        return firm_threshold(z, theta)


@profiler_leaf_module
class ReLUNeuron(Neuron):
    """``max(z, 0)``."""

    def activate(self, z):
        return torch.relu(z)


@profiler_leaf_module
class LeakyReLUNeuron(Neuron):
    """``max(z, 0.01 z)``."""

    def activate(self, z):
        return nn.functional.leaky_relu(z, 0.01)


@profiler_leaf_module
class TanhNeuron(Neuron):
    """``tanh(z)``."""

    def activate(self, z):
        return torch.tanh(z)


@profiler_leaf_module
class IdentityNeuron(Neuron):
    """``z`` (a purely linear layer)."""

    def activate(self, z):
        return z


#: name -> factory(layer index k, 0-based) of a fresh neuron module
NEURONS: dict = {
    "soft": lambda k: SoftThreshold(),
    "soft-ss": lambda k: SupportSelection(cpss_percent(k)),
    "firm": lambda k: FirmThreshold(),
    "relu": lambda k: ReLUNeuron(),
    "leaky-relu": lambda k: LeakyReLUNeuron(),
    "tanh": lambda k: TanhNeuron(),
    "identity": lambda k: IdentityNeuron(),
}
