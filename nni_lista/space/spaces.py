"""The LISTA design space as an NNI 3.0 ``ModelSpace``, its presets, named architectures and
architecture files.

The space (after Meng et al., "A Design Space Study for LISTA and Beyond", ICLR 2021) unrolls
T layers (:class:`nni_lista.space.layers.UnrolledLayer`) with, per layer k, these choices:

=========================  =====================================  ==============================
label                      values                                 dimension
=========================  =====================================  ==============================
``layer{k}/neuron``        names in :data:`nni_lista.space.neurons.NEURONS`  neuron type
``layer{k}/skip_from{j}``  ``off`` / ``on``, 1 <= j <= k-2         skip from estimate ``x^j``
``layer{k}/weight_form``   ``lista`` / ``coupled``                 weight form
=========================  =====================================  ==============================

Every skip is its own on/off ``LayerChoice``: the one encoding that every NNI strategy, both
profilers, TPE and the classic HPO format accept (docs/nni-notes.md; a multi-input
``InputChoice`` is not). Several inputs are merged by adding gated copies to the
predecessor's estimate (see :mod:`nni_lista.space.layers`). A dimension with one value is fixed and
has no label.

Presets (:data:`PRESETS`): ``lista`` (nothing to choose), ``connectivity`` (skips only),
``neurons`` (neurons only), ``paper`` (skips and neurons), ``full`` (plus weight forms).
An architecture file is a JSON object mapping every label of the ``full`` space of its depth
to a value; :func:`complete` fills the labels a smaller space fixes.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from nni_lista.space import nni_import  # noqa: F401  (NNI imported without its two harmless warnings)
from nni.nas.nn.pytorch import ModelSpace
from nni.nas.space import current_model

from nni_lista.base.errors import UsageError, require, short
from nni_lista.models.family import DEFAULT_LAM
from nni_lista.base.io import write_json
from nni_lista.space.layers import SKIP_STATES, WEIGHT_FORMS, MeasurementMap, UnrolledLayer, initialise
from nni_lista.space.mixed_skip import oneshot_hooks
from nni_lista.space.neurons import NEURONS


@dataclass(frozen=True)
class SpaceConfig:
    """Which dimensions a space varies."""

    neurons: tuple[str, ...] = ("soft",)
    skips: bool = False
    weight_forms: tuple[str, ...] = ("lista",)


PRESETS: dict[str, SpaceConfig] = {
    "lista": SpaceConfig(),
    "connectivity": SpaceConfig(skips=True),
    "neurons": SpaceConfig(neurons=tuple(NEURONS)),
    "paper": SpaceConfig(neurons=tuple(NEURONS), skips=True),
    "full": SpaceConfig(neurons=tuple(NEURONS), skips=True, weight_forms=WEIGHT_FORMS),
}


class LISTASpace(ModelSpace):
    """T unrolled LISTA-like layers for an m x n problem; see the module docstring.

    Only small arguments (sizes, names) define the space, so NNI can send it to trials as
    JSON. The operator ``A`` arrives with :meth:`initialise`, which sets the ISTA
    initialisation; a frozen model then maps ``b`` (batch, m) to the list of its layers'
    estimates, like the models of :mod:`nni_lista.models.family`.
    """

    learned = True

    def __init__(self, m: int, n: int, layers: int = 16, neurons: tuple[str, ...] = ("soft",), skips: bool = False,
                 weight_forms: tuple[str, ...] = ("lista",)):
        super().__init__()
        self.layers = layers
        self.sizes = (m, n)
        self.choices = {"neurons": tuple(neurons), "skips": skips, "weight_forms": tuple(weight_forms)}  # what the labels offer
        self.lam = DEFAULT_LAM
        self.arch_sample: dict = dict(current_model() or {})  # the sample it was frozen with ({} unfrozen; see freeze)
        self.measure = MeasurementMap(m, n) if "lista" in weight_forms else None
        self.blocks = nn.ModuleList(
            UnrolledLayer(k, m, n, tuple(neurons), skips, tuple(weight_forms)) for k in range(1, layers + 1)
        )

    def freeze(self, sample: dict) -> "LISTASpace":
        """NNI's freeze; the network keeps its sample as ``arch_sample`` (evaluators read it)."""
        model = super().freeze(sample)
        model.arch_sample = dict(sample)
        return model

    @classmethod
    def load_searched_model(cls, name: str, m: int = 250, n: int = 500, layers: int = 16, A: Optional[torch.Tensor] = None,
                            lam: float = DEFAULT_LAM, pretrained: bool = False) -> "LISTASpace":
        """A named or searched architecture, frozen, for an ``m x n`` problem (NNI's space-hub
        convention): the family members of :data:`NAMED_ARCHITECTURES` with ``layers`` layers,
        or an architecture our committed results found (:data:`SEARCHED_MODELS`, shipped as
        label maps in ``nni_lista/space/searched/``; their depth is fixed). ISTA-initialised
        for ``A`` when given. No trained weights are shipped: ``pretrained=True`` is refused."""
        require(not pretrained, "no pretrained weights are shipped (runs never download): train the model, e.g. "
                                "`nni-lista retrain --arch FILE`")
        if name in NAMED_ARCHITECTURES:
            arch = named_architecture(name, layers)
        else:
            require(name in SEARCHED_MODELS, f"model {short(name)} is not allowed: choose one of "
                                             f"{', '.join((*NAMED_ARCHITECTURES, *SEARCHED_MODELS))}")
            arch = json.loads((_SEARCHED / f"{name}.json").read_text())
            depth = validate(arch)
            require(layers in (16, depth), f"{name} has {depth} layers (the depth it was searched at), not {layers}")
        return build(arch, m, n, A, lam)

    @classmethod
    def from_preset(cls, preset: str, m: int, n: int, layers: int = 16) -> "LISTASpace":
        require(preset in PRESETS, f"space {preset!r} is not allowed: choose one of {', '.join(PRESETS)}")
        config = PRESETS[preset]
        return cls(m, n, layers, config.neurons, config.skips, config.weight_forms)

    def initialise(self, A: torch.Tensor, lam: float = DEFAULT_LAM) -> "LISTASpace":
        """Set every parameter to its ISTA value for operator ``A``; returns ``self``."""
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


# ----------------------------------------------------------------------------- labels

def labels(layers: int, config: SpaceConfig = PRESETS["full"]) -> dict[str, tuple[str, ...]]:
    """Every label of a space and its allowed values, in layer order."""
    out: dict[str, tuple[str, ...]] = {}
    for k in range(1, layers + 1):
        if len(config.weight_forms) > 1:
            out[f"layer{k}/weight_form"] = tuple(config.weight_forms)
        if len(config.neurons) > 1:
            out[f"layer{k}/neuron"] = tuple(config.neurons)
        if config.skips:
            for j in range(1, k - 1):
                out[f"layer{k}/skip_from{j}"] = SKIP_STATES
    return out


def _dimension(label: str) -> str:
    """``weight_form``, ``neuron`` or ``skip`` for a label such as ``layer5/skip_from2``."""
    kind = label.split("/")[1]
    return "skip" if kind.startswith("skip_from") else kind


def _fixed_values(config: SpaceConfig) -> dict[str, str]:
    """What a space fixes for a dimension it does not vary."""
    return {"weight_form": config.weight_forms[0], "neuron": config.neurons[0], "skip": "off"}


def complete(sample: dict, layers: int, config: SpaceConfig, target: SpaceConfig = PRESETS["full"]) -> dict[str, str]:
    """An architecture of space ``target`` (the full space) from a sample of a smaller space
    ``config`` (the dimensions it fixes filled in)."""
    fixed = _fixed_values(config)
    return {label: sample.get(label, fixed[_dimension(label)]) for label in labels(layers, target)}


# ----------------------------------------------------------------------------- named architectures

def named_architecture(name: str, layers: int) -> dict[str, str]:
    """``lista``, ``lista-cp``, ``lista-cpss``, ``alista`` or ``dense`` (LISTA with every skip
    on) as a full-space architecture."""
    form = {"lista": "lista", "dense": "lista", "lista-cp": "coupled", "lista-cpss": "coupled", "alista": "analytic"}
    neuron = {"lista": "soft", "dense": "soft", "lista-cp": "soft", "lista-cpss": "soft-ss", "alista": "soft-ss"}
    require(name in form, f"architecture {name!r} is not allowed: choose one of {', '.join(form)}")
    value = {"weight_form": form[name], "neuron": neuron[name], "skip": "on" if name == "dense" else "off"}
    return {label: value[_dimension(label)] for label in labels(layers)}


NAMED_ARCHITECTURES = ("lista", "lista-cp", "lista-cpss", "alista", "dense")

# Architectures our committed results found, shipped as label maps (nni_lista/space/searched/):
# shared-evolution-250x500: `nni-lista search --strategy shared-evolution` on 250x500, T = 16
# (results/weight-sharing/), retrained to -33.45 +- 0.07 dB against LISTA's -13.27 +- 0.03 dB.
_SEARCHED = Path(__file__).resolve().parent / "searched"
SEARCHED_MODELS = tuple(sorted(path.stem for path in _SEARCHED.glob("*.json")))


def build(arch: dict, m: int, n: int, A: Optional[torch.Tensor] = None, lam: float = DEFAULT_LAM) -> LISTASpace:
    """The network of full-space architecture ``arch`` (validated), ISTA-initialised for ``A``."""
    layers = validate(arch)
    model = LISTASpace.from_preset("full", m, n, layers).freeze(arch)
    model.arch = dict(arch)
    return model if A is None else model.initialise(A, lam)


# ----------------------------------------------------------------------------- files

_LAYER = re.compile(r"^layer(\d+)/")


def check(sample: dict, layers: int, space: str = "full") -> None:
    """Check that ``sample`` gives every label of preset ``space`` with ``layers`` layers an
    allowed value, and has no other label; problems raise :class:`UsageError`."""
    allowed = labels(layers, PRESETS[space])
    for label, value in sample.items():
        require(label in allowed, f"unknown label {short(label)}: not a label of the {space} space with {layers} layers")
        require(isinstance(value, str) and value in allowed[label],
                f"{label}={short(value)} is not allowed: choose one of {', '.join(allowed[label])}")
    missing = [label for label in allowed if label not in sample]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise UsageError(f"missing label {missing[0]!r}{more}")


def layers_of(arch: object) -> int:
    """The depth T of a label map (its largest ``layer{k}``); a malformed map raises :class:`UsageError`."""
    require(isinstance(arch, dict) and arch, "an architecture must be a non-empty JSON object mapping labels to values")
    depths = []
    for label in arch:
        match = _LAYER.match(str(label))
        require(match is not None, f"unknown label {label!r}: labels look like layer5/neuron, layer5/skip_from2, layer5/weight_form")
        depths.append(int(match.group(1)))
    return max(depths)


def validate(arch: object) -> int:
    """Check that ``arch`` is an architecture of the full space (its depth read from the
    labels, see :func:`check`); returns T."""
    layers = layers_of(arch)
    check(arch, layers)
    return layers


def save_arch(arch: dict, path: str | os.PathLike) -> Path:
    """Write a validated architecture as a JSON label map, atomically."""
    validate(arch)
    return write_json(path, dict(arch))


def load_arch(path: str | os.PathLike, check_arch=None) -> dict[str, str]:
    """Read an architecture file and validate it with ``check_arch`` (default :func:`validate`,
    the full LISTA space; see ``nni_lista.space.backbones``); problems raise :class:`UsageError`."""
    try:
        arch = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"architecture file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UsageError(f"cannot read architecture file {str(path)!r}: {exc}") from None
    try:
        (check_arch or validate)(arch)
    except UsageError as exc:
        raise UsageError(f"architecture file {str(path)!r}: {exc}") from None
    return arch
