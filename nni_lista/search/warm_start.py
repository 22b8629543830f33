"""Searches that start from what is known: the LISTA family as the first samples of NNI's
regularized evolution and random search, and mutations that change a few labels, not a tenth
of them.

NNI's :class:`~nni.nas.strategy.RegularizedEvolution` (Real et al., AAAI 2019) draws its first
``population_size`` individuals at random and changes each label of a parent with probability
``mutation_prob``. In our spaces (up to 137 labels at T = 16) that is random search with one
lineage. :class:`WarmStartEvolution` is NNI's strategy with two changes:

- its first individuals are the ``seeds`` (the family members expressible in the searched
  space, :func:`family_seeds`), then children of them until the population is full (NNI fills
  it with random samples, which in the ``full`` space are almost never working networks); the
  best individual found can therefore never be worse on the proxy than the best family member;
- a child differs from its parent in ``k`` labels, ``k`` uniform in ``1..max_mutations``, each
  set to a value other than the parent's (the "one mutation at a time" of the paper);
- with probability ``dimension_prob`` a child is made by a move on a whole design dimension
  instead (:func:`dimension_move`): a *sweep* sets one dimension (threshold shape, gain gate,
  momentum, weight form, neuron, skips, ...) to one value over a run of layers (all of them
  half the time), or a *graft* copies every label of one dimension from a donor: the winner of
  a tournament among every individual scored so far that descends from another family member
  (the seeds stay donors after the population has aged them out). Mechanisms are designed
  layer-wide (ALISTA-AT's threshold is adaptive in every layer), so a label-at-a-time walk from one family member
  reaches another's mechanism only
  after T mutations; a graft combines two members' mechanisms in one step (ALISTA-AT's
  threshold into AGLISTA).

Everything else (tournament selection of size ``sample_size``, ageing, deduplication, NNI's
engine, events and ``list_models``) is NNI's own. :class:`WarmStartRandom` is NNI's
:class:`~nni.nas.strategy.Random` that tries the seeds before its random samples.
:class:`WarmStartTPE` is NNI's TPE strategy (its ``HPOTunerStrategy`` around NNI's
``TpeTuner``, Bergstra et al. 2011) whose tuner proposes the seeds as its first parameters:
they are its own trials, so their results enter the Parzen estimators like any other.
NNI's policy-based RL has no such hook (its policy network samples every label) and is not
warm-started.
"""

from __future__ import annotations

import functools
import logging
from typing import Sequence

from nni.nas.space import ExecutableModelSpace
from nni.nas.strategy import Random, RegularizedEvolution
from nni.nas.strategy.evolution import Individual
from nni.nas.strategy.hpo import HPOTunerStrategy
from nni.nas.strategy.utils import DuplicationError
from numpy.random import RandomState

from nni_lista.base.limits import label_layer
from nni_lista.search.seeded_tpe import SeededTpeTuner
from nni_lista.space.architectures import (
    NAMED_ARCHITECTURES,
    SpaceConfig,
    complete,
    describe,
    dimension_of,
    labels,
    named_architecture,
)

_log = logging.getLogger(__name__)


def _seed_points(config: SpaceConfig, layers: int) -> dict[str, dict[str, str]]:
    """Name -> sample (the labels the space ``config`` varies only) of each named architecture that
    is a point of that space, the first name of each point only, in :data:`NAMED_ARCHITECTURES` order."""
    points: dict[str, dict[str, str]] = {}
    for name in NAMED_ARCHITECTURES:
        arch = named_architecture(name, layers)
        sample = {label: arch[label] for label in labels(layers, config)}
        if complete(sample, layers, config) == arch and sample not in points.values():
            points[name] = sample
    return points


def seed_names(config: SpaceConfig, layers: int) -> list[str]:
    """The named architectures (LISTA, LISTA-CP, LISTA-CPSS, ALISTA, dense, ALISTA-AT, AGLISTA,
    HyperLISTA) that are points of the space ``config``, the first name of each point only."""
    return list(_seed_points(config, layers))


def family_seeds(config: SpaceConfig, layers: int) -> list[dict[str, str]]:
    """The starting points of a warm-started search: the samples of :func:`seed_names`, in order."""
    return list(_seed_points(config, layers).values())


def _next_seed(seeds: list[dict], dedup) -> dict | None:
    """Pop the next seed not tried before (``None`` when none is left)."""
    while seeds:
        sample = seeds.pop(0)
        try:
            if dedup is not None:
                dedup.dedup(sample)
        except DuplicationError:
            continue
        return sample
    return None


class WarmStartRandom(Random):
    """NNI's random search, trying ``seeds`` (samples of the space) before random samples."""

    def __init__(self, *, seeds: Sequence[dict] = (), **kwargs):
        super().__init__(**kwargs)
        self.seeds = [dict(s) for s in seeds]

    def random(self, model_space: ExecutableModelSpace) -> ExecutableModelSpace:
        sample = _next_seed(self.seeds, self._dedup_helper)
        if sample is None:
            return super().random(model_space)
        _log.info("Seed: %s", sample)
        return model_space.freeze(sample)


class WarmStartEvolution(RegularizedEvolution):
    """NNI's regularized evolution, seeded with known architectures and mutating a few labels per child.

    Parameters
    ----------
    seeds
        Samples of the searched space tried first, in order (see :func:`family_seeds`).
    max_mutations
        A child changes ``k`` labels of its parent, ``k`` drawn uniformly from ``1..max_mutations``.
    dimension_prob
        The probability that a child comes from a move on a whole dimension
        (:func:`dimension_move`) instead; 0 turns those moves off.
    **kwargs
        NNI's :class:`~nni.nas.strategy.RegularizedEvolution` arguments (``population_size``,
        ``sample_size``, ``seed``, ...); ``mutation_prob`` is not used.
    """

    def __init__(self, *, seeds: Sequence[dict] = (), max_mutations: int = 3, dimension_prob: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        if max_mutations < 1:
            raise ValueError(f"max_mutations {max_mutations} is not allowed: it must be >= 1")
        if not 0.0 <= dimension_prob <= 1.0:
            raise ValueError(f"dimension_prob {dimension_prob} is not allowed: it must be in [0, 1]")
        self.seeds = [dict(s) for s in seeds]
        self.warm = bool(self.seeds)
        self.max_mutations = max_mutations
        self.dimension_prob = dimension_prob
        self._archive: list[Individual] = []  # every individual scored, in finishing order (the population ages)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, seeds={len(self.seeds)}, max_mutations={self.max_mutations}, "
            f"dimension_prob={self.dimension_prob}"
        )

    def random(self) -> ExecutableModelSpace:
        """The next seed while any is left; then, in a warm-started search, a child of the
        individuals scored so far (:meth:`new_individual`) where NNI would draw a random sample
        to fill the first population; NNI's random sample in a cold-started one."""
        sample = _next_seed(self.seeds, self._dedup_helper)
        if sample is None:
            if self.warm and self._population:
                return self.new_individual()
            return super().random()
        self._individual_counter += 1
        _log.info("[Individual %4d] Seed: %s", self._individual_counter, sample)
        return self.model_space.freeze(sample)

    def new_individual(self) -> ExecutableModelSpace:
        """The best of a tournament with ``k`` of its labels changed, or (with probability
        ``dimension_prob``) moved along a whole dimension (:func:`dimension_move`)."""
        parent = self.best_parent()
        choices = {
            label: list(mutable.values)
            for label, mutable in self.model_space.simplify().items()
            if hasattr(mutable, "values") and len(mutable.values) > 1
        }
        if self.dimension_prob > 0 and self._random_state.uniform() < self.dimension_prob:
            child, move = dimension_move(parent, self.other_parent(parent), choices, self._random_state)
        else:
            child, move = mutate_labels(parent, choices, self.max_mutations, self._random_state)
        if self._dedup_helper is not None:
            self._dedup_helper.dedup(child)  # raises on a repeat: NNI's retry helper draws again
        self._individual_counter += 1
        _log.info("[Individual %4d] %s: %s", self._individual_counter, move, child)
        return self.model_space.freeze(child)

    def other_parent(self, parent: dict) -> dict:
        """The donor of a graft: the winner of a tournament among every individual scored so far
        (the seeds too, after the population has aged them out) that descends from another named
        architecture than ``parent`` (:func:`lineage`); among all others that differ from
        ``parent`` when no other lineage exists; ``parent`` itself when nothing differs."""
        own = lineage(parent)
        others = [individual for individual in self._archive if lineage(individual.x) != own] or [
            individual for individual in self._archive if individual.x != parent
        ]
        if not others:
            return parent
        drawn = [others[i] for i in self._random_state.permutation(len(others))[: self.sample_size]]
        return max(drawn, key=lambda individual: individual.y).x

    def _training_end_callback(self, event) -> None:
        """NNI's (the population, which ages), and the archive of every scored individual."""
        if event.model in self._running_models and event.model.metric is not None:
            self._archive.append(Individual(event.model.sample, event.model.metric))
        super()._training_end_callback(event)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "archive": list(self._archive)}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        archive = state_dict.get("archive", self._population)
        self._archive = list(archive or [])


def _layer(label: str) -> int:
    """The layer a label of the space names (every one names one)."""
    layer = label_layer(label)
    if layer is None:
        raise ValueError(f"{label!r} names no layer")
    return layer


@functools.lru_cache(maxsize=4096)
def _lineage(items: tuple) -> str:
    arch = dict(items)
    return describe(arch, max(_layer(label) for label in arch))["nearest"]


def lineage(sample: dict) -> str:
    """The named architecture (:data:`~nni_lista.space.architectures.NAMED_ARCHITECTURES`) nearest to
    ``sample``: the family member it descends from, as far as the labels tell."""
    return _lineage(tuple(sorted(sample.items())))


def mutate_labels(parent: dict, choices: dict[str, list], max_mutations: int, random: RandomState) -> tuple[dict, str]:
    """``parent`` with ``k`` labels (``k`` uniform in ``1..max_mutations``) set to other values;
    returns the child and a description of the move."""
    names = sorted(choices)
    count = min(len(names), 1 + int(random.randint(max_mutations)))
    child = dict(parent)
    for index in random.choice(len(names), size=count, replace=False):
        label = names[index]
        others = [v for v in choices[label] if v != parent[label]]
        child[label] = others[random.randint(len(others))]
    return child, f"Mutated {count} labels"


def dimension_move(parent: dict, other: dict, choices: dict[str, list], random: RandomState) -> tuple[dict, str]:
    """A move along a whole design dimension (labels grouped by :func:`dimension_of`):

    * *graft* (half the time, when ``other`` differs from ``parent``): every label of one
      dimension in which they differ is copied from ``other``;
    * *sweep*: one dimension is set to one of its values over a run of layers: all its layers
      half the time, else a contiguous run ``a..b`` drawn uniformly.

    Returns the child and a description of the move ("graft threshold", "sweep momentum=learned
    over layers 3..16"). The child may equal ``parent`` (a sweep to what it already is): the
    caller's deduplication rejects it and draws again."""
    dimensions: dict[str, list[str]] = {}
    for label in sorted(choices, key=lambda label: (_layer(label), label)):
        dimensions.setdefault(dimension_of(label), []).append(label)
    names = sorted(dimensions)
    differing = [d for d in names if any(parent[label] != other[label] for label in dimensions[d])]
    child = dict(parent)
    if differing and random.uniform() < 0.5:
        dimension = differing[random.randint(len(differing))]
        child.update({label: other[label] for label in dimensions[dimension]})
        return child, f"graft {dimension}"
    dimension = names[random.randint(len(names))]
    members = dimensions[dimension]
    values = sorted({value for label in members for value in choices[label]})
    value = values[random.randint(len(values))]
    layers = sorted({_layer(label) for label in members})
    if random.uniform() < 0.5:
        low, high = layers[0], layers[-1]
    else:
        low, high = sorted(layers[i] for i in random.randint(len(layers), size=2))
    for label in members:
        if low <= _layer(label) <= high and value in choices[label]:
            child[label] = value
    return child, f"sweep {dimension}={value} over layers {low}..{high}"


class WarmStartTPE(HPOTunerStrategy):
    """NNI's TPE strategy trying ``seeds`` (samples of the space) first; ``**kwargs`` go to
    NNI's ``TpeTuner`` (``optimize_mode``, ``seed``, ``tpe_args``)."""

    def __init__(self, *, seeds: Sequence[dict] = (), **kwargs):
        super().__init__(SeededTpeTuner(list(seeds), **kwargs))
