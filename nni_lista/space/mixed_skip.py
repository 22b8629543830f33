"""DARTS's mixed skip edge, computed without its zero candidate.

NNI's ``DifferentiableMixedLayer`` evaluates every candidate of a choice and sums them weighted
by the softmax of the choice's architecture weights ``w``. For a skip edge of the space
(:mod:`nni_lista.space.layers`) that is ``w_off (0 x) + w_on (g x)``: four products of the
(batch, n) estimate ``x`` forward, more backward. The "off" candidate is exactly 0, so
:class:`MixedSkip` computes the same value as ``(w_on g) x``, one product, with the same
gradients for ``g``, ``w`` and ``x`` (for finite ``x``). Export, choice probabilities and the
architecture weights are NNI's own (it subclasses NNI's layer).

The spaces hand it to DARTS and GumbelDARTS through NNI's model-defined hook,
``extra_oneshot_hooks`` (consulted after a strategy's own extra hooks and before its defaults).
"""

from __future__ import annotations

from nni_lista.space import nni_import  # noqa: F401  (NNI imported without its two harmless warnings)
from nni.nas.nn.pytorch import LayerChoice
from nni.nas.oneshot.pytorch.supermodule.differentiable import DifferentiableMixedLayer

from nni_lista.space.architectures import SKIP_STATES
from nni_lista.space.layers import GatedSkip, NoSkip


class MixedSkip(DifferentiableMixedLayer):
    """A DARTS-mixed skip edge: ``softmax(alpha)[on] * g * x``."""

    @classmethod
    def mutate(cls, module, name, memo, mutate_kwargs):
        """Replace a skip edge's ``LayerChoice`` (off: :class:`NoSkip`, on: :class:`GatedSkip`); leave anything else."""
        if (
            type(module) is LayerChoice
            and tuple(module.names) == SKIP_STATES
            and isinstance(module["off"], NoSkip)
            and isinstance(module["on"], GatedSkip)
        ):
            return super().mutate(module, name, memo, mutate_kwargs)
        return None

    def forward(self, x):
        weight = self._softmax(self._arch_alpha)[self.names.index("on")]
        return (weight * self["on"].gain) * x


def oneshot_hooks(strategy) -> list:
    """The hooks a space adds to one-shot ``strategy``: :class:`MixedSkip` for DARTS and its
    subclasses (GumbelDARTS); none for the others, which sample edges instead of mixing them."""
    from nni.nas.strategy import DARTS

    return [MixedSkip.mutate] if isinstance(strategy, DARTS) else []
