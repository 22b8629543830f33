"""The averaged-architecture statistics of claim 3 (consistent patterns) and claim 2 (neuron
preference): pattern parts, their null distributions, and the exact tests (issue #12)."""

import numpy as np
import pytest

from nni_lista.study import analysis
from nni_lista.space.backbones import BACKBONES
from nni_lista.space.neurons import NEURONS

T, K, DRAWS = 8, 5, 200
LABELS = BACKBONES["lista"].labels("full", T)


def uniform(count, seed, labels=LABELS):
    """``count`` architectures with every label drawn uniformly from its allowed values."""
    rng = np.random.default_rng(seed)
    return [{label: values[rng.integers(len(values))] for label, values in labels.items()} for _ in range(count)]


def test_vectors_split_the_pattern_into_optional_skips_and_neurons():
    archs = uniform(3, seed=0)
    skips, neurons = analysis.skip_vector(archs, T), analysis.neuron_vector(archs, T)
    assert skips.shape == ((T - 1) * (T - 2) // 2,) and neurons.shape == (T * len(NEURONS),)
    np.testing.assert_allclose(analysis.pattern_vector(archs, T), np.concatenate([skips, neurons]))
    np.testing.assert_allclose(neurons.reshape(T, -1).sum(axis=1), 1.0)  # every layer names one neuron
    on = sum(arch["layer5/skip_from2"] == "on" for arch in archs) / 3
    assert skips[[(k, j) for k in range(T) for j in range(k - 1)].index((4, 1))] == pytest.approx(on)
    with pytest.raises(ValueError, match="part"):
        analysis.pattern_vector(archs, T, part="edges")


def test_parts_nulls_are_centred_at_zero_while_the_joined_vector_is_biased():
    nulls = {part: analysis.null_correlations(LABELS, K, T, draws=DRAWS, seed=1, part=part) for part in analysis.PARTS}
    assert all(len(null) == DRAWS for null in nulls.values())  # T=8 patterns of 5 always vary
    assert abs(nulls["skips"].mean()) < 0.1 and abs(nulls["neurons"].mean()) < 0.1
    # the offset between skip (~1/2) and neuron (1/7) frequencies alone: issue #12 measured 0.47 +- 0.05
    assert nulls["both"].mean() > 0.3
    assert np.all((-1 <= nulls["skips"]) & (nulls["skips"] <= 1))


def test_null_is_seeded_and_drops_undefined_draws():
    a = analysis.null_correlations(LABELS, (K, 3), T, draws=50, seed=7, part="skips")
    np.testing.assert_array_equal(a, analysis.null_correlations(LABELS, (K, 3), T, draws=50, seed=7, part="skips"))
    assert not np.array_equal(a, analysis.null_correlations(LABELS, (K, 3), T, draws=50, seed=8, part="skips"))
    # the connectivity space has no neuron label: every neuron pattern is constant, nothing is kept
    skips_only = BACKBONES["lista"].labels("connectivity", 4)
    assert analysis.null_correlations(skips_only, 2, 4, draws=20, seed=0, part="neurons").size == 0
    with pytest.raises(ValueError):
        analysis.null_correlations(LABELS, K, T, draws=5, seed=0, part="all")


def test_identical_sets_correlate_at_one_per_part():
    archs = uniform(K, seed=2)
    for part in analysis.PARTS:
        assert analysis.pattern_correlation(archs, list(archs), T, part=part) == pytest.approx(1.0)
    off = {label: ("off" if "skip" in label else values[0]) for label, values in LABELS.items()}
    assert analysis.pattern_correlation([off], [off], T, part="skips") is None  # a constant side


def test_correlation_test_places_observed_values_in_the_null():
    null = analysis.null_correlations(LABELS, K, T, draws=DRAWS, seed=3, part="skips")
    tail = analysis.correlation_test(0.99, null)
    assert tail["p_value"] == pytest.approx(1 / (DRAWS + 1)) and tail["percentile"] == 100.0
    assert tail["null_mean"] == pytest.approx(null.mean()) and tail["null_p95"] < 0.99
    middle = analysis.correlation_test(float(np.median(null)), null)
    assert 0.4 < middle["p_value"] < 0.6 and 40 <= middle["percentile"] <= 60
    low = analysis.correlation_test(-1.0, null)
    assert low["percentile"] == 0.0 and low["p_value"] == 1.0
    assert analysis.correlation_test(None, null)["p_value"] is None
    assert analysis.correlation_test(0.5, [])["null_mean"] is None


def test_holm_is_step_down():
    assert analysis.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert analysis.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_edge_binomial_test_flags_an_always_on_edge_and_not_chance():
    archs = [dict(arch, **{"layer6/skip_from3": "on"}) for arch in uniform(20, seed=4)]
    edges, summary = analysis.edge_binomial_test(archs, LABELS, T)
    assert summary["edges"] == len(edges) == (T - 1) * (T - 2) // 2 and summary["n"] == 20
    hit = next(edge for edge in edges if edge["label"] == "layer6/skip_from3")
    assert (hit["on"], hit["layer"], hit["source"], hit["base_rate"]) == (20, 6, 3, 0.5)
    assert hit["p_value"] == pytest.approx(2 * 0.5**20) and hit["p_holm"] < 0.05
    assert summary["significant_bonferroni"] >= 1 and summary["significant_holm"] >= 1 and summary["more_often"] >= 1

    _, chance = analysis.edge_binomial_test(uniform(20, seed=5), LABELS, T)
    assert chance["significant_bonferroni"] == 0 and chance["significant_holm"] == 0 and chance["significant"] <= 3
    # a base rate from the population: an edge on in all 20 is expected when the population has it on 95%
    rates = dict(analysis.skip_rates(uniform(50, seed=6), LABELS), **{"layer6/skip_from3": 0.95})
    edges, _ = analysis.edge_binomial_test(archs, LABELS, T, base_rate=rates)
    assert next(edge for edge in edges if edge["label"] == "layer6/skip_from3")["p_value"] > 0.05
    with pytest.raises(ValueError):
        analysis.edge_binomial_test(archs, LABELS, T, base_rate={})
    with pytest.raises(ValueError):
        analysis.skip_rates([], LABELS)


def test_neuron_enrichment_detects_a_soft_top_set():
    population = uniform(100, seed=7)
    top = [dict(arch, **{f"layer{k}/neuron": "soft" for k in range(1, T + 1)}) for arch in population[:5]]
    for test in ("binomial", "fisher"):
        rows = {row["neuron"]: row for row in analysis.neuron_enrichment(top, population, T, test=test)}
        assert list(rows) == list(NEURONS)
        soft = rows["soft"]
        assert (soft["top_count"], soft["top_total"], soft["top_frequency"]) == (5 * T, 5 * T, 1.0)
        assert soft["population_total"] == 100 * T and 0.1 < soft["population_frequency"] < 0.2
        assert soft["ratio"] > 5 and soft["p_holm"] < 1e-6
        assert rows["tanh"]["top_count"] == 0 and rows["tanh"]["p_value"] < 0.05  # depleted
    # a top set drawn like the population: no neuron type stands out
    rows = analysis.neuron_enrichment(uniform(5, seed=8), population, T)
    assert all(row["p_holm"] > 0.05 for row in rows)
    with pytest.raises(ValueError):
        analysis.neuron_enrichment(top, population, T, test="chi2")


def test_exact_tests_are_deterministic():
    archs, population = uniform(10, seed=9), uniform(40, seed=10)
    assert analysis.edge_binomial_test(archs, LABELS, T) == analysis.edge_binomial_test(archs, LABELS, T)
    assert analysis.neuron_enrichment(archs, population, T) == analysis.neuron_enrichment(archs, population, T)


def test_nearest_named_says_whether_a_search_returned_a_starting_point():
    from nni_lista.space.architectures import named_architecture

    paper_labels = BACKBONES["lista"].labels("paper", 8)
    dense = {label: value for label, value in named_architecture("dense", 8).items() if label in paper_labels}
    assert analysis.nearest_named(dense, 8) == {"name": "dense", "labels_changed": 0, "labels": len(paper_labels)}
    mutant = {**dense, "layer3/skip_from1": "off", "layer5/neuron": "tanh"}
    assert analysis.nearest_named(mutant, 8)["name"] == "dense"
    assert analysis.nearest_named(mutant, 8)["labels_changed"] == 2
    lista = {label: value for label, value in named_architecture("lista", 8).items() if label in paper_labels}
    assert analysis.nearest_named(lista, 8)["name"] == "lista"
