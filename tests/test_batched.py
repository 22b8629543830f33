"""K architectures trained as one batched computation give each one's numbers alone."""

import random

import pytest
import torch

from nni_lista.base.errors import UsageError
from nni_lista.space import architectures, spaces
from nni_lista.train import batched, training
from nni_lista.train.evaluation import evaluate

T = 5


def _archs(count: int, seed: int = 0) -> list[dict]:
    """LISTA, ALISTA, dense and random architectures of the 2019 family's space (mixed forms,
    neurons, skips; the post-ALISTA mechanisms are not batched)."""
    rng = random.Random(seed)
    values = architectures.labels(T, architectures.PRESETS["family"])
    archs = [architectures.named_architecture(name, T) for name in ("lista", "alista", "dense")]
    archs += [
        architectures.with_defaults({label: rng.choice(options) for label, options in values.items()}, T)
        for _ in range(count - len(archs))
    ]
    return archs


def _config(**kw) -> training.TrainConfig:
    return training.TrainConfig(
        **{
            "protocol": "e2e",
            "max_steps": 60,
            "batch": 16,
            "eval_every": 10,
            "patience": 1000,
            "lr": 2e-3,
            "seed": 2,
            **kw,
        }
    )


def _build(problem, archs):
    return [spaces.build(arch, problem.m, problem.n, problem.A) for arch in archs]


def test_stacked_forward_equals_each_network(small_problem):
    networks = _build(small_problem, _archs(8))
    for net in networks:  # away from the initialisation, so that every gain and form matters
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    stacked = batched.StackedNetworks(networks)
    b = small_problem.val.b[:20]
    together = stacked(b)
    for i, net in enumerate(networks):
        alone = net(b)
        for layer in range(T):
            torch.testing.assert_close(together[layer][i], alone[layer], rtol=1e-5, atol=1e-5)


def test_batched_training_gives_each_architecture_its_own_numbers(small_problem):
    archs = _archs(6)
    config = _config()
    alone = _build(small_problem, archs)
    alone_results = [training.train(net, small_problem, config, progress=False) for net in alone]
    together = _build(small_problem, archs)
    together_results = batched.train_together(together, small_problem, config, progress=False)
    for a, b, ra, rb in zip(alone, together, alone_results, together_results):
        assert rb.steps == ra.steps
        assert [h["step"] for h in rb.history] == [h["step"] for h in ra.history]
        for h_a, h_b in zip(ra.history, rb.history):
            assert h_b["val_nmse_db"] == pytest.approx(h_a["val_nmse_db"], abs=0.02)
        assert evaluate(b, small_problem)["nmse_db"] == pytest.approx(evaluate(a, small_problem)["nmse_db"], abs=0.02)
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            torch.testing.assert_close(q, p, rtol=1e-3, atol=1e-4, msg=name)
    # training changed them (so the comparison above is not between two untouched networks)
    fresh = _build(small_problem, archs[:1])[0]
    assert evaluate(together[0], small_problem)["nmse_db"] < evaluate(fresh, small_problem)["nmse_db"] - 0.5


def test_each_network_stops_by_its_own_rule(small_problem):
    archs = _archs(4)
    config = _config(max_steps=200, target_db=-6.0)
    alone = [training.train(net, small_problem, config, progress=False).steps for net in _build(small_problem, archs)]
    together = [
        r.steps for r in batched.train_together(_build(small_problem, archs), small_problem, config, progress=False)
    ]
    assert together == alone
    assert len(set(alone)) > 1  # the rule stopped them at different steps


def test_only_end_to_end_training_and_one_size_are_batched(small_problem):
    with pytest.raises(UsageError, match="stagewise"):
        batched.train_together(_build(small_problem, _archs(3)), small_problem, _config(protocol="stagewise"))
    other = spaces.build(
        architectures.named_architecture("lista", T + 1), small_problem.m, small_problem.n, small_problem.A
    )
    with pytest.raises(UsageError, match="different sizes or depths"):
        batched.StackedNetworks(_build(small_problem, _archs(3)) + [other])


def test_batched_training_follows_per_kind_rates_and_warmup(small_problem):
    archs = _archs(4, seed=1)
    config = _config(max_steps=30, lr_scale={"threshold": 5.0, "gain": 3.0, "matrix": 0.5}, warmup_steps=10)
    alone = _build(small_problem, archs)
    for net in alone:
        training.train(net, small_problem, config, progress=False)
    together = _build(small_problem, archs)
    batched.train_together(together, small_problem, config, progress=False)
    for a, b in zip(alone, together):
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            torch.testing.assert_close(q, p, rtol=1e-3, atol=1e-4, msg=name)


def test_networks_with_post_alista_mechanisms_are_refused_in_one_line(small_problem):
    with pytest.raises(UsageError, match="without gates, momentum or threshold shapes"):
        batched.StackedNetworks(_build(small_problem, [architectures.named_architecture("aglista", T)]))
