import pytest

from nni_lista import problems


@pytest.fixture(scope="session")
def small_problem():
    """A 30x60 noiseless instance with small fixed sets: fast enough for every test."""
    return problems.make_synthetic(problems.SyntheticSettings(m=30, n=60, p=0.1, seed=3, n_val=200, n_test=300))
