"""Prefix reuse: a stage-wise run that starts from a stored prefix ends with exactly the
numbers of a run from scratch, and only shares prefixes that compute the same thing."""

import torch

from nni_lista.train.evaluation import evaluate
from nni_lista.train.prefixes import PrefixCache
from nni_lista.space.architectures import named_architecture
from nni_lista.space.spaces import build
from nni_lista.train.training import TrainConfig, train

T = 4
CONFIG = TrainConfig(protocol="stagewise", max_steps=240, batch=16, eval_every=5, patience=1000, seed=1)


def _arch(**changes):
    arch = named_architecture("lista", T)
    arch.update(changes)
    return arch


def _train(arch, problem, cache=None):
    model = build(arch, problem.m, problem.n, problem.A)
    reports = []
    result = train(model, problem, CONFIG, on_layer=lambda k, v: reports.append((k, v)), prefixes=cache)
    return model, result, reports


def test_a_shared_prefix_gives_the_numbers_of_a_run_from_scratch(tmp_path, small_problem):
    cache = PrefixCache(tmp_path, {"test": 1})
    _train(_arch(**{"layer4/skip_from1": "on"}), small_problem, cache)  # stores layers 1..4 of its network
    other = _arch(**{"layer4/neuron": "firm"})  # same first 3 layers
    reused_model, reused, reused_reports = _train(other, small_problem, cache)
    scratch_model, scratch, scratch_reports = _train(other, small_problem)
    assert reused.reused_layers == 3 and scratch.reused_layers == 0
    assert reused.steps == scratch.steps and reused.history == scratch.history
    assert reused_reports == scratch_reports and [k for k, _ in reused_reports] == list(range(T))
    for (name, a), (_, b) in zip(reused_model.state_dict().items(), scratch_model.state_dict().items()):
        assert torch.equal(a, b), name
    assert (
        evaluate(reused_model, small_problem)["nmse_db_per_layer"]
        == evaluate(scratch_model, small_problem)["nmse_db_per_layer"]
    )


def test_a_different_first_layer_or_context_shares_nothing(tmp_path, small_problem):
    cache = PrefixCache(tmp_path, {"test": 1})
    _train(_arch(), small_problem, cache)
    assert _train(_arch(**{"layer1/neuron": "relu"}), small_problem, cache)[1].reused_layers == 0
    assert _train(_arch(), small_problem, PrefixCache(tmp_path, {"test": 2}))[1].reused_layers == 0
    assert _train(_arch(), small_problem, cache)[1].reused_layers == T  # the very same network: nothing left to train
