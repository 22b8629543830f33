"""The unrolled models whose design space can be searched, keyed by name.

A :class:`Backbone` says how to make its NNI model space from a preset, which labels an
architecture of it has, and how to build (and ISTA-initialise) one architecture:

* ``lista`` -- :class:`nni_lista.space.spaces.LISTASpace`; architectures are label maps of the
  ``full`` preset (skips, neurons, weight forms); its plain network is LISTA.
* ``dladmm`` -- :class:`nni_lista.space.ladmm.DLADMMSpace` (docs/design-space.md); architectures are
  label maps of the ``paper`` labels (skips, neurons); its plain network is D-LADMM.

Both share the label scheme ``layer{k}/neuron``, ``layer{k}/skip_from{j}``, so a pattern found
on one backbone applies to the other as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from nni_lista.space import architectures, ladmm, spaces
from nni_lista.base.errors import require


@dataclass(frozen=True)
class Backbone:
    """One searchable model family."""

    name: str
    presets: dict  # preset name -> architectures.SpaceConfig (the dimensions it varies)
    target: architectures.SpaceConfig  # the labels of a complete architecture
    make_space: Callable  # (preset, m, n, layers) -> NNI ModelSpace
    build: Callable  # (arch, m, n, A, lam) -> initialised network
    plain_preset: str  # the preset with nothing to choose
    validate: Callable  # (arch) -> T, or UsageError: is it an architecture of this backbone?

    def check_preset(self, preset: str) -> None:
        require(
            preset in self.presets,
            f"space {preset!r} is not allowed for the {self.name} backbone: choose one of {', '.join(self.presets)}",
        )

    def labels(self, preset: str, layers: int) -> dict[str, tuple[str, ...]]:
        """The labels a sample of ``preset`` has, with their values."""
        return architectures.labels(layers, self.presets[preset])

    def complete(self, sample: dict, preset: str, layers: int) -> dict[str, str]:
        """The complete architecture of a ``preset`` sample."""
        return architectures.complete(sample, layers, self.presets[preset], self.target)

    def plain(self, layers: int) -> dict[str, str]:
        """The backbone's own network (LISTA, D-LADMM) as a complete architecture."""
        return self.complete({}, self.plain_preset, layers)


BACKBONES: dict[str, Backbone] = {
    "lista": Backbone(
        "lista",
        dict(architectures.PRESETS),
        architectures.PRESETS["full"],
        spaces.LISTASpace.from_preset,
        spaces.build,
        "lista",
        architectures.VALIDATORS["lista"],
    ),
    "dladmm": Backbone(
        "dladmm",
        dict(architectures.DLADMM_PRESETS),
        architectures.PRESETS["paper"],
        ladmm.DLADMMSpace.from_preset,
        ladmm.build,
        "plain",
        architectures.VALIDATORS["dladmm"],
    ),
}


def backbone(name: str) -> Backbone:
    require(name in BACKBONES, f"backbone {name!r} is not allowed: choose one of {', '.join(BACKBONES)}")
    return BACKBONES[name]
