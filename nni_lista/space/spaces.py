"""The LISTA design space as an NNI 3.0 ``ModelSpace``.

The space (after Meng et al., "A Design Space Study for LISTA and Beyond", ICLR 2021) unrolls
T layers (:class:`nni_lista.space.layers.UnrolledLayer`) with, per layer k, these choices:

=========================  ===============================================  ======================
label                      values                                           dimension
=========================  ===============================================  ======================
``layer{k}/weight_form``   ``lista`` / ``coupled`` / ``analytic``           weight form
``layer{k}/neuron``        names in :data:`nni_lista.space.neurons.NEURONS`   neuron type
``layer{k}/threshold``     ``scalar`` / ``vector`` / ``adaptive`` / ``residual``  threshold shape
``layer{k}/gain_gate``     ``off`` / ``exp`` / ``inv`` (k >= 2)             GLISTA gain gate
``layer{k}/overshoot``     ``off`` / ``inv``                                GLISTA overshoot gate
``layer{k}/momentum``      ``off`` / ``learned`` / ``adaptive`` (k >= 2)    momentum
``layer{k}/skip_from{j}``  ``off`` / ``on``, 1 <= j <= k-2                  skip from estimate ``x^j``
=========================  ===============================================  ======================

The threshold shapes, gates and momentum are the post-ALISTA mechanisms of
:mod:`nni_lista.space.mechanisms`.

Every skip is its own on/off ``LayerChoice``: the one encoding that every NNI strategy, both
profilers, TPE and the classic HPO format accept (docs/nni-notes.md; a multi-input
``InputChoice`` is not). Several inputs are merged by adding gated copies to the
predecessor's estimate (see :mod:`nni_lista.space.layers`). A dimension with one value is fixed and
has no label.

The presets, named architectures and architecture files are label maps, in
:mod:`nni_lista.space.architectures` (no torch, no NNI).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, cast

import torch
from torch import nn

from nni_lista.space import nni_import  # noqa: F401  (NNI imported without its two harmless warnings)
from nni.nas.nn.pytorch import ModelSpace
from nni.nas.space import current_model

from nni_lista.base.errors import require, short
from nni_lista.models.family import DEFAULT_LAM
from nni_lista.base.limits import check_network
from nni_lista.space.architectures import (
    NAMED_ARCHITECTURES,
    PRESETS,
    SpaceConfig,
    named_architecture,
    validate,
    with_defaults,
)
from nni_lista.space.layers import MeasurementMap, UnrolledLayer, initialise
from nni_lista.space.mixed_skip import oneshot_hooks


class LISTASpace(ModelSpace):
    """T unrolled LISTA-like layers for an m x n problem; see the module docstring.

    Only small arguments (sizes, names) define the space, so NNI can send it to trials as
    JSON. The operator ``A`` arrives with :meth:`initialise`, which sets the ISTA
    initialisation; a frozen model then maps ``b`` (batch, m) to the list of its layers'
    estimates, like the models of :mod:`nni_lista.models.family`.

    Parameters
    ----------
    m, n : int
        The problem size: ``m`` measurements of an ``n``-dimensional code, ``1 <= m <= n``.
    layers : int, default 16
        The depth T.
    neurons : tuple of str, default ("soft",)
        The neuron of each layer to choose from (``nni_lista.space.neurons.NEURONS``).
    skips : bool, default False
        Whether each layer chooses gated skip connections from every earlier estimate.
    weight_forms : tuple of str, default ("lista",)
        ``lista`` (``W_k``, ``B``), ``coupled`` (LISTA-CP) and ``analytic`` (ALISTA).
    thresholds, gain_gates, overshoots, momenta : tuple of str
        The post-ALISTA mechanisms to choose from (``nni_lista.space.mechanisms``); ``("scalar",)``
        and ``("off",)`` by default, the 2019 space.

    See Also
    --------
    from_preset : the named spaces (``lista``, ``connectivity``, ``neurons``, ``paper``, ``family``, ``full``).
    build : a frozen network of one architecture.
    """

    learned = True

    def __init__(
        self,
        m: int,
        n: int,
        layers: int = 16,
        neurons: tuple[str, ...] = ("soft",),
        skips: bool = False,
        weight_forms: tuple[str, ...] = ("lista",),
        thresholds: tuple[str, ...] = ("scalar",),
        gain_gates: tuple[str, ...] = ("off",),
        overshoots: tuple[str, ...] = ("off",),
        momenta: tuple[str, ...] = ("off",),
    ):
        check_network(m, n, layers)  # before anything is allocated
        super().__init__()
        self.layers = layers
        self.sizes = (m, n)
        self.config = SpaceConfig(
            tuple(neurons),
            skips,
            tuple(weight_forms),
            tuple(thresholds),
            tuple(gain_gates),
            tuple(overshoots),
            tuple(momenta),
        )  # what the labels offer
        self.choices = {"neurons": tuple(neurons), "skips": skips, "weight_forms": tuple(weight_forms)}
        self.lam = DEFAULT_LAM
        self.arch_sample: dict = dict(current_model() or {})  # the sample it was frozen with ({} unfrozen; see freeze)
        self.measure = MeasurementMap(m, n) if "lista" in weight_forms else None
        self.blocks = nn.ModuleList(UnrolledLayer(k, m, n, self.config) for k in range(1, layers + 1))

    def freeze(self, sample: dict) -> "LISTASpace":
        """NNI's freeze; the network keeps its sample as ``arch_sample`` (evaluators read it)."""
        model = super().freeze(sample)
        model.arch_sample = dict(sample)
        return model

    @classmethod
    def load_searched_model(
        cls,
        name: str,
        m: int = 250,
        n: int = 500,
        layers: int = 16,
        A: Optional[torch.Tensor] = None,
        lam: float = DEFAULT_LAM,
        pretrained: bool = False,
    ) -> "LISTASpace":
        """A named or searched architecture, frozen, for an ``m x n`` problem (NNI's space-hub
        convention): the family members of :data:`NAMED_ARCHITECTURES` with ``layers`` layers,
        or an architecture our committed results found (:data:`SEARCHED_MODELS`, shipped as
        label maps in ``nni_lista/space/searched/``; their depth is fixed). ISTA-initialised
        for ``A`` when given. No trained weights are shipped: ``pretrained=True`` is refused.

        ``name`` may also be the path of a file written by ``nni-lista export`` (a ``.pt``
        file): the network a search found, with its trained weights, ready to run (its size and
        depth are the file's; the other arguments are not used).

        Parameters
        ----------
        name : str or os.PathLike
            A named architecture (``lista``, ``alista``, ``aglista``, ...), a searched model, or
            the path of an exported ``.pt`` network.
        m, n : int, default 250, 500
            The problem size.
        layers : int, default 16
            The depth T.
        A : torch.Tensor, optional
            The ``m x n`` operator to ISTA-initialise for.
        lam : float, default 0.4
            The LASSO weight.
        pretrained : bool, default False
            Refused: no weights are shipped.

        Returns
        -------
        LISTASpace
            The frozen network.
        """
        if isinstance(name, (str, os.PathLike)) and str(name).endswith(".pt"):
            from nni_lista.space.exported import load_network

            return cast("LISTASpace", load_network(name))  # a frozen LISTASpace, with its weights
        require(
            not pretrained,
            "no pretrained weights are shipped (runs never download): train the model, e.g. "
            "`nni-lista retrain --arch FILE`",
        )
        check_network(m, n, layers, lam)
        if name in NAMED_ARCHITECTURES:
            arch = named_architecture(name, layers)
        else:
            require(
                name in SEARCHED_MODELS,
                f"model {short(name)} is not allowed: choose one of "
                f"{', '.join((*NAMED_ARCHITECTURES, *SEARCHED_MODELS))}",
            )
            arch = json.loads((_SEARCHED / f"{name}.json").read_text())
            depth = validate(arch)
            require(layers in (16, depth), f"{name} has {depth} layers (the depth it was searched at), not {layers}")
        return build(arch, m, n, A, lam)

    @classmethod
    def from_preset(cls, preset: str, m: int, n: int, layers: int = 16) -> "LISTASpace":
        """A named space (``nni_lista.space.architectures.PRESETS``).

        Parameters
        ----------
        preset : str
            ``lista``, ``connectivity``, ``neurons``, ``paper``, ``family`` or ``full``.
        m, n : int
            The problem size.
        layers : int, default 16
            The depth T.

        Returns
        -------
        LISTASpace
            The space, not initialised (call :meth:`initialise` with the operator).
        """
        require(preset in PRESETS, f"space {preset!r} is not allowed: choose one of {', '.join(PRESETS)}")
        config = PRESETS[preset]
        return cls(
            m,
            n,
            layers,
            config.neurons,
            config.skips,
            config.weight_forms,
            config.thresholds,
            config.gain_gates,
            config.overshoots,
            config.momenta,
        )

    def initialise(self, A: torch.Tensor, lam: float = DEFAULT_LAM) -> "LISTASpace":
        """Set every parameter to its ISTA value for operator ``A``.

        Parameters
        ----------
        A : torch.Tensor
            The ``m x n`` operator.
        lam : float, default 0.4
            The LASSO weight (thresholds start at ``lam / L``).

        Returns
        -------
        LISTASpace
            ``self``.
        """
        return initialise(self, A, lam)

    def extra_oneshot_hooks(self, strategy) -> list:
        """NNI's model-defined one-shot hooks: DARTS mixes skip edges without their zero
        candidate (:mod:`nni_lista.space.mixed_skip`)."""
        return oneshot_hooks(strategy)

    def layer_parameters(self, k: int) -> list[nn.Parameter]:
        """Parameters introduced by layer ``k`` (0-based); the shared ``B`` belongs to layer 0."""
        shared = list(self.measure.parameters()) if (k == 0 and self.measure is not None) else []
        return shared + list(self.blocks[k].parameters())

    def depth(self, depth: Optional[int]) -> int:
        return self.layers if depth is None else depth

    def forward(self, b: torch.Tensor, depth: Optional[int] = None) -> list[torch.Tensor]:
        Bb = self.measure(b) if self.measure is not None else None
        estimates: list[torch.Tensor] = []
        previous = None
        for block in self.blocks[: self.depth(depth)]:
            previous = block(b, Bb, previous, estimates)
            estimates.append(previous)
        return estimates


# Architectures our committed results found, shipped as label maps (nni_lista/space/searched/):
# shared-evolution-250x500: `nni-lista search --strategy shared-evolution` on 250x500, T = 16
# (results/weight-sharing/), retrained to -33.45 +- 0.07 dB against LISTA's -13.27 +- 0.03 dB.
_SEARCHED = Path(__file__).resolve().parent / "searched"
SEARCHED_MODELS = tuple(sorted(path.stem for path in _SEARCHED.glob("*.json")))


def build(arch: dict, m: int, n: int, A: Optional[torch.Tensor] = None, lam: float = DEFAULT_LAM) -> LISTASpace:
    """The network of a full-space architecture, frozen and ISTA-initialised.

    Parameters
    ----------
    arch : dict
        A label map of the full space (``layer3/neuron: soft``, ...); labels of dimensions added
        after 2019 may be missing (they read as their first value).
    m, n : int
        The problem size.
    A : torch.Tensor, optional
        The ``m x n`` operator; without it the network is not initialised.
    lam : float, default 0.4
        The LASSO weight.

    Returns
    -------
    LISTASpace
        The frozen network; ``model(b)`` gives its layers' estimates.
    """
    layers = validate(arch)
    arch = with_defaults(arch, layers)
    model = LISTASpace.from_preset("full", m, n, layers).freeze(arch)
    model.arch = arch
    return model if A is None else model.initialise(A, lam)
