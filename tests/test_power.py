"""Claim 3's null from the searches' own dynamics and its power (nni_lista/study/power.py), on a
small case: NNI's random search (the full study's consistency strategy), 96 synthetic evaluations,
top 32, on the connectivity space at T = 10 (36 skip labels). A strongly planted skip pattern (a
third of the skips, effect 6) is detected; pure noise is not, at about the test's stated 5 % rate."""

import numpy as np
import pytest

from nni_lista.space.backbones import BACKBONES
from nni_lista.study import power

SETUP = dict(strategy="random", space="connectivity", layers=10, budget=96, top_k=32)


@pytest.fixture(scope="module")
def null(tmp_path_factory):
    values = power.null_distribution(**SETUP, pairs=15, workdir=tmp_path_factory.mktemp("nni"))
    assert values.size >= 14  # pairs whose correlation is defined
    return values


def test_pure_noise_is_rarely_called_consistent(null, tmp_path):
    threshold = float(np.percentile(null, 95))
    labels = BACKBONES["lista"].labels(SETUP["space"], SETUP["layers"])
    fresh = power.pair_correlations(
        **SETUP, planted=power.planted_pattern(labels), effect=0.0, pairs=8, first_seed=10_000, workdir=tmp_path
    )  # replicas the null never used
    assert power.power(fresh, threshold) <= 0.25  # about 5 %; 3 of 8 would already be unusual


def test_a_planted_pattern_is_detected(null, tmp_path):
    threshold = float(np.percentile(null, 95))
    labels = BACKBONES["lista"].labels(SETUP["space"], SETUP["layers"])
    planted = power.pair_correlations(
        **SETUP,
        planted=power.planted_pattern(labels, share=1 / 3),
        effect=6.0,
        pairs=5,
        first_seed=20_000,
        workdir=tmp_path,
    )
    assert power.power(planted, threshold) >= power.TARGET_POWER


def test_the_synthetic_fitness_is_the_formula():
    class Model:
        arch_sample = {"layer3/skip_from1": "on", "layer4/skip_from2": "off"}

    planted = {"layer3/skip_from1": "on", "layer4/skip_from2": "on"}
    import nni

    nni.report_final_result = lambda value: None  # outside a trial there is no channel to report to
    with_effect = power.synthetic_fitness(Model(), planted, 4.0, replica=7)
    noise_only = power.synthetic_fitness(Model(), planted, 0.0, replica=7)
    assert with_effect - noise_only == pytest.approx(4.0 * (1 - 1) / 0.5**0.5 + 0.0)  # 1 of 2 planted: the mean count
    Model.arch_sample = {"layer3/skip_from1": "on", "layer4/skip_from2": "on"}
    both = power.synthetic_fitness(Model(), planted, 4.0, replica=7) - power.synthetic_fitness(
        Model(), planted, 0.0, replica=7
    )
    assert both == pytest.approx(4.0 * (2 - 1) / 0.5**0.5)  # (c - P/2) / sqrt(P/4) with c = 2, P = 2
    assert power.synthetic_fitness(Model(), planted, 0.0, replica=8) != noise_only  # another replica, other noise
