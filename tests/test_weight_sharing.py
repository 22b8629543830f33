"""The weight-sharing strategy: the unfrozen space as a single-path supernet computes exactly
the subnet a path names, NNI's evolution scores subnets with inherited weights, and
`nni-lista search --strategy shared-evolution` runs end to end."""

import json

import numpy as np
import pytest
import torch

from nni_lista import cli
from nni_lista.problem import problems
from nni_lista.space import architectures, spaces
from nni_lista.space.architectures import PRESETS
from nni_lista.space.spaces import LISTASpace
from nni_lista.search.weight_sharing import choices, inherited_nmse_db, random_path, set_path, train_supernet

M, N, T = 12, 24, 4


@pytest.fixture(scope="module")
def problem():
    return problems.make_synthetic(problems.SyntheticSettings(m=M, n=N, n_val=40, n_test=40, seed=4))


@pytest.mark.parametrize("seed", range(4))
def test_a_path_of_the_supernet_is_that_subnet(problem, seed):
    supernet = LISTASpace.from_preset("full", M, N, T).initialise(problem.A)
    sample = random_path(supernet, np.random.RandomState(seed))
    set_path(supernet, sample)
    subnet = spaces.build(architectures.complete(sample, T, PRESETS["full"]), M, N, problem.A)
    with torch.no_grad():
        for a, b in zip(supernet(problem.val.b), subnet(problem.val.b)):
            assert torch.allclose(a, b, atol=1e-5)


def test_every_label_is_a_choice_of_the_supernet():
    supernet = LISTASpace.from_preset("full", M, N, T)
    assert set(choices(supernet)) == set(architectures.labels(T, PRESETS["full"]))


def test_training_the_supernet_improves_the_family_paths(problem):
    supernet = LISTASpace.from_preset("full", M, N, T).initialise(problem.A)
    lista = architectures.named_architecture("lista", T)
    before = inherited_nmse_db(supernet, problem, lista)[-1]
    train_supernet(supernet, problem, steps=300, batch=32, lr=1e-3, seed=0)
    assert inherited_nmse_db(supernet, problem, lista)[-1] < before - 0.5


def test_shared_evolution_search_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "search",
        "--strategy",
        "shared-evolution",
        "--budget",
        "200",
        "--subnets",
        "12",
        "--m",
        str(M),
        "--n",
        str(N),
        "--layers",
        "3",
        "--batch",
        "16",
        "--max-steps",
        "20",
        "--eval-every",
        "10",
        "--retrain-seeds",
        "2",
        "--out",
        str(out),
    ]
    assert cli.main(argv) == 0
    top = json.loads((out / "top.json").read_text())
    assert top["kind"] == "weight-sharing" and "inherited weights" in top["proxy"]
    assert top["warm_start"]["seeds"][:1] == [architectures.named_architecture("lista", 3)]
    metrics = [item["metric"] for item in top["top"]]
    assert metrics == sorted(metrics, reverse=True) and len(metrics) == 5
    assert set(top["retrained"]) == {"searched", "lista"}
    replicates = top["replicates"]
    assert replicates["training_seeds"] == [0, 1]
    lista = replicates["models"]["lista"]
    assert len(lista["nmse_db"]) == 2 and lista["nmse_db"][0] == top["retrained"]["lista"]["nmse_db"]
    assert lista["nmse_db"][0] != lista["nmse_db"][1]  # another training seed: other batches, other numbers
    assert abs(lista["searched_gain_db"] - (lista["mean"] - replicates["models"]["searched"]["mean"])) < 1e-12
    paired = lista["paired_gain_db"]  # the same seeds on both sides: the mean paired gain is the gap of the means
    assert abs(paired["mean"] - lista["searched_gain_db"]) < 1e-9 and paired["low"] < paired["mean"] < paired["high"]
    assert "mean +- std over seeds 0, 1" in capsys.readouterr().out
