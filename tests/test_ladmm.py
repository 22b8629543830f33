"""D-LADMM as a model space, the backbone registry and the analysis of searched architectures."""

import json

import numpy as np
import pytest
import torch

from nni_lista.study import analysis

from nni_lista.models import family

from nni_lista.space import architectures, ladmm

from nni_lista.problem import problems
from nni_lista.space.backbones import BACKBONES
from nni_lista.cli import main
from nni_lista.search.explore import SearchRequest, run_search
from nni_lista.train.training import TrainConfig, train

M, N, T = 12, 24, 5


@pytest.fixture(scope="module")
def problem():
    return problems.make_synthetic(problems.SyntheticSettings(m=M, n=N, n_val=64, n_test=64, seed=3))


def test_dladmm_first_layer_is_an_ista_step(problem):
    model = ladmm.build(BACKBONES["dladmm"].plain(T), M, N, problem.A)
    ista = family.build("ista", problem.A, T)
    b = problem.val.b
    torch.testing.assert_close(model(b)[0], ista(b)[0])
    assert len(model(b)) == T and len(model(b, 2)) == 2


def test_dladmm_labels_match_the_lista_space_without_weight_forms():
    space = ladmm.DLADMMSpace.from_preset("paper", M, N, T)
    assert set(space.simplify()) == set(BACKBONES["dladmm"].labels("paper", T))
    assert set(BACKBONES["dladmm"].labels("paper", T)) == set(architectures.labels(T, architectures.PRESETS["paper"]))


def test_dladmm_skips_start_closed_and_train(problem):
    dense = {label: ("on" if "skip" in label else "soft") for label in BACKBONES["dladmm"].labels("paper", T)}
    plain, skipped = (ladmm.build(a, M, N, problem.A) for a in (BACKBONES["dladmm"].plain(T), dense))
    b = problem.val.b
    torch.testing.assert_close(plain(b)[-1], skipped(b)[-1])  # gains start at 0
    before = float((skipped(b)[-1] - problem.val.s).pow(2).sum())
    train(skipped, problem, TrainConfig(protocol="e2e", max_steps=60, eval_every=30, batch=32), progress=False)
    assert float((skipped(b)[-1] - problem.val.s).pow(2).sum()) < before
    assert any(float(p.detach().abs().sum()) > 0 for n, p in skipped.named_parameters() if n.endswith("gain"))


def test_search_the_dladmm_space_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "dl"
    code = main(
        [
            "search",
            "--backbone",
            "dladmm",
            "--strategy",
            "random",
            "--space",
            "connectivity",
            "--m",
            str(M),
            "--n",
            str(N),
            "--layers",
            str(T),
            "--budget",
            "2",
            "--max-steps",
            "20",
            "--eval-every",
            "10",
            "--batch",
            "16",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    top = json.loads((out / "top.json").read_text())
    assert top["backbone"] == "dladmm" and set(top["retrained"]) == {"searched", "dladmm"}
    assert set(top["top"][0]["arch"]) == set(BACKBONES["dladmm"].labels("paper", T))
    header = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| layer"))
    assert header.split("|")[2:4] == [" searched ", " dladmm "]

    # what the search wrote, `retrain` takes back: with --backbone dladmm it is the same network and numbers
    common = [
        "--m",
        str(M),
        "--n",
        str(N),
        "--max-steps",
        "20",
        "--eval-every",
        "10",
        "--batch",
        "16",
        "--protocol",
        "e2e",
    ]
    assert (
        main(["retrain", "--arch", str(out / "best_arch.json"), *common, "--out", str(tmp_path / "lista-backbone")])
        == 2
    )
    assert "add --backbone dladmm" in capsys.readouterr().err
    assert (
        main(
            [
                "retrain",
                "--arch",
                str(out / "best_arch.json"),
                "--backbone",
                "dladmm",
                "--layers",
                str(T),
                *common,
                "--out",
                str(tmp_path / "again"),
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["settings"]["backbone"] == "dladmm" and again["nmse_db"] == top["retrained"]["searched"]["nmse_db"]
    assert (
        main(
            [
                "retrain",
                "--arch",
                str(out / "best_arch.json"),
                "--backbone",
                "dladmm",
                "--layers",
                str(T + 1),
                *common,
                "--out",
                str(tmp_path / "other"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--layers {T + 1} does not match" in err and f"has {T} layers" in err


def test_a_lista_only_space_is_refused_for_dladmm(capsys):
    with pytest.raises(Exception, match="not allowed for the dladmm backbone"):
        SearchRequest(strategy="random", problem={}, space="full", backbone="dladmm")
    assert main(["search", "--backbone", "dladmm", "--strategy", "random", "--space", "lista", "--out", "x"]) == 2
    assert "space 'lista' is not allowed for the dladmm backbone" in capsys.readouterr().err


def test_averaged_architecture_and_graft():
    labels = BACKBONES["lista"].labels("paper", 4)
    a = {**{k: "off" for k in labels if "skip" in k}, **{k: "soft" for k in labels if k.endswith("neuron")}}
    b = dict(a, **{"layer4/skip_from1": "on", "layer3/neuron": "tanh"})
    c = dict(b, **{"layer4/skip_from2": "on"})
    freq = analysis.skip_frequency([a, b, c], 4)
    expected = np.zeros((4, 4))
    expected[1, 0] = expected[2, 1] = expected[3, 2] = 1.0
    expected[3, 0], expected[3, 1] = 2 / 3, 1 / 3
    np.testing.assert_allclose(freq, expected)
    neurons = analysis.neuron_frequency([a, b, c], 4)
    assert neurons[2, list(analysis.NEURONS).index("tanh")] == pytest.approx(2 / 3)
    grafted = analysis.graft([a, b, c], BACKBONES["dladmm"].labels("paper", 4))
    assert (
        grafted["layer4/skip_from1"] == "on"
        and grafted["layer4/skip_from2"] == "off"
        and grafted["layer3/neuron"] == "tanh"
    )
    assert analysis.pattern_correlation([a, b], [a, b], 4) == pytest.approx(1.0)
    assert analysis.pattern_correlation([a], [a], 4) is not None  # neuron frequencies vary across labels
    assert analysis.edf([3.0, 1.0, 2.0]) == ([1.0, 2.0, 3.0], [1 / 3, 2 / 3, 1.0])


def test_run_search_compares_with_the_backbones_plain_network(tmp_path):
    spec = problems.problem_spec(problems.SyntheticSettings(m=M, n=N, n_val=64, n_test=64, seed=1))
    request = SearchRequest(
        strategy="random",
        problem=spec,
        layers=T,
        space="neurons",
        budget=2,
        backbone="dladmm",
        training=TrainConfig(protocol="e2e", max_steps=10, eval_every=10, batch=16),
    )
    result = run_search(request, tmp_path)
    assert result["retrained"]["dladmm"]["settings"]["arch"] == BACKBONES["dladmm"].plain(T)
