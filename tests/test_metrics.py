import math

import pytest
import torch

from nni_lista.problem.metrics import nmse_db, nmse_db_per_layer, psnr_db


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
