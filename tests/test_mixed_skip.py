"""DARTS mixes the space's skip edges without their zero candidate, with NNI's own numbers."""

import torch
from nni.nas.oneshot.pytorch.supermodule.differentiable import DifferentiableMixedLayer
from nni.nas.strategy import DARTS, ENAS, GumbelDARTS

from nni_lista.search import compat  # noqa: F401
from nni_lista.space import ladmm, spaces
from nni_lista.space.layers import initialise
from nni_lista.space.mixed_skip import MixedSkip

T = 6
EDGES = sum(k - 2 for k in range(3, T + 1))


class GenericMixing(spaces.LISTASpace):
    def extra_oneshot_hooks(self, strategy) -> list:
        return []


def _supernet(space_class, small_problem, strategy=DARTS):
    torch.manual_seed(0)
    net = strategy().mutate_model(space_class.from_preset("paper", small_problem.m, small_problem.n, T))
    return initialise(net, small_problem.A, 0.4)


def test_darts_supernet_uses_mixed_skips_with_the_same_value_and_gradients(small_problem):
    ours, generic = _supernet(spaces.LISTASpace, small_problem), _supernet(GenericMixing, small_problem)
    assert sum(isinstance(m, MixedSkip) for m in ours.modules()) == EDGES
    assert not any(isinstance(m, MixedSkip) for m in generic.modules())
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # away from the initialisation: gains and architecture weights matter
        for (name, p), (other, q) in zip(ours.named_parameters(), generic.named_parameters()):
            assert name == other
            if "gain" in name or "alpha" in name:
                p.add_(0.3 * torch.randn(p.shape, generator=generator))
            q.copy_(p)
    b = small_problem.val.b[:50]
    out, ref = ours(b)[-1], generic(b)[-1]
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    out.pow(2).sum().backward()
    ref.pow(2).sum().backward()
    for (name, p), q in zip(ours.named_parameters(), generic.parameters()):
        if q.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)
    skip = next(m for m in ours.modules() if isinstance(m, MixedSkip))
    assert set(skip.export_probs({})[skip.label]) == {"off", "on"}  # NNI's export machinery, inherited


def test_only_darts_and_its_kin_get_the_hook(small_problem):
    assert (
        sum(isinstance(m, MixedSkip) for m in _supernet(spaces.LISTASpace, small_problem, GumbelDARTS).modules())
        == EDGES
    )
    assert not any(isinstance(m, MixedSkip) for m in _supernet(spaces.LISTASpace, small_problem, ENAS).modules())
    dladmm = ladmm.DLADMMSpace.from_preset("paper", small_problem.m, small_problem.n, T)
    mixed = DARTS().mutate_model(dladmm)
    assert sum(isinstance(m, MixedSkip) for m in mixed.modules()) == EDGES
    assert all(isinstance(m, DifferentiableMixedLayer) for m in mixed.modules() if isinstance(m, MixedSkip))
