"""Architectures as label maps, without torch or NNI: the space's vocabulary, its labels, presets,
named architectures and architecture files.

A point of the design space is a JSON object mapping labels to values (``layer5/neuron`` ->
``soft-ss``); the table of labels is in :mod:`nni_lista.space.spaces`, which builds the NNI
model space from the operator registries keyed by these names (``NEURONS`` in
:mod:`nni_lista.space.neurons`, ``MECHANISMS`` in :mod:`nni_lista.space.mechanisms`, ``FORMS``
in :mod:`nni_lista.space.layers`; a test checks that their keys are the names here). Everything
that reads, checks, names or completes an architecture lives here, so that the command line can
refuse a bad file before torch's networks or NNI are imported.

Presets (:data:`PRESETS`): ``lista`` (nothing to choose), ``connectivity`` (skips only),
``neurons`` (neurons only), ``paper`` (skips and neurons), ``family`` (plus weight forms: the
2018-2019 family's space), ``full`` (plus the post-ALISTA mechanisms: every dimension); the
D-LADMM backbone's are :data:`DLADMM_PRESETS`. An architecture file maps every label of the
``full`` space of its depth to a value; :func:`complete` fills the labels a smaller space fixes.
A file written before the mechanisms existed lacks their labels; they read as "off" (``scalar``
threshold), what such a network computes (:func:`with_defaults`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from nni_lista.base.errors import UsageError, require, short
from nni_lista.base.limits import MAX_ARCH_FILE_BYTES, check_arch_depth, check_layers, read_bounded

# ----------------------------------------------------------------------------- vocabulary

#: neuron types (:data:`nni_lista.space.neurons.NEURONS`)
NEURON_NAMES = ("soft", "soft-ss", "firm", "relu", "leaky-relu", "tanh", "identity")
#: weight forms (:data:`nni_lista.space.layers.FORMS`)
WEIGHT_FORMS = ("lista", "coupled", "analytic")
#: the states of a skip edge
SKIP_STATES = ("off", "on")
#: the post-ALISTA mechanisms' dimensions and values (:data:`nni_lista.space.mechanisms.MECHANISMS`)
MECHANISM_VALUES = {
    "threshold": ("scalar", "vector", "adaptive", "residual"),
    "gain_gate": ("off", "exp", "inv"),
    "overshoot": ("off", "inv"),
    "momentum": ("off", "learned", "adaptive"),
}
#: dimensions without a label in layer 1 (``x^0 = 0`` makes them nothing there)
NOT_IN_FIRST_LAYER = ("gain_gate", "momentum")


def in_layer(dimension: str, k: int) -> bool:
    """Whether layer ``k`` (1-based) has a label for ``dimension``."""
    return k > 1 or dimension not in NOT_IN_FIRST_LAYER


@dataclass(frozen=True)
class SpaceConfig:
    """Which values each per-layer dimension of a space offers (one value: fixed, no label)."""

    neurons: tuple[str, ...] = ("soft",)
    skips: bool = False
    weight_forms: tuple[str, ...] = ("lista",)
    thresholds: tuple[str, ...] = ("scalar",)
    gain_gates: tuple[str, ...] = ("off",)
    overshoots: tuple[str, ...] = ("off",)
    momenta: tuple[str, ...] = ("off",)

    def layer_values(self, k: int) -> dict[str, tuple[str, ...]]:
        """Dimension -> the values it offers in layer ``k`` (1-based), in label order; skips apart."""
        values = {
            "weight_form": self.weight_forms,
            "neuron": self.neurons,
            "threshold": self.thresholds,
            "gain_gate": self.gain_gates,
            "overshoot": self.overshoots,
            "momentum": self.momenta,
        }
        return {name: tuple(v) for name, v in values.items() if in_layer(name, k)}


PRESETS: dict[str, SpaceConfig] = {
    "lista": SpaceConfig(),
    "connectivity": SpaceConfig(skips=True),
    "neurons": SpaceConfig(neurons=NEURON_NAMES),
    "paper": SpaceConfig(neurons=NEURON_NAMES, skips=True),
    "family": SpaceConfig(neurons=NEURON_NAMES, skips=True, weight_forms=WEIGHT_FORMS),
    "full": SpaceConfig(
        neurons=NEURON_NAMES,
        skips=True,
        weight_forms=WEIGHT_FORMS,
        thresholds=MECHANISM_VALUES["threshold"],
        gain_gates=MECHANISM_VALUES["gain_gate"],
        overshoots=MECHANISM_VALUES["overshoot"],
        momenta=MECHANISM_VALUES["momentum"],
    ),
}

#: dimensions added after architecture files of the 2019 space were written; missing labels of these read as their
#: first value
LATER_DIMENSIONS = tuple(MECHANISM_VALUES)


#: the D-LADMM backbone's presets (docs/design-space.md): its layers offer skips and neurons
DLADMM_PRESETS: dict[str, SpaceConfig] = {
    "plain": PRESETS["lista"],
    **{name: PRESETS[name] for name in ("connectivity", "neurons", "paper")},
}


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
    """A named architecture as a full-space architecture.

    Parameters
    ----------
    name : str
        One of :data:`NAMED_ARCHITECTURES`: the LISTA family, ``dense`` (LISTA with every skip
        on) and the post-ALISTA members ALISTA-AT, AGLISTA, HyperLISTA.
    layers : int
        The depth T.

    Returns
    -------
    dict of str to str
        Its label map (``layer1/weight_form: analytic``, ...).
    """
    require(name in _NAMED, f"architecture {name!r} is not allowed: choose one of {', '.join(_NAMED)}")
    value = _fixed_values(PRESETS["lista"]) | _NAMED[name]
    return {label: value[dimension_of(label)] for label in labels(layers)}


def describe(arch: dict, layers: int, shown: int = 4) -> dict:
    """The named architecture nearest to ``arch`` (fewest of ``arch``'s labels differ; ties go to
    the earlier name) and how ``arch`` differs from it.

    Parameters
    ----------
    arch : dict
        A label map; it may hold only the labels a search set.
    layers : int
        The depth T.
    shown : int, default 4
        How many changed labels the text names.

    Returns
    -------
    dict
        ``{"nearest", "labels_changed", "changes", "family_member", "text"}``, ``text`` as
        "= ALISTA" or "ALISTA with 3 labels changed: layer5/momentum=learned, ...".
    """

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
        labels = "label" if len(changed) == 1 else "labels"
        text = f"{title} with {len(changed)} {labels} changed: {', '.join(changed[:shown])}{more}"
    return {
        "nearest": nearest,
        "labels_changed": len(changed),
        "changes": changed,
        "family_member": not changed,
        "text": text,
    }


_TITLES = {
    "lista": "LISTA",
    "lista-cp": "LISTA-CP",
    "lista-cpss": "LISTA-CPSS",
    "alista": "ALISTA",
    "dense": "dense",
    "alista-at": "ALISTA-AT",
    "aglista": "AGLISTA",
    "hyperlista": "HyperLISTA",
}

# ----------------------------------------------------------------------------- files

_LAYER = re.compile(r"^layer0*(\d{1,9})/")  # leading zeros skipped; a longer number is no label


def check(sample: dict, layers: int, space: str = "full") -> None:
    """Check that ``sample`` gives every label of preset ``space`` with ``layers`` layers an
    allowed value, and has no other label; problems raise :class:`UsageError`."""
    allowed = labels(layers, PRESETS[space])
    for label, value in sample.items():
        require(
            label in allowed, f"unknown label {short(label)}: not a label of the {space} space with {layers} layers"
        )
        require(
            isinstance(value, str) and value in allowed[label],
            f"{label}={short(value)} is not allowed: choose one of {', '.join(allowed[label])}",
        )
    missing = [label for label in allowed if label not in sample]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise UsageError(f"missing label {missing[0]!r}{more}")


def layers_of(arch: object) -> int:
    """The depth T of a label map (its largest ``layer{k}``); a malformed map raises :class:`UsageError`."""
    if not isinstance(arch, dict) or not arch:
        raise UsageError("an architecture must be a non-empty JSON object mapping labels to values")
    depths = []
    for label in arch:
        match = _LAYER.match(str(label))
        if match is None:
            raise UsageError(
                f"unknown label {label!r}: labels look like layer5/neuron, layer5/skip_from2, layer5/weight_form"
            )
        depths.append(int(match.group(1)))
    return check_layers(max(depths), "an architecture's depth")


def with_defaults(arch: dict, layers: int) -> dict[str, str]:
    """``arch`` with the missing labels of :data:`LATER_DIMENSIONS` set to their first value
    (what a network of the 2019 space computes); every other label as it is."""
    fixed = _fixed_values(PRESETS["lista"])
    full = labels(layers)
    if all(label in arch for label in full if dimension_of(label) in LATER_DIMENSIONS):
        return dict(arch)
    out = {
        label: arch[label] if label in arch else fixed[dimension_of(label)]
        for label in full
        if label in arch or dimension_of(label) in LATER_DIMENSIONS
    }
    return out | {
        label: value for label, value in arch.items() if label not in out
    }  # unknown labels kept: check refuses them


def validate(arch: object) -> int:
    """Check that ``arch`` is an architecture of the full space (its depth read from the
    labels, see :func:`check`; labels of :data:`LATER_DIMENSIONS` may be missing); returns T."""
    layers = layers_of(arch)
    check(with_defaults(cast(dict, arch), layers), layers)
    return layers


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


def validate_dladmm(arch: object) -> int:
    """Check that ``arch`` is a D-LADMM architecture (a label map of the ``paper`` labels); returns T."""
    layers = layers_of(arch)
    check(cast(dict, arch), layers, "paper")
    return layers


#: backbone -> the check of its architectures (:data:`nni_lista.space.backbones.BACKBONES`)
VALIDATORS = {"lista": validate, "dladmm": validate_dladmm}
#: the searchable unrolled models by name (:data:`nni_lista.space.backbones.BACKBONES` builds them)
BACKBONE_NAMES = tuple(VALIDATORS)
