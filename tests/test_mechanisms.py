"""The post-ALISTA mechanisms: family members equal to their formulas, "off" = absent, zero-init
gates start as the network without them, profilers and NNI's formats see the new labels."""

import json

import numpy as np
import pytest
import torch

from nni_lista.models import family
from nni_lista.problem import problems
from nni_lista.search import hpo
from nni_lista.space import architectures, spaces
from nni_lista.space.architectures import PRESETS
from nni_lista.space.spaces import LISTASpace

M, N, T = 12, 24, 5
NEW = ["alista-at", "aglista", "hyperlista"]


@pytest.fixture(scope="module")
def problem():
    return problems.make_synthetic(problems.SyntheticSettings(m=M, n=N, n_val=20, n_test=40, snr_db=30.0, seed=4))


def _perturb(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g) * (p.abs().mean() + 0.05))
    return model


def _copy_into_frozen(reference, frozen):
    """The family model's parameters into the frozen network's modules, layer by layer."""
    with torch.no_grad():
        for k, block in enumerate(frozen.blocks):
            block.form.gamma.copy_(reference.gamma[k])
            block.neuron.theta.copy_(reference.theta[k])
            if hasattr(reference, "mu") and k > 0:
                block.gain_gate.mu.copy_(reference.mu[k - 1])
                block.gain_gate.nu.copy_(reference.nu[k - 1])
            if hasattr(reference, "a"):
                block.overshoot.a.copy_(reference.a[k])
            if hasattr(reference, "c") and k > 0:
                block.momentum.beta.copy_(reference.c[k - 1])


@pytest.mark.parametrize("name", NEW)
def test_new_family_members_equal_their_named_architectures_for_the_same_weights(problem, name):
    reference = _perturb(family.build(name, problem.A, T))
    frozen = spaces.build(architectures.named_architecture(name, T), M, N, problem.A)
    _copy_into_frozen(reference, frozen)
    with torch.no_grad():
        a, b = frozen(problem.test.b), reference(problem.test.b)
    assert len(a) == len(b) == T
    own = [p for name, p in frozen.named_parameters() if not name.startswith("measure.")]  # B: unused by analytic forms
    assert sum(p.numel() for p in own) == sum(p.numel() for p in reference.parameters())
    for x, y in zip(a, b):
        assert torch.allclose(x, y, atol=1e-5)
    plain = _perturb(family.build("alista", problem.A, T))  # the mechanisms change the function once they are learned
    with torch.no_grad():
        assert not torch.allclose(reference(problem.test.b)[-1], plain(problem.test.b)[-1], atol=1e-3)


@pytest.mark.parametrize("name", ["aglista", "hyperlista"])
def test_gates_and_momentum_start_at_zero_so_the_network_starts_as_its_base(problem, name):
    """AGLISTA starts as ALISTA exactly; HyperLISTA as ALISTA with its residual threshold."""
    base = architectures.named_architecture("alista", T)
    if name == "hyperlista":
        base = {**base, **{label: "residual" for label in base if label.endswith("/threshold")}}
    with torch.no_grad():
        start = spaces.build(architectures.named_architecture(name, T), M, N, problem.A)(problem.test.b)
        plain = spaces.build(base, M, N, problem.A)(problem.test.b)
    assert all(torch.allclose(x, y, atol=1e-6) for x, y in zip(start, plain))


def test_alista_at_threshold_is_smaller_where_the_estimate_is_large(problem):
    at = family.build("alista-at", problem.A, T)
    x = torch.tensor([[0.0, 0.1, 1.0]])
    factor = at.threshold(1, x, problem.test.b[:1]) / at.theta[1]
    assert torch.allclose(factor, torch.tensor([[1.0, 0.5, 1 / 11]]))


def test_an_architecture_file_of_the_2019_space_still_loads_as_what_it_computed(problem, tmp_path):
    old = {
        label: value
        for label, value in architectures.named_architecture("alista", T).items()
        if label.split("/")[1] not in architectures.LATER_DIMENSIONS
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    arch = architectures.load_arch(path)
    assert arch == architectures.named_architecture("alista", T)
    with torch.no_grad():
        a = spaces.build(old, M, N, problem.A)(problem.test.b)[-1]
        b = family.build("alista", problem.A, T)(problem.test.b)[-1]
    assert torch.allclose(a, b, atol=1e-5)


def test_the_full_space_has_the_new_labels_and_the_family_space_does_not():
    full, older = architectures.labels(16, PRESETS["full"]), architectures.labels(16, PRESETS["family"])
    assert full["layer5/threshold"] == ("scalar", "vector", "adaptive", "residual")
    assert full["layer5/gain_gate"] == ("off", "exp", "inv") and "layer1/gain_gate" not in full
    assert full["layer5/overshoot"] == ("off", "inv") and "layer1/overshoot" in full
    assert full["layer5/momentum"] == ("off", "learned", "adaptive") and "layer1/momentum" not in full
    assert len(full) - len(older) == 16 * 2 + 15 * 2
    assert not any(label.split("/")[1] in architectures.LATER_DIMENSIONS for label in older)


def test_the_classic_hpo_format_holds_the_new_dimensions():
    space = hpo.search_space("full", 4)
    assert space["layer3/momentum"] == {"_type": "choice", "_value": ["off", "learned", "adaptive"]}
    assert space["layer1/threshold"]["_value"] == ["scalar", "vector", "adaptive", "residual"]


def test_random_architectures_of_the_full_space_train_a_step_without_nan(problem):
    space = LISTASpace.from_preset("full", M, N, T)
    for seed in range(4):
        model = space.random(random_state=np.random.RandomState(seed)).initialise(problem.A)
        _perturb(model, seed)
        loss = sum(((x - problem.test.s) ** 2).mean() for x in model(problem.test.b))
        loss.backward()
        assert torch.isfinite(loss) and all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def test_describe_names_the_nearest_named_architecture_and_what_differs():
    arch = architectures.named_architecture("alista", 6)
    assert architectures.describe(arch, 6) == {
        "nearest": "alista",
        "labels_changed": 0,
        "changes": [],
        "family_member": True,
        "text": "= ALISTA",
    }
    arch = {**arch, "layer4/momentum": "learned", "layer2/overshoot": "inv"}
    found = architectures.describe(arch, 6)
    assert found["nearest"] == "alista" and not found["family_member"]
    assert found["text"] == "ALISTA with 2 labels changed: layer2/overshoot=inv, layer4/momentum=learned"
    near_at = {**architectures.named_architecture("alista-at", 6), "layer6/gain_gate": "inv"}
    assert architectures.describe(near_at, 6)["text"] == "ALISTA-AT with 1 label changed: layer6/gain_gate=inv"
    partial = {"layer3/skip_from1": "on", "layer4/skip_from1": "off"}  # only the labels a search set are compared
    assert (
        architectures.describe(partial, 6)["text"] == "LISTA with 1 label changed: layer3/skip_from1=on"
    )  # a tie: the earlier name
