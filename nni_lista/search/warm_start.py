"""Searches that start from what is known: the LISTA family as the first samples of NNI's
regularized evolution and random search, and mutations that change a few labels, not a tenth
of them.

NNI's :class:`~nni.nas.strategy.RegularizedEvolution` (Real et al., AAAI 2019) draws its first
``population_size`` individuals at random and changes each label of a parent with probability
``mutation_prob``. In our spaces (up to 137 labels at T = 16) that is random search with one
lineage. :class:`WarmStartEvolution` is NNI's strategy with two changes:

- its first individuals are the ``seeds`` (the family members expressible in the searched
  space, :func:`family_seeds`), then random ones until the population is full; the best
  individual found can therefore never be worse on the proxy than the best family member;
- a child differs from its parent in ``k`` labels, ``k`` uniform in ``1..max_mutations``, each
  set to a value other than the parent's (the "one mutation at a time" of the paper).

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

import logging

from nni.algorithms.hpo.tpe_tuner import TpeTuner
from nni.common.hpo_utils import deformat_parameters, format_parameters
from nni.nas.space import ExecutableModelSpace
from nni.nas.strategy import Random, RegularizedEvolution
from nni.nas.strategy.hpo import HPOTunerStrategy
from nni.nas.strategy.utils import DuplicationError

from nni_lista.space.spaces import NAMED_ARCHITECTURES, SpaceConfig, complete, labels, named_architecture

_log = logging.getLogger(__name__)


def family_seeds(config: SpaceConfig, layers: int) -> list[dict[str, str]]:
    """The named architectures (LISTA, LISTA-CP, LISTA-CPSS, ALISTA, dense) that are points of
    the space ``config``, as samples of that space (labels it varies only), without repeats."""
    seeds: list[dict[str, str]] = []
    for name in NAMED_ARCHITECTURES:
        arch = named_architecture(name, layers)
        sample = {label: arch[label] for label in labels(layers, config)}
        if complete(sample, layers, config) == arch and sample not in seeds:
            seeds.append(sample)
    return seeds


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

    def __init__(self, *, seeds: list[dict] = (), **kwargs):
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
    **kwargs
        NNI's :class:`~nni.nas.strategy.RegularizedEvolution` arguments (``population_size``,
        ``sample_size``, ``seed``, ...); ``mutation_prob`` is not used.
    """

    def __init__(self, *, seeds: list[dict] = (), max_mutations: int = 3, **kwargs):
        super().__init__(**kwargs)
        if max_mutations < 1:
            raise ValueError(f"max_mutations {max_mutations} is not allowed: it must be >= 1")
        self.seeds = [dict(s) for s in seeds]
        self.max_mutations = max_mutations

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, seeds={len(self.seeds)}, max_mutations={self.max_mutations}"

    def random(self) -> ExecutableModelSpace:
        """The next seed while any is left, then a random sample (NNI's)."""
        sample = _next_seed(self.seeds, self._dedup_helper)
        if sample is None:
            return super().random()
        self._individual_counter += 1
        _log.info("[Individual %4d] Seed: %s", self._individual_counter, sample)
        return self.model_space.freeze(sample)

    def new_individual(self) -> ExecutableModelSpace:
        """The best of a tournament with ``k`` of its labels changed."""
        parent = self.best_parent()
        choices = {label: list(mutable.values) for label, mutable in self.model_space.simplify().items()
                   if hasattr(mutable, "values") and len(mutable.values) > 1}
        names = sorted(choices)
        count = min(len(names), 1 + int(self._random_state.randint(self.max_mutations)))
        child = dict(parent)
        for index in self._random_state.choice(len(names), size=count, replace=False):
            label = names[index]
            others = [v for v in choices[label] if v != parent[label]]
            child[label] = others[self._random_state.randint(len(others))]
        if self._dedup_helper is not None:
            self._dedup_helper.dedup(child)  # raises on a repeat: NNI's retry helper draws again
        self._individual_counter += 1
        _log.info("[Individual %4d] Mutated %d labels: %s", self._individual_counter, count, child)
        return self.model_space.freeze(child)


class _SeededTpeTuner(TpeTuner):
    """NNI's TPE tuner whose first parameters are the ``seeds``, recorded as its own trials."""

    def __init__(self, seeds: list[dict], **kwargs):
        super().__init__(**kwargs)
        self.seeds = [dict(s) for s in seeds]

    def generate_parameters(self, parameter_id, **kwargs):
        while self.seeds:
            params = format_parameters(self.seeds.pop(0), self.space)
            if self.dedup(params) is not params:  # tried before (the deduplicator offered another); else now recorded
                continue
            self._params[parameter_id] = params
            self._running_params[parameter_id] = params
            _log.info("Seed %d: %s", parameter_id, params)
            return deformat_parameters(params, self.space)
        return super().generate_parameters(parameter_id, **kwargs)


class WarmStartTPE(HPOTunerStrategy):
    """NNI's TPE strategy trying ``seeds`` (samples of the space) first; ``**kwargs`` go to
    NNI's ``TpeTuner`` (``optimize_mode``, ``seed``, ``tpe_args``)."""

    def __init__(self, *, seeds: list[dict] = (), **kwargs):
        super().__init__(_SeededTpeTuner(seeds, **kwargs))
