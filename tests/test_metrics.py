import math

import pytest
import torch

from nni_lista.problem.metrics import nmse_db, nmse_db_per_layer, nmse_db_sample_mean, paired_difference, psnr_db


def test_nmse_is_a_ratio_of_sums_not_a_mean_of_db():
    x = torch.tensor([[1.0, 0.0], [10.0, 0.0]])
    x_hat = torch.tensor([[0.0, 0.0], [10.0, 0.0]])  # first sample all wrong, second exact
    # ratio of sums: 1 / 101
    assert nmse_db(x_hat, x) == pytest.approx(10 * math.log10(1 / 101))
    # the per-sample dB mean would be (0 + -inf)/2: not what we compute
    assert math.isfinite(nmse_db(x_hat, x))


def test_nmse_known_values():
    x = torch.randn(50, 20, generator=torch.Generator().manual_seed(0))
    assert nmse_db(torch.zeros_like(x), x) == pytest.approx(0.0)
    assert nmse_db(x * 1.1, x) == pytest.approx(-20.0, abs=1e-4)
    assert nmse_db(x, x) == -math.inf
    assert nmse_db_per_layer([x * 0.9, x * 0.99], x) == pytest.approx([-20.0, -40.0], abs=1e-4)


def test_psnr():
    x = torch.full((4, 4), 0.5)
    assert psnr_db(x + 0.1, x) == pytest.approx(20.0)


def test_the_sample_mean_nmse_is_the_other_definition():
    # two samples: one recovered to -20 dB, one to 0 dB
    target = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    estimate = torch.tensor([[1.1, 0.0], [0.0, 0.0]])
    assert nmse_db_sample_mean(estimate, target) == pytest.approx((-20.0 + 0.0) / 2)
    ratio_of_sums = 10 * math.log10((0.01 + 4.0) / (1.0 + 4.0))
    assert nmse_db(estimate, target) == pytest.approx(ratio_of_sums)
    # all-zero targets are skipped; an exact recovery is -inf
    with_zero = torch.cat([target, torch.zeros(1, 2)])
    assert nmse_db_sample_mean(torch.cat([estimate, torch.ones(1, 2)]), with_zero) == pytest.approx(-10.0)
    assert nmse_db_sample_mean(target, target) == -math.inf
    with pytest.raises(ValueError):
        nmse_db_sample_mean(torch.zeros(2, 2), torch.zeros(2, 2))


def test_paired_difference_has_the_student_t_interval():
    # differences 1, 2, 3: mean 2, sd 1, t_{0.975, 2} = 4.303 -> half-width 4.303 / sqrt(3) = 2.484
    found = paired_difference([11.0, 12.0, 13.0], [10.0, 10.0, 10.0])
    assert found["differences"] == [1.0, 2.0, 3.0] and found["mean"] == 2.0 and found["std"] == 1.0
    assert found["low"] == pytest.approx(2.0 - 2.4841, abs=1e-3) and found["high"] == pytest.approx(
        2.0 + 2.4841, abs=1e-3
    )
    # pairing removes what the two share: a constant offset has a zero-width interval
    same = paired_difference([-40.1, -40.5, -39.9], [-40.0, -40.4, -39.8])
    assert same["high"] - same["low"] == pytest.approx(0.0, abs=1e-9) and same["mean"] == pytest.approx(-0.1)
    one = paired_difference([1.0], [0.5])
    assert one["std"] is None and one["low"] is None
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])
