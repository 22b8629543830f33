"""Claim 3's null from the searches' own dynamics, and the test's power.

Claim 3 asks whether two independent searches agree on a skip pattern: the Pearson correlation
``r`` of their averaged architectures (skip frequencies among each search's top-k,
:func:`nni_lista.study.analysis.pattern_correlation`). A search's population is not uniform
(its strategy keeps, mutates and re-samples what scored well), so a uniform null understates the
agreement that chance alone produces. Here the strategy itself runs, cold (no family seeds), on a
*synthetic fitness* computed from the architecture alone, nothing trained:

    f(a) = effect * (c(a) - P/2) / sqrt(P/4) + eps(a),   eps(a) ~ N(0, 1)

where ``c(a)`` counts the ``P`` planted skip labels that ``a`` has as planted (``(c - P/2) /
sqrt(P/4)`` is that count standardised over architectures drawn uniformly: mean 0, sd 1), and
``eps`` is drawn from a generator seeded by the architecture and the search's replica (so a
search sees the same noise for an architecture it meets twice, and two searches see independent
noise, as two trainings would). ``effect`` is thus the pattern's spread over the space in units
of the noise's: at 1 the pattern and the training noise vary the fitness equally.

* ``effect = 0``: the **null** of ``r`` for a pair of independent searches of this strategy,
  space, budget and top-k (:func:`null_distribution`); a correlation counts as consistent above
  its 95th percentile.
* ``effect > 0``: the **power** (:func:`power`), the share of independent pairs whose ``r``
  exceeds that percentile when the planted pattern is there; the smallest effect on a grid with
  power >= 0.8 is what the study can detect (:func:`detectable_effect`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Optional, Sequence

import numpy as np

from nni_lista.base.errors import require
from nni_lista.study import analysis

#: power the detectable effect must reach
TARGET_POWER = 0.8


def planted_pattern(labels: dict, share: float = 1 / 3, seed: int = 0) -> dict:
    """A skip pattern to plant: ``share`` of the space's skip labels (drawn with ``seed``) set on."""
    skips = sorted(label for label in labels if "/skip_from" in label)
    require(bool(skips), "the space has no skip labels: there is no skip pattern to plant")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(skips), size=max(1, round(share * len(skips))), replace=False)
    return {skips[i]: "on" for i in sorted(chosen)}


def synthetic_fitness(model, planted: dict, effect: float, replica: int) -> float:
    """NNI's evaluation function of a synthetic search: ``f(a)`` of the module docstring, reported
    as the trial's final result."""
    import nni

    sample = dict(model.arch_sample)  # the frozen network's architecture, as NNI hands it to the function
    count, planted_labels = sum(sample.get(label) == value for label, value in planted.items()), len(planted)
    hit = (count - planted_labels / 2) / (planted_labels / 4) ** 0.5
    key = hashlib.sha256(json.dumps([sorted(sample.items()), replica]).encode()).digest()
    value = effect * hit + float(np.random.default_rng(int.from_bytes(key[:8], "little")).normal())
    nni.report_final_result(value)
    return value


def synthetic_search(
    strategy: str, space: str, layers: int, budget: int, top_k: int, seed: int, planted: dict, effect: float, workdir
) -> list[dict]:
    """The top-``top_k`` architectures of ``strategy`` (cold start, strategy seed ``seed``, noise
    replica ``seed``) after ``budget`` synthetic evaluations on the ``space`` preset."""
    from nni.nas.evaluator import FunctionalEvaluator
    from nni.nas.experiment import NasExperiment, NasExperimentConfig

    from nni_lista.search.explore import STRATEGIES, _WARM_STARTED
    from nni_lista.space.backbones import BACKBONES

    entry = STRATEGIES[strategy]
    require(
        entry.kind == "multi-trial",
        f"strategy {strategy!r} is not allowed here: the synthetic searches run multi-trial strategies",
    )
    maker = entry.make
    made = maker(budget, seed, None, [], 3, 0.5) if maker in _WARM_STARTED else maker(budget, seed, None)
    config = NasExperimentConfig("sequential", "simplified")
    config.experiment_working_directory = str(workdir)
    config.max_trial_number = budget
    evaluator = FunctionalEvaluator(synthetic_fitness, planted=planted, effect=float(effect), replica=int(seed))
    experiment = NasExperiment(BACKBONES["lista"].make_space(space, 4, 8, layers), evaluator, made, config)
    experiment.run()
    top = [dict(model.sample) for model in experiment.strategy.list_models(limit=top_k)]
    experiment.stop()
    return top


def _pair(strategy: str | tuple[str, str]) -> tuple[str, str]:
    """``(a, b)``: the strategies of the two searches of a pair (one name: both the same)."""
    return (strategy, strategy) if isinstance(strategy, str) else (strategy[0], strategy[1])


def pair_correlations(
    strategy: str | tuple[str, str],
    space: str,
    layers: int,
    budget: int,
    top_k: int,
    planted: dict,
    effect: float,
    pairs: int,
    first_seed: int,
    workdir,
) -> np.ndarray:
    """``r`` of the skip patterns of ``pairs`` pairs of independent synthetic searches (strategy
    and noise seeds ``first_seed``, ``first_seed + 1``, ...); pairs where ``r`` is undefined are
    dropped. ``strategy`` is one name, or the two of a pair (as claim 3 pairs evolution with random)."""
    first, second = _pair(strategy)
    values = []
    for k in range(pairs):
        a = synthetic_search(first, space, layers, budget, top_k, first_seed + 2 * k, planted, effect, workdir)
        b = synthetic_search(second, space, layers, budget, top_k, first_seed + 2 * k + 1, planted, effect, workdir)
        r = analysis.pattern_correlation(a, b, layers, "skips")
        if r is not None:
            values.append(r)
    return np.array(values, dtype=float)


def null_distribution(
    strategy: str | tuple[str, str],
    space: str,
    layers: int,
    budget: int,
    top_k: int,
    pairs: int,
    workdir,
    first_seed: int = 0,
) -> np.ndarray:
    """The null of ``r``: pairs of searches on pure noise (``effect = 0``)."""
    from nni_lista.space.backbones import BACKBONES

    planted = planted_pattern(BACKBONES["lista"].labels(space, layers))  # carries no weight at effect 0
    return pair_correlations(strategy, space, layers, budget, top_k, planted, 0.0, pairs, first_seed, workdir)


def power(correlations: Sequence[float] | np.ndarray, threshold: float) -> float:
    """The share of ``correlations`` above ``threshold`` (the null's 95th percentile)."""
    values = np.asarray(correlations, dtype=float)
    return float((values > threshold).mean()) if values.size else 0.0


def detectable_effect(
    strategy: str | tuple[str, str],
    space: str,
    layers: int,
    budget: int,
    top_k: int,
    effects: Sequence[float],
    null_pairs: int,
    power_pairs: int,
    workdir,
    seed: int = 0,
) -> dict:
    """The null's 95th percentile, the power at each effect of the grid (seeds disjoint from the
    null's), and the smallest effect with power >= :data:`TARGET_POWER` (``None`` when none has)."""
    from nni_lista.space.backbones import BACKBONES

    null = null_distribution(strategy, space, layers, budget, top_k, null_pairs, workdir, first_seed=seed)
    require(null.size > 0, "no null pair had a defined correlation: the searches' top sets do not vary")
    threshold = float(np.percentile(null, 95))
    planted = planted_pattern(BACKBONES["lista"].labels(space, layers), seed=seed)
    found: dict[str, float] = {}
    detectable: Optional[float] = None
    for index, effect in enumerate(effects):
        start = seed + 2 * null_pairs + 2 * power_pairs * index + 1_000_000  # replicas the null never used
        found[f"{effect:g}"] = power(
            pair_correlations(strategy, space, layers, budget, top_k, planted, effect, power_pairs, start, workdir),
            threshold,
        )
        if detectable is None and found[f"{effect:g}"] >= TARGET_POWER:
            detectable = float(effect)
    return {
        "strategy": strategy if isinstance(strategy, str) else list(strategy),
        "space": space,
        "layers": layers,
        "budget": budget,
        "top_k": top_k,
        "planted": sorted(planted),
        "null_pairs": int(null.size),
        "null_p95": threshold,
        "null_mean": float(null.mean()),
        "power_pairs": power_pairs,
        "power": found,
        "detectable_effect": detectable,
        "target_power": TARGET_POWER,
    }
