"""The LISTA design space as an NNI 3.0 ``ModelSpace``, its presets, named architectures and
architecture files.

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

Presets (:data:`PRESETS`): ``lista`` (nothing to choose), ``connectivity`` (skips only),
``neurons`` (neurons only), ``paper`` (skips and neurons), ``family`` (plus weight forms: the
2018-2019 family's space), ``full`` (plus the post-ALISTA mechanisms: every dimension).
An architecture file is a JSON object mapping every label of the ``full`` space of its depth
to a value; :func:`complete` fills the labels a smaller space fixes. A file written before the
mechanisms existed lacks their labels; they read as "off" (``scalar`` threshold), what such a
network computes (:func:`with_defaults`).
"""

from __future__ import annotations

import json
import math
import os
import re
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
from nni_lista.base.limits import MAX_ARCH_FILE_BYTES, check_arch_depth, check_layers, check_memory, read_bounded
from nni_lista.space.layers import SKIP_STATES, WEIGHT_FORMS, MeasurementMap, SpaceConfig, UnrolledLayer, initialise
from nni_lista.space.mechanisms import MECHANISMS
from nni_lista.space.mixed_skip import oneshot_hooks
from nni_lista.space.neurons import NEURONS

PRESETS: dict[str, SpaceConfig] = {
    "lista": SpaceConfig(),
    "connectivity": SpaceConfig(skips=True),
    "neurons": SpaceConfig(neurons=tuple(NEURONS)),
    "paper": SpaceConfig(neurons=tuple(NEURONS), skips=True),
    "family": SpaceConfig(neurons=tuple(NEURONS), skips=True, weight_forms=WEIGHT_FORMS),
    "full": SpaceConfig(neurons=tuple(NEURONS), skips=True, weight_forms=WEIGHT_FORMS,
                        thresholds=tuple(MECHANISMS["threshold"]), gain_gates=tuple(MECHANISMS["gain_gate"]),
                        overshoots=tuple(MECHANISMS["overshoot"]), momenta=tuple(MECHANISMS["momentum"])),
}

#: dimensions added after architecture files of the 2019 space were written; missing labels of these read as their first value
LATER_DIMENSIONS = tuple(MECHANISMS)


class LISTASpace(ModelSpace):
    """T unrolled LISTA-like layers for an m x n problem; see the module docstring.

    Only small arguments (sizes, names) define the space, so NNI can send it to trials as
    JSON. The operator ``A`` arrives with :meth:`initialise`, which sets the ISTA
    initialisation; a frozen model then maps ``b`` (batch, m) to the list of its layers'
    estimates, like the models of :mod:`nni_lista.models.family`.
    """

    learned = True

    def __init__(self, m: int, n: int, layers: int = 16, neurons: tuple[str, ...] = ("soft",), skips: bool = False,
                 weight_forms: tuple[str, ...] = ("lista",), thresholds: tuple[str, ...] = ("scalar",),
                 gain_gates: tuple[str, ...] = ("off",), overshoots: tuple[str, ...] = ("off",),
                 momenta: tuple[str, ...] = ("off",)):
        super().__init__()
        self.layers = layers
        self.sizes = (m, n)
        self.config = SpaceConfig(tuple(neurons), skips, tuple(weight_forms), tuple(thresholds), tuple(gain_gates),
                                  tuple(overshoots), tuple(momenta))  # what the labels offer
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
    def load_searched_model(cls, name: str, m: int = 250, n: int = 500, layers: int = 16, A: Optional[torch.Tensor] = None,
                            lam: float = DEFAULT_LAM, pretrained: bool = False) -> "LISTASpace":
        """A named or searched architecture, frozen, for an ``m x n`` problem (NNI's space-hub
        convention): the family members of :data:`NAMED_ARCHITECTURES` with ``layers`` layers,
        or an architecture our committed results found (:data:`SEARCHED_MODELS`, shipped as
        label maps in ``nni_lista/space/searched/``; their depth is fixed). ISTA-initialised
        for ``A`` when given. No trained weights are shipped: ``pretrained=True`` is refused.

        ``name`` may also be the path of a file written by ``nni-lista export`` (a ``.pt``
        file): the network a search found, with its trained weights, ready to run (its size and
        depth are the file's; the other arguments are not used)."""
        if isinstance(name, (str, os.PathLike)) and str(name).endswith(".pt"):
            from nni_lista.space.exported import load_network

            return load_network(name)
        require(not pretrained, "no pretrained weights are shipped (runs never download): train the model, e.g. "
                                "`nni-lista retrain --arch FILE`")
        check_layers(layers)
        for size, value, high in (("n", n, None), ("m", m, n)):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1 and (high is None or value <= high)
            require(ok, f"{size} {short(value)} is not allowed: it must be an integer >= 1" + ("" if high is None else f" and <= n ({n})"))
        require(isinstance(lam, (int, float)) and not isinstance(lam, bool) and math.isfinite(lam) and lam > 0,
                f"lam {short(lam)} is not allowed: it must be a finite number > 0")
        check_memory(f"a {m}x{n} network with {layers} layers", m, n, layers, batch=0, n_fixed=0)
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
        return cls(m, n, layers, config.neurons, config.skips, config.weight_forms, config.thresholds, config.gain_gates,
                   config.overshoots, config.momenta)

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
        for dimension, values in config.layer_values(k).items():
            if len(values) > 1:
                out[f"layer{k}/{dimension}"] = values
        if config.skips:
            for j in range(1, k - 1):
                out[f"layer{k}/skip_from{j}"] = SKIP_STATES
    return out


def dimension_of(label: str) -> str:
    """The design dimension of a label: ``layer5/threshold`` -> ``threshold``, ``layer5/skip_from2`` -> ``skip``."""
    kind = label.split("/")[1]
    return "skip" if kind.startswith("skip_from") else kind


def _fixed_values(config: SpaceConfig) -> dict[str, str]:
    """What a space fixes for a dimension it does not vary."""
    return {dimension: values[0] for dimension, values in config.layer_values(2).items()} | {"skip": "off"}


def complete(sample: dict, layers: int, config: SpaceConfig, target: SpaceConfig = PRESETS["full"]) -> dict[str, str]:
    """An architecture of space ``target`` (the full space) from a sample of a smaller space
    ``config`` (the dimensions it fixes filled in)."""
    fixed = _fixed_values(config)
    return {label: sample.get(label, fixed[dimension_of(label)]) for label in labels(layers, target)}


# ----------------------------------------------------------------------------- named architectures

#: the named architectures as the values of their dimensions (every other dimension at its
#: first value: scalar threshold, gates and momentum off, skips off); docs/problem-and-family.md
_NAMED: dict[str, dict[str, str]] = {
    "lista": {},
    "lista-cp": {"weight_form": "coupled"},
    "lista-cpss": {"weight_form": "coupled", "neuron": "soft-ss"},
    "alista": {"weight_form": "analytic", "neuron": "soft-ss"},
    "dense": {"skip": "on"},
    "alista-at": {"weight_form": "analytic", "neuron": "soft-ss", "threshold": "adaptive"},
    "aglista": {"weight_form": "analytic", "neuron": "soft-ss", "gain_gate": "exp", "overshoot": "inv"},
    "hyperlista": {"weight_form": "analytic", "neuron": "soft-ss", "threshold": "residual", "momentum": "adaptive"},
}
NAMED_ARCHITECTURES = tuple(_NAMED)


def named_architecture(name: str, layers: int) -> dict[str, str]:
    """A named architecture (:data:`NAMED_ARCHITECTURES`: the LISTA family, ``dense`` = LISTA with
    every skip on, and the post-ALISTA members ALISTA-AT, AGLISTA, HyperLISTA) as a full-space
    architecture."""
    require(name in _NAMED, f"architecture {name!r} is not allowed: choose one of {', '.join(_NAMED)}")
    value = _fixed_values(PRESETS["lista"]) | _NAMED[name]
    return {label: value[dimension_of(label)] for label in labels(layers)}


def describe(arch: dict, layers: int, shown: int = 4) -> dict:
    """The named architecture nearest to ``arch`` (fewest of ``arch``'s labels differ; ties go to
    the earlier name) and how ``arch`` differs from it: ``{"nearest", "labels_changed",
    "changes", "family_member", "text"}``, ``text`` as "= ALISTA" or "ALISTA with 3 labels
    changed: layer5/momentum=learned, ...". ``arch`` may hold only the labels a search set."""
    def changes(name: str) -> list[str]:
        named = named_architecture(name, layers)
        return [f"{label}={value}" for label, value in arch.items() if named.get(label, value) != value]
    nearest = min(NAMED_ARCHITECTURES, key=lambda name: len(changes(name)))
    changed = changes(nearest)
    title = _TITLES.get(nearest, nearest)
    if not changed:
        text = f"= {title}"
    else:
        more = f", and {len(changed) - shown} more" if len(changed) > shown else ""
        text = f"{title} with {len(changed)} label{'s' if len(changed) > 1 else ''} changed: {', '.join(changed[:shown])}{more}"
    return {"nearest": nearest, "labels_changed": len(changed), "changes": changed, "family_member": not changed, "text": text}


_TITLES = {"lista": "LISTA", "lista-cp": "LISTA-CP", "lista-cpss": "LISTA-CPSS", "alista": "ALISTA", "dense": "dense",
           "alista-at": "ALISTA-AT", "aglista": "AGLISTA", "hyperlista": "HyperLISTA"}


# Architectures our committed results found, shipped as label maps (nni_lista/space/searched/):
# shared-evolution-250x500: `nni-lista search --strategy shared-evolution` on 250x500, T = 16
# (results/weight-sharing/), retrained to -33.45 +- 0.07 dB against LISTA's -13.27 +- 0.03 dB.
_SEARCHED = Path(__file__).resolve().parent / "searched"
SEARCHED_MODELS = tuple(sorted(path.stem for path in _SEARCHED.glob("*.json")))


def build(arch: dict, m: int, n: int, A: Optional[torch.Tensor] = None, lam: float = DEFAULT_LAM) -> LISTASpace:
    """The network of full-space architecture ``arch`` (validated), ISTA-initialised for ``A``."""
    layers = validate(arch)
    arch = with_defaults(arch, layers)
    model = LISTASpace.from_preset("full", m, n, layers).freeze(arch)
    model.arch = arch
    return model if A is None else model.initialise(A, lam)


# ----------------------------------------------------------------------------- files

_LAYER = re.compile(r"^layer0*(\d{1,9})/")  # leading zeros skipped; a longer number is no label


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
    return check_layers(max(depths), "an architecture's depth")


def with_defaults(arch: dict, layers: int) -> dict[str, str]:
    """``arch`` with the missing labels of :data:`LATER_DIMENSIONS` set to their first value
    (what a network of the 2019 space computes); every other label as it is."""
    fixed = _fixed_values(PRESETS["lista"])
    full = labels(layers)
    if all(label in arch for label in full if dimension_of(label) in LATER_DIMENSIONS):
        return dict(arch)
    out = {label: arch[label] if label in arch else fixed[dimension_of(label)]
           for label in full if label in arch or dimension_of(label) in LATER_DIMENSIONS}
    return out | {label: value for label, value in arch.items() if label not in out}  # unknown labels kept: check refuses them


def validate(arch: object) -> int:
    """Check that ``arch`` is an architecture of the full space (its depth read from the
    labels, see :func:`check`; labels of :data:`LATER_DIMENSIONS` may be missing); returns T."""
    layers = layers_of(arch)
    check(with_defaults(arch, layers), layers)
    return layers


def save_arch(arch: dict, path: str | os.PathLike) -> Path:
    """Write a validated architecture as a JSON label map, atomically."""
    validate(arch)
    return write_json(path, dict(arch))


def load_arch(path: str | os.PathLike, check_arch=None) -> dict[str, str]:
    """Read an architecture file and validate it with ``check_arch`` (default :func:`validate`,
    the full LISTA space; see ``nni_lista.space.backbones``); problems raise :class:`UsageError`.
    At most ``MAX_ARCH_FILE_BYTES`` are read, and a label naming a layer beyond ``MAX_LAYERS``
    is refused before any table of labels is built."""
    try:
        arch = json.loads(read_bounded(Path(path), MAX_ARCH_FILE_BYTES, "architecture file").decode())
    except FileNotFoundError:
        raise UsageError(f"architecture file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UsageError(f"cannot read architecture file {str(path)!r}: {exc}") from None
    check_arch_depth(arch, f"architecture file {str(path)!r}")  # before the space builds a label table of that depth
    try:
        (check_arch or validate)(arch)
    except UsageError as exc:
        raise UsageError(f"architecture file {str(path)!r}: {exc}") from None
    return with_defaults(arch, layers_of(arch)) if check_arch is None else arch
