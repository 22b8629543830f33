import os

# One intra-op thread per process: the tests run tiny problems, where OpenMP's thread start and
# barrier cost more than the work, and on a 2-core machine the suite's processes (pytest, NNI's
# manager, trials) would otherwise oversubscribe the cores (fused Adam then takes ~40 ms a step
# instead of ~0.5 ms). Set before torch is imported; subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from nni_lista.problem import problems  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def small_problem():
    """A 30x60 noiseless instance with small fixed sets: fast enough for every test."""
    return problems.make_synthetic(problems.SyntheticSettings(m=30, n=60, p=0.1, seed=3, n_val=200, n_test=300))
