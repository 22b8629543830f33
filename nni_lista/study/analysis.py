"""Analysis of searched architectures (label maps), after Meng et al. (ICLR 2021) and pycls
(Radosavovic et al., "On Network Design Spaces for Visual Recognition", ICCV 2019).

* :func:`skip_frequency` -- the "averaged architecture": a T x T destination x origin matrix
  whose entry (k, j) is the fraction of architectures where layer k takes estimate ``x^j``
  (the always-on predecessor edge, j = k-1, is 1; layer 1 reads only ``b``).
* :func:`neuron_frequency` -- per layer, the fraction of architectures with each neuron type.
* :func:`graft` -- the averaged pattern as one architecture: a skip is on where at least half of
  the architectures have it, each layer takes its most frequent neuron.
* :func:`skip_vector`, :func:`neuron_vector`, :func:`pattern_vector` -- the averaged pattern as a
  flat vector: optional skips only, neurons only, or both joined (the old, biased form).
* :func:`pattern_correlation` -- how alike two averaged patterns are: the Pearson correlation of
  one part (skips, neurons, or both; ``None`` when one of them does not vary).
* :func:`null_correlations`, :func:`correlation_test` -- the chance level of that correlation:
  its distribution between independent sets of uniformly random architectures, and where an
  observed value falls in it (percentile, one-sided p-value).
* :func:`edge_binomial_test` -- per optional skip edge, is it on among the top architectures
  more or less often than the base rate (exact binomial test, Bonferroni and Holm corrections).
* :func:`neuron_enrichment` -- per neuron type, its frequency among the top architectures against
  the sampled population (exact binomial or Fisher test).
* :func:`edf` -- the empirical distribution function of a sample (pycls's error EDF).
* :func:`nearest_named` -- the family member (or ``dense``) an architecture is closest to, and
  how many of its labels differ: whether a search returned one of its starting points.

Why the parts are kept apart: skip frequencies of uniformly sampled on/off edges average 1/2,
neuron frequencies average exactly 1/7; joined in one vector, that offset between the two blocks
alone makes two independent random patterns correlate at about 0.45 (issue #12). Each part alone
has a null centred near 0.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from nni_lista.space.neurons import NEURONS
from nni_lista.space.architectures import NAMED_ARCHITECTURES, named_architecture

_SKIP = re.compile(r"^layer(\d+)/skip_from(\d+)$")
_NEURON = re.compile(r"^layer(\d+)/neuron$")

PARTS = ("skips", "neurons", "both")


def skip_frequency(archs: Sequence[dict], layers: int) -> np.ndarray:
    """Row k-1, column j-1: fraction of ``archs`` whose layer k takes ``x^j`` (1 on j = k-1)."""
    matrix = np.zeros((layers, layers))
    for k in range(2, layers + 1):
        matrix[k - 1, k - 2] = 1.0
    for arch in archs:
        for label, value in arch.items():
            match = _SKIP.match(label)
            if match and value == "on":
                k, j = map(int, match.groups())
                matrix[k - 1, j - 1] += 1.0 / len(archs)
    return matrix


def neuron_frequency(archs: Sequence[dict], layers: int, neurons: Sequence[str] = tuple(NEURONS)) -> np.ndarray:
    """Row k-1, column i: fraction of ``archs`` whose layer k uses neuron ``neurons[i]``."""
    matrix = np.zeros((layers, len(neurons)))
    for arch in archs:
        for label, value in arch.items():
            match = _NEURON.match(label)
            if match:
                matrix[int(match.group(1)) - 1, list(neurons).index(value)] += 1.0 / len(archs)
    return matrix


def graft(archs: Sequence[dict], labels: dict) -> dict:
    """The averaged pattern of ``archs`` as an architecture with the given ``labels``
    (label -> allowed values): skips on where at least half of ``archs`` have them, neurons by
    majority (ties go to the earlier name in the registry); other labels keep the first
    architecture's value when allowed, else the label's first value."""
    out = {}
    for label, allowed in labels.items():
        values = [arch[label] for arch in archs if label in arch]
        if _SKIP.match(label):
            out[label] = "on" if values and 2 * values.count("on") >= len(archs) else "off"
        elif _NEURON.match(label) and values:
            out[label] = max(allowed, key=lambda name: (values.count(name), -allowed.index(name)))
        else:
            out[label] = values[0] if values and values[0] in allowed else allowed[0]
    return out


# ----------------------------------------------------------------------------- pattern vectors


def skip_vector(archs: Sequence[dict], layers: int) -> np.ndarray:
    """The optional-skip frequencies, flattened row by row.

    Entry (k, j) for 1 <= j <= k-2, i.e. ``F[k-1, j-1]`` of :func:`skip_frequency` strictly below
    the predecessor diagonal: ``f_kj = #{a in archs : a[layer{k}/skip_from{j}] = on} / |archs|``.
    Length ``(T-1)(T-2)/2``; a missing label counts as off.
    """
    skips = skip_frequency(archs, layers)
    return np.array([skips[k, j] for k in range(layers) for j in range(k - 1)])


def neuron_vector(archs: Sequence[dict], layers: int, neurons: Sequence[str] = tuple(NEURONS)) -> np.ndarray:
    """The neuron frequencies, flattened row by row (layer-major).

    Entry (k, i): ``g_ki = #{a in archs : a[layer{k}/neuron] = neurons[i]} / |archs|``; length
    ``T * len(neurons)``. Each row sums to 1 when every architecture names the layer's neuron, so
    the vector's mean is fixed at ``1/len(neurons)``.
    """
    return neuron_frequency(archs, layers, neurons).ravel()


def pattern_vector(archs: Sequence[dict], layers: int, part: str = "both") -> np.ndarray:
    """The averaged pattern of ``archs`` as one vector: ``part`` is ``"skips"``
    (:func:`skip_vector`), ``"neurons"`` (:func:`neuron_vector`) or ``"both"`` (the two
    concatenated, skips first -- biased, see the module docstring)."""
    if part == "skips":
        return skip_vector(archs, layers)
    if part == "neurons":
        return neuron_vector(archs, layers)
    if part == "both":
        return np.concatenate([skip_vector(archs, layers), neuron_vector(archs, layers)])
    raise ValueError(f"part {part!r} is not allowed: choose one of {', '.join(PARTS)}")


def _pearson(x: np.ndarray, y: np.ndarray) -> Optional[float]:
    """``r = sum (x-xbar)(y-ybar) / sqrt(sum (x-xbar)^2 sum (y-ybar)^2)``, ``None`` if undefined."""
    if x.size < 2 or x.std() == 0 or y.std() == 0:
        return None
    value = float(np.corrcoef(x, y)[0, 1])
    return None if math.isnan(value) else value


def pattern_correlation(a: Sequence[dict], b: Sequence[dict], layers: int, part: str = "both") -> Optional[float]:
    """Pearson correlation of the averaged patterns of two sets of architectures.

    ``r = corr(v(a), v(b))`` with ``v`` = :func:`pattern_vector` of the chosen ``part``
    (``"skips"``, ``"neurons"`` or ``"both"``; the default keeps the old behaviour). ``None``
    when either vector is constant (or has fewer than two entries).
    """
    return _pearson(pattern_vector(a, layers, part), pattern_vector(b, layers, part))


# ----------------------------------------------------------------------------- null distribution


def null_correlations(
    labels: Mapping[str, Sequence[str]],
    k: Union[int, tuple[int, int]],
    layers: int,
    draws: int = 1000,
    seed: int = 0,
    part: str = "skips",
) -> np.ndarray:
    """The chance distribution of :func:`pattern_correlation` for top-k sets without training.

    Each draw samples two independent sets A, B of ``k`` architectures (``k`` may be a pair
    ``(k_a, k_b)`` for sets of different sizes), every label drawn uniformly from its allowed
    values in ``labels`` (label -> allowed values, e.g. ``BACKBONES["lista"].labels(space, T)``),
    and records ``r = corr(v(A), v(B))`` for ``part``. Uses ``numpy.random.default_rng(seed)``,
    so a seed gives the same array. Draws where ``r`` is undefined (``None``) are dropped, so the
    result may be shorter than ``draws``; it is empty when ``part`` has no varying label.
    """
    if part not in PARTS:
        raise ValueError(f"part {part!r} is not allowed: choose one of {', '.join(PARTS)}")
    k_a, k_b = (k, k) if isinstance(k, int) else k
    if k_a < 1 or k_b < 1 or draws < 0:
        raise ValueError(f"k and draws must be positive (k={k}, draws={draws})")
    names = list(labels)
    allowed = [tuple(labels[name]) for name in names]
    sizes = np.array([len(values) for values in allowed])
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        index = rng.integers(0, sizes, size=(k_a + k_b, len(names)))
        archs = [{name: allowed[i][row[i]] for i, name in enumerate(names)} for row in index]
        r = pattern_correlation(archs[:k_a], archs[k_a:], layers, part)
        if r is not None:
            out.append(r)
    return np.array(out, dtype=float)


def correlation_test(observed: Optional[float], null: Sequence[float] | np.ndarray) -> dict:
    """Where an observed correlation falls in its null distribution.

    Returns ``{"observed", "null_mean", "null_sd", "null_p95", "n_null", "percentile",
    "p_value"}`` with ``percentile = 100 * #{null < observed} / n`` and the one-sided (greater)
    Monte Carlo p-value ``p = (1 + #{null >= observed}) / (1 + n)``. ``percentile`` and
    ``p_value`` are ``None`` when ``observed`` is ``None``; the null statistics are ``None`` when
    the null is empty.
    """
    values = np.asarray([] if null is None else null, dtype=float)
    n = int(values.size)
    result = {
        "observed": None if observed is None else float(observed),
        "null_mean": float(values.mean()) if n else None,
        "null_sd": float(values.std(ddof=1)) if n > 1 else None,
        "null_p95": float(np.percentile(values, 95)) if n else None,
        "n_null": n,
        "percentile": None,
        "p_value": None,
    }
    if observed is not None:
        if n:
            result["percentile"] = 100.0 * float(np.sum(values < observed)) / n
        result["p_value"] = (1.0 + float(np.sum(values >= observed))) / (1.0 + n)
    return result


# ----------------------------------------------------------------------------- exact tests


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: with ``p_(1) <= ... <= p_(m)``,
    ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``, returned in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def _binomial_p(successes: int, trials: int, rate: float) -> Optional[float]:
    """Two-sided exact binomial p-value of ``successes`` in ``trials`` at probability ``rate``."""
    from scipy.stats import binomtest

    if trials == 0:
        return None
    return float(binomtest(int(successes), int(trials), float(rate), alternative="two-sided").pvalue)


def edge_binomial_test(
    archs: Sequence[dict],
    labels: Mapping[str, Sequence[str]],
    layers: int,
    base_rate: Union[None, float, Mapping[str, float]] = None,
    alpha: float = 0.05,
) -> tuple[list[dict], dict]:
    """Per optional skip edge, is it on among ``archs`` more (or less) often than by chance?

    For each ``layer{k}/skip_from{j}`` label of ``labels`` with ``k <= layers`` (in label order):
    ``X = #{a in archs : a[label] = on}`` (a missing label counts as off), ``n = |archs|``, and
    the two-sided exact binomial p-value of ``X ~ Binomial(n, p0)``. ``p0`` is ``base_rate``: by
    default ``1 / len(allowed values)`` (uniform sampling, 1/2 for on/off); a float for every
    edge, or a dict label -> rate (e.g. the rate in the sampled population). Corrections over the
    m tested edges: Bonferroni ``min(1, m p)`` and Holm (:func:`holm`).

    Returns ``(edges, summary)``: one dict per edge ``{"label", "layer", "source", "on", "n",
    "frequency", "base_rate", "p_value", "p_bonferroni", "p_holm"}``, and ``{"edges", "n",
    "alpha", "significant", "significant_bonferroni", "significant_holm", "more_often",
    "less_often"}`` (counts of edges with p below ``alpha``; the last two split the Holm-significant
    edges by the side of the base rate they fall on).
    """
    n = len(archs)
    edges: list[dict[str, Any]] = []
    for label, allowed in labels.items():
        match = _SKIP.match(label)
        if not match:
            continue
        k, j = map(int, match.groups())
        if k > layers or not 1 <= j <= k - 2:
            continue
        if base_rate is None:
            rate = 1.0 / len(allowed)
        elif isinstance(base_rate, Mapping):
            if label not in base_rate:
                raise ValueError(f"base_rate has no rate for {label}")
            rate = float(base_rate[label])
        else:
            rate = float(base_rate)
        on = sum(1 for arch in archs if arch.get(label) == "on")
        edges.append(
            {
                "label": label,
                "layer": k,
                "source": j,
                "on": on,
                "n": n,
                "frequency": on / n if n else None,
                "base_rate": rate,
                "p_value": _binomial_p(on, n, rate),
            }
        )
    tested = [edge for edge in edges if edge["p_value"] is not None]
    m = len(tested)
    for edge, adjusted in zip(tested, holm([edge["p_value"] for edge in tested])):
        edge["p_bonferroni"] = min(1.0, m * edge["p_value"])
        edge["p_holm"] = adjusted
    for edge in edges:
        edge.setdefault("p_bonferroni", None)
        edge.setdefault("p_holm", None)
    holm_hits = [edge for edge in tested if edge["p_holm"] < alpha]
    summary = {
        "edges": m,
        "n": n,
        "alpha": alpha,
        "significant": sum(edge["p_value"] < alpha for edge in tested),
        "significant_bonferroni": sum(edge["p_bonferroni"] < alpha for edge in tested),
        "significant_holm": len(holm_hits),
        "more_often": sum(edge["frequency"] > edge["base_rate"] for edge in holm_hits),
        "less_often": sum(edge["frequency"] < edge["base_rate"] for edge in holm_hits),
    }
    return edges, summary


def skip_rates(archs: Sequence[dict], labels: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Per skip label of ``labels``, the fraction of ``archs`` with it on -- a ``base_rate`` for
    :func:`edge_binomial_test` taken from a search's sampled population (not empty)."""
    if not archs:
        raise ValueError("skip_rates needs at least one architecture")
    return {
        label: sum(arch.get(label) == "on" for arch in archs) / len(archs) for label in labels if _SKIP.match(label)
    }


def _neuron_counts(archs: Sequence[dict], layers: int, neurons: Sequence[str]) -> tuple[np.ndarray, int]:
    """Per neuron type, how many (architecture, layer <= T) slots use it, and the slot total."""
    counts = np.zeros(len(neurons), dtype=int)
    for arch in archs:
        for label, value in arch.items():
            match = _NEURON.match(label)
            if match and int(match.group(1)) <= layers and value in neurons:
                counts[list(neurons).index(value)] += 1
    return counts, int(counts.sum())


def neuron_enrichment(
    top_archs: Sequence[dict],
    population_archs: Sequence[dict],
    layers: int,
    test: str = "binomial",
    neurons: Sequence[str] = tuple(NEURONS),
) -> list[dict]:
    """Per neuron type, its frequency among the top architectures against the sampled population.

    Slots are (architecture, layer) pairs, pooled over layers 1..T: ``x_i`` of the ``n`` top
    slots and ``y_i`` of the ``N`` population slots use neuron i. ``test="binomial"`` (default):
    two-sided exact binomial test of ``x_i ~ Binomial(n, y_i / N)`` (the population rate taken
    as known; right when the top set is a subset of the population). ``test="fisher"``: two-sided
    Fisher exact test of the table ``[[x_i, n - x_i], [y_i, N - y_i]]`` (two separate samples).
    Slots of one architecture are treated as independent. Holm correction over the neuron types.

    Returns one dict per neuron type ``{"neuron", "top_count", "top_total", "top_frequency",
    "population_count", "population_total", "population_frequency", "ratio" (top / population
    frequency, ``None`` if the latter is 0), "p_value", "p_holm"}``; p-values are ``None`` when a
    side has no neuron label.
    """
    if test not in ("binomial", "fisher"):
        raise ValueError(f"test {test!r} is not allowed: choose binomial or fisher")
    top, n = _neuron_counts(top_archs, layers, neurons)
    pop, big_n = _neuron_counts(population_archs, layers, neurons)
    rows: list[dict[str, Any]] = []
    for i, name in enumerate(neurons):
        top_freq = top[i] / n if n else None
        pop_freq = pop[i] / big_n if big_n else None
        p = None
        if n and big_n and pop_freq is not None:
            if test == "binomial":
                p = _binomial_p(top[i], n, pop_freq)
            else:
                from scipy.stats import fisher_exact

                p = float(fisher_exact([[top[i], n - top[i]], [pop[i], big_n - pop[i]]], alternative="two-sided")[1])
        rows.append(
            {
                "neuron": name,
                "top_count": int(top[i]),
                "top_total": n,
                "top_frequency": top_freq,
                "population_count": int(pop[i]),
                "population_total": big_n,
                "population_frequency": pop_freq,
                "ratio": top_freq / pop_freq if pop_freq else None,
                "p_value": p,
            }
        )
    tested = [row for row in rows if row["p_value"] is not None]
    for row, adjusted in zip(tested, holm([row["p_value"] for row in tested])):
        row["p_holm"] = adjusted
    for row in rows:
        row.setdefault("p_holm", None)
    return rows


def edf(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Sorted values and the fraction of the sample at or below each."""
    ordered = sorted(values)
    return ordered, [(i + 1) / len(ordered) for i in range(len(ordered))]


def nearest_named(arch: Mapping[str, str], layers: int) -> dict:
    """The named architecture (:data:`~nni_lista.space.architectures.NAMED_ARCHITECTURES`) that differs
    from ``arch`` in the fewest of ``arch``'s labels (Hamming distance over the labels of the
    searched space; ties go to the earlier name): ``{"name", "labels_changed", "labels"}``."""

    def distance(name: str) -> int:
        named = named_architecture(name, layers)
        return sum(named.get(label) != value for label, value in arch.items())

    name = min(NAMED_ARCHITECTURES, key=distance)
    return {"name": name, "labels_changed": distance(name), "labels": len(arch)}
