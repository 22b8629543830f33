"""The measured latency model (nni_lista/search/latency.py): an NNI ExpressionProfiler that sums
one measured term per choice, usable as a limit by every strategy."""

from __future__ import annotations

import json
import random

import pytest
import torch

from nni_lista.base.errors import UsageError
from nni_lista.cli import main
from nni_lista.problem import problems
from nni_lista.search.explore import SearchRequest, run_search
from nni_lista.search.latency import LatencyProfiler, measure_network, measure_table, predict, table_key
from nni_lista.search.latency_table import LatencyTable
from nni_lista.space.architectures import PRESETS, complete, labels, named_architecture
from nni_lista.space.spaces import LISTASpace, build
from nni_lista.train.training import TrainConfig
from nni.nas.oneshot.pytorch.supermodule._expression_utils import expression_expectation  # noqa: E402  (after NNI's quiet import)

M, N, T, BATCH = 12, 24, 4, 8


@pytest.fixture(scope="module")
def table():
    return measure_table(M, N, T, BATCH, repeats=5, progress=False)[0]


def _by_hand(table: LatencyTable, arch: dict) -> float:
    """The latency model written out from the table, independently of NNI's expressions."""
    total = table.constant_ms + table.measure_ms  # every full-space network has B (the lista form may be chosen)
    for k in range(1, T + 1):
        total += table.forms[arch[f"layer{k}/weight_form"]][k - 1] + table.neurons[arch[f"layer{k}/neuron"]][k - 1]
        total += table.skip_ms * sum(arch.get(f"layer{k}/skip_from{j}") == "on" for j in range(1, k - 1))
        total += sum(
            per_value[arch[f"layer{k}/{dimension}"]][k - 1]
            for dimension, per_value in table.mechanisms.items()
            if f"layer{k}/{dimension}" in arch
        )
    return total


def _random_arch(seed: int) -> dict:
    draw = random.Random(seed)
    return {label: draw.choice(values) for label, values in labels(T, PRESETS["full"]).items()}


def test_the_table_holds_every_choice_and_its_key(table):
    assert table.key == table_key(M, N, T, BATCH, "cpu")
    assert set(table.forms) == {"lista", "coupled", "analytic"} and len(table.neurons) == 7
    assert all(len(v) == T and all(x >= 0 for x in v) for v in [*table.forms.values(), *table.neurons.values()])
    assert table.mechanisms["threshold"]["residual"][1] > 0 and table.mechanisms["momentum"]["learned"][1] > 0
    assert table.mechanisms["momentum"]["learned"][0] == 0 and not any(
        table.mechanisms["gain_gate"]["off"]
    )  # no label; off
    assert table.skip_ms > 0 and table.measure_ms > 0


def test_the_profiler_is_the_sum_of_the_measured_terms(table):
    for seed in range(5):
        arch = _random_arch(seed)
        assert predict(table, arch, M, N) == pytest.approx(_by_hand(table, arch))
    # a smaller preset: its fixed parts (soft neurons, the lista form) count as constants
    space = LISTASpace.from_preset("connectivity", M, N, T)
    sample = {label: "on" for label in labels(T, PRESETS["connectivity"])}
    assert LatencyProfiler(space, table).profile(sample) == pytest.approx(
        _by_hand(table, complete(sample, T, PRESETS["connectivity"]))
    )


def test_the_expectation_over_a_distribution_is_what_darts_penalises(table):
    """ExpectationProfilerPenalty evaluates the expression's expectation under the architecture
    weights: with one-hot weights it is the latency of that architecture, and it is linear."""
    space = LISTASpace.from_preset("full", M, N, T)
    profiler = LatencyProfiler(space, table)
    a, b = _random_arch(1), _random_arch(2)
    values = {label: list(m.values) for label, m in space.simplify().items()}
    one_hot = lambda arch: {label: [1.0 if v == arch[label] else 0.0 for v in vs] for label, vs in values.items()}  # noqa: E731
    half = {label: [0.5 * (x + y) for x, y in zip(one_hot(a)[label], one_hot(b)[label])] for label in values}
    assert expression_expectation(profiler.expression, one_hot(a)) == pytest.approx(predict(table, a, M, N))
    assert expression_expectation(profiler.expression, half) == pytest.approx(
        0.5 * (predict(table, a, M, N) + predict(table, b, M, N))
    )


def test_a_table_of_another_size_or_machine_is_refused(table, tmp_path):
    path = tmp_path / "t.json"
    table.save(path)
    assert LatencyTable.load(path, table.key).forms == table.forms
    with pytest.raises(UsageError, match=r"measured for other batch, m \(batch=8, m=12\)"):
        LatencyTable.load(path, {**table.key, "m": 13, "batch": 1})
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(UsageError, match="is not a latency table"):
        LatencyTable.load(tmp_path / "bad.json")
    with pytest.raises(UsageError, match="measured for 12x24"):
        LatencyProfiler(LISTASpace.from_preset("full", 16, 32, T), table)


def test_predicted_and_measured_latency_agree_roughly(table):
    """A loose check (machines are noisy; benchmarks/latency_profiler.py measures the accuracy):
    the prediction is within a factor of 3 of the fastest measured forward pass."""
    A = problems.make_synthetic(problems.SyntheticSettings(m=M, n=N, n_val=8, n_test=8)).A
    b = torch.randn(BATCH, M)
    for name in ("lista", "alista", "dense"):
        arch = named_architecture(name, T)
        measured = measure_network(build(arch, M, N, A), b, repeats=20)
        assert predict(table, arch, M, N) / 3 <= measured <= 3 * predict(table, arch, M, N), name


@pytest.mark.parametrize("strategy", ["evolution", "random-one-shot", "darts"])
def test_every_returned_architecture_obeys_the_latency_limit(strategy, table, tmp_path):
    table.save(tmp_path / "table.json")
    predicted = sorted(predict(table, _random_arch(seed), M, N) for seed in range(40))
    margin = 0.1
    limit = predicted[len(predicted) // 3] / (1 - margin)  # a third of random architectures meet it with the margin
    spec = problems.problem_spec(problems.SyntheticSettings(m=M, n=N, n_val=64, n_test=64, seed=1))
    request = SearchRequest(
        strategy=strategy,
        problem=spec,
        layers=T,
        space="full",
        budget=4 if strategy == "evolution" else 40,
        training=TrainConfig(protocol="e2e", max_steps=20, batch=16, eval_every=10),
        max_latency=limit,
        latency_margin=margin,
        latency_batch=BATCH,
        latency_table=str(tmp_path / "table.json"),
    )
    result = run_search(request, tmp_path / "run")
    assert result["limits"]["max_latency"] == limit and result["limits"]["latency_margin"] == margin
    A, b = problems.resolve_problem(spec).A, torch.randn(BATCH, M)
    for item in result["top"]:
        assert predict(table, item["arch"], M, N) <= limit * (1 - margin) + 1e-9
        assert (
            measure_network(build(item["arch"], M, N, A), b, repeats=20) <= 3 * limit
        )  # measured: a generous tolerance


def test_the_latency_command_and_its_errors(tmp_path, capsys):
    out = tmp_path / "table.json"
    assert (
        main(
            [
                "latency",
                "--m",
                str(M),
                "--n",
                str(N),
                "--layers",
                str(T),
                "--batch",
                "4",
                "--repeats",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| neuron soft-ss (layer 2)" in printed and "lista (T = 4, predicted)" in printed
    saved = json.loads(out.read_text())
    assert saved["key"]["batch"] == 4 and saved["key"]["m"] == M
    for argv, needle in [
        (["--batch", "0"], "--batch 0 is not allowed"),
        (["--m", "30"], "give 1 <= m <= n"),
        (["--layers", "0"], "layers"),
    ]:
        assert main(["latency", "--m", str(M), "--n", str(N), "--out", str(tmp_path / "x.json"), *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "x.json").exists()
    # --arch: an architecture file's predicted and measured latency, checked before any measuring
    assert main(["arch", "--name", "alista", "--layers", str(T), "--out", str(tmp_path / "a.json")]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "latency",
                "--m",
                str(M),
                "--n",
                str(N),
                "--layers",
                str(T),
                "--repeats",
                "3",
                "--arch",
                str(tmp_path / "a.json"),
                "--out",
                str(tmp_path / "y.json"),
            ]
        )
        == 0
    )
    row = next(line for line in capsys.readouterr().out.splitlines() if "a.json" in line)
    predicted, measured = (float(cell) for cell in row.strip("|").split("|")[1:3])
    assert predicted > 0 and measured > 0
    assert (
        main(
            [
                "latency",
                "--m",
                str(M),
                "--n",
                str(N),
                "--layers",
                "6",
                "--arch",
                str(tmp_path / "a.json"),
                "--out",
                str(tmp_path / "z.json"),
            ]
        )
        == 2
    )
    assert "has 4 layers: give --layers 4" in capsys.readouterr().err and not (tmp_path / "z.json").exists()


def test_a_search_with_a_latency_limit_refuses_a_table_of_another_batch(table, tmp_path, capsys):
    table.save(tmp_path / "table.json")
    code = main(
        [
            "search",
            "--strategy",
            "random",
            "--m",
            str(M),
            "--n",
            str(N),
            "--layers",
            str(T),
            "--max-steps",
            "20",
            "--budget",
            "2",
            "--max-latency",
            "100",
            "--latency-batch",
            "1",
            "--latency-table",
            str(tmp_path / "table.json"),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "measured for other batch (batch=8)" in err


def test_the_latency_margin_is_checked_and_named(table, tmp_path, capsys):
    table.save(tmp_path / "table.json")
    argv = [
        "search",
        "--strategy",
        "random",
        "--m",
        str(M),
        "--n",
        str(N),
        "--layers",
        str(T),
        "--max-steps",
        "20",
        "--budget",
        "2",
        "--latency-batch",
        str(BATCH),
        "--latency-table",
        str(tmp_path / "table.json"),
    ]
    assert main([*argv, "--max-latency", "1", "--latency-margin", "1.5", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "latency-margin 1.5 is not allowed: it must be a fraction in [0, 1)" in err, err
    least = (
        min(predict(table, _random_arch(seed), M, N) for seed in range(40)) / 10
    )  # under every architecture's prediction
    assert main([*argv, "--max-latency", f"{least:g}", "--latency-margin", "0.5", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "less the latency margin of 50%" in err, err


def test_projection_follows_the_strategys_choice_probabilities():
    """A one-shot export over the limit is projected onto it. Greedy by latency alone turns the
    costliest neuron into an identity; with the strategy's probabilities
    (NNI's export_probs) it takes the likely, slightly cheaper neuron instead."""
    from nni_lista.search.explore import Limits
    from nni_lista.space.architectures import WEIGHT_FORMS
    from nni_lista.space.neurons import NEURONS

    cost = {"soft-ss": 0.3, "identity": 0.0}
    table = LatencyTable(
        table_key(M, N, T, BATCH, "cpu"),
        0.0,
        0.0,
        0.01,
        {name: [0.0] * T for name in WEIGHT_FORMS},
        {name: [cost.get(name, 0.1)] * T for name in NEURONS},
        {},
    )
    space = LISTASpace.from_preset("full", M, N, T)
    values = {label: list(mutable.values) for label, mutable in space.simplify().items()}
    limits = Limits(space, M, None, None, (table, 0.8, 0.0))
    export = {
        label: ("soft-ss" if label.endswith("neuron") else "lista" if label.endswith("form") else options[0])
        for label, options in values.items()
    }
    assert _by_hand(table, export) == pytest.approx(1.2)
    greedy = limits.project(export, values)
    assert limits.fits(greedy) and "identity" in greedy.values()
    probs = {
        label: (
            {"soft-ss": 0.5, "soft": 0.4}
            | {v: 0.1 / (len(NEURONS) - 2) for v in NEURONS if v not in ("soft-ss", "soft")}
        )
        for label in values
        if label.endswith("neuron")
    }
    likely = limits.project(export, values, probs)
    assert limits.fits(likely) and _by_hand(table, likely) == pytest.approx(0.8) and "identity" not in likely.values()
    assert sorted(likely[f"layer{k}/neuron"] for k in range(1, T + 1)) == ["soft", "soft", "soft-ss", "soft-ss"]
