"""Every NNI strategy, unmodified, end to end on a tiny space (sequential engine, in-process)."""

import json
from pathlib import Path

import pytest

from nni_lista.search import compat, evaluators

from nni_lista.problem import problems

from nni_lista.space import architectures, spaces
from nni_lista.cli import main
from nni_lista.search.explore import STRATEGIES, SearchRequest, run_search
from nni_lista.train.training import TrainConfig

REPO = Path(__file__).resolve().parents[1]
M, N, T = 12, 24, 4
PROBLEM = ["--m", str(M), "--n", str(N)]
TRAIN = ["--max-steps", "20", "--eval-every", "10", "--batch", "16"]
TINY = [*PROBLEM, "--layers", str(T), *TRAIN]


def _spec():
    return problems.problem_spec(problems.SyntheticSettings(m=M, n=N, n_val=64, n_test=64, seed=1))


def _request(strategy, **kw):
    base = dict(
        strategy=strategy,
        problem=_spec(),
        layers=T,
        space="paper",
        budget=4 if STRATEGIES[strategy].kind == "multi-trial" else 40,
        training=TrainConfig(protocol="e2e", max_steps=20, batch=16, eval_every=10),
    )
    base.update(kw)
    return SearchRequest(**base)


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "grid"])
def test_every_strategy_searches_and_retrains(strategy, tmp_path):
    result = run_search(_request(strategy), tmp_path)
    top = json.loads((tmp_path / "top.json").read_text())
    assert top["strategy"] == strategy and top["top"]
    for item in top["top"]:
        assert architectures.validate(item["arch"]) == T
    if STRATEGIES[strategy].kind == "multi-trial":
        metrics = [item["metric"] for item in top["top"]]
        assert metrics == sorted(metrics, reverse=True)  # best (highest -NMSE) first
        assert all(len(item["intermediates"]) == T for item in top["top"])
    if STRATEGIES[strategy].kind != "one-shot":
        # the anytime record: every scored architecture, in finishing order, its best the top metric
        history = top["history"]
        assert len(history) == result["budget"] if STRATEGIES[strategy].kind == "multi-trial" else len(history) == 200
        seconds = [event["seconds"] for event in history]
        assert seconds == sorted(seconds) and seconds[-1] <= top["search_seconds"]
        assert max(event["metric"] for event in history) == top["top"][0]["metric"]
    else:
        assert top["history"] == []
    # the exported best architecture was retrained from scratch, like LISTA, and scored on the test set
    for name in ("searched", "lista"):
        metrics = json.loads((tmp_path / "retrain" / name / "metrics.json").read_text())
        assert metrics["steps"] == 20 and len(metrics["nmse_db_per_layer"]) == T
    assert result["retrained"]["searched"]["settings"]["arch"] == top["top"][0]["arch"]
    assert architectures.load_arch(tmp_path / "best_arch.json") == top["top"][0]["arch"]


def test_grid_search_enumerates_a_small_space(tmp_path):
    result = run_search(_request("grid", space="connectivity", budget=8, top_k=8), tmp_path)
    seen = {json.dumps(item["arch"], sort_keys=True) for item in result["top"]}
    assert len(seen) == 8  # 3 skip edges in 4 layers: all 2^3 architectures, each once


@pytest.mark.parametrize("strategy", ["evolution", "random-one-shot", "darts"])
def test_constrained_search_returns_only_architectures_within_the_limit(strategy, tmp_path):
    problem = problems.resolve_problem(_spec())
    lista_params = sum(p.numel() for p in spaces.build(architectures.named_architecture("lista", T), M, N).parameters())
    limit = lista_params + 1  # at most one skip gain on top of LISTA's parameters (some neurons have none)
    result = run_search(_request(strategy, max_params=limit), tmp_path)
    for item in result["top"]:
        model = spaces.build(item["arch"], M, N, problem.A)
        assert sum(p.numel() for p in model.parameters()) <= limit


def test_search_from_a_config_file_with_overrides(tmp_path, capsys):
    code = main(
        [
            "search",
            "--config",
            str(REPO / "strategies" / "evolution.search.yml"),
            *TINY,
            "--budget",
            "3",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    top = json.loads((tmp_path / "top.json").read_text())
    assert top["strategy"] == "evolution" and top["budget"] == 3 and top["space"] == "full" and top["layers"] == T
    assert "| searched |" in out and "| lista |" in out.replace("   ", " ").replace("  ", " ")


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "strategies").glob("*.search.yml")))
def test_every_strategy_config_names_a_registered_strategy(name):
    import yaml

    config = yaml.safe_load((REPO / "strategies" / name).read_text())
    assert config["strategy"] == name.split(".")[0] and config["strategy"] in STRATEGIES
    from nni_lista.cli.parser import _config_argv, build_parser

    argv = _config_argv(build_parser(), REPO / "strategies" / name)  # every key is a field name the command takes
    assert "--strategy" in argv and "--max-steps" in argv


def test_a_config_with_an_unknown_key_is_refused(tmp_path, capsys):
    (tmp_path / "c.yml").write_text("strategy: random\nbudgets: 3\n")
    code = main(["search", "--config", str(tmp_path / "c.yml"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown key 'budgets'" in err and err.count("\n") == 1


def test_retrain_an_architecture_file(tmp_path, capsys):
    assert main(["arch", "--name", "dense", "--layers", str(T), "--out", str(tmp_path / "dense.json")]) == 0
    code = main(
        [
            "retrain",
            "--arch",
            str(tmp_path / "dense.json"),
            *PROBLEM,
            *TRAIN,
            "--protocol",
            "e2e",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 0
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    for key in ("model", "settings", "protocol", "steps", "seconds", "nmse_db_per_layer", "nmse_db"):
        assert key in metrics
    assert metrics["settings"]["arch"] == architectures.named_architecture("dense", T)


def test_retrain_refuses_a_bad_architecture_file(tmp_path, capsys):
    arch = architectures.named_architecture("lista", T)
    arch["layer2/neuron"] = "sigmoid"
    (tmp_path / "bad.json").write_text(json.dumps(arch))
    code = main(["retrain", "--arch", str(tmp_path / "bad.json"), *PROBLEM, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "layer2/neuron='sigmoid' is not allowed" in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_enas_shim_is_still_needed(tmp_path):
    """NNI's own ENAS still fails on this Lightning (compat shim 2); ours runs (above)."""
    import nni.nas.strategy as nas_strategy
    from nni.nas.experiment import NasExperiment, NasExperimentConfig

    space = spaces.LISTASpace.from_preset("paper", M, N, T)
    evaluator = evaluators.one_shot_evaluator(_spec(), steps=4, batch=8)
    config = NasExperimentConfig("sequential", "raw")
    config.experiment_working_directory = str(tmp_path)
    experiment = NasExperiment(space, evaluator, nas_strategy.ENAS(), config)
    try:
        with pytest.raises(ValueError, match="too many values to unpack"):
            experiment.run()
    finally:
        experiment.stop()
    assert issubclass(compat.ENAS, nas_strategy.ENAS)


def test_stagewise_searches_reuse_prefixes_and_find_the_same_numbers(tmp_path, monkeypatch):
    from nni_lista.train.prefixes import PrefixCache

    restored = []
    original = PrefixCache.restore
    monkeypatch.setattr(
        PrefixCache,
        "restore",
        lambda self, model, entry: (restored.append(len(entry["history"]) // 3), original(self, model, entry)),
    )
    stagewise = TrainConfig(protocol="stagewise", max_steps=120, batch=16, eval_every=5, patience=1000)
    runs = {}
    for reuse in (True, False):
        result = run_search(
            _request("random", space="connectivity", training=stagewise, reuse_prefixes=reuse, top_k=4),
            tmp_path / str(reuse),
        )
        runs[reuse] = sorted(
            (json.dumps(item["arch"], sort_keys=True), item["metric"], item["intermediates"]) for item in result["top"]
        )
    assert runs[True] == runs[False]  # exactly the same numbers, architecture by architecture
    # layers 1-2 have no choice in this space: every architecture after the first starts at layer 3 or later
    assert len(restored) >= 3 and min(restored) >= 2
    assert not (tmp_path / "False" / "prefix-cache").exists()


def test_progress_lines_count_the_architectures_and_estimate_the_rest():
    from nni_lista.search.chronicle import progress_line

    events = [{"seconds": 10.0, "metric": 20.0}, {"seconds": 20.0, "metric": None}, {"seconds": 30.0, "metric": 25.5}]
    assert (
        progress_line(events[:1], 4)
        == "architecture 1 of 4: validation NMSE -20.00 dB (best so far -20.00 dB); 10 s, about 30 s left"
    )
    assert progress_line(events[:2], 4) == "architecture 2 of 4: failed (best so far -20.00 dB); 20 s, about 20 s left"
    assert progress_line(events, 3) == "architecture 3 of 3: validation NMSE -25.50 dB (best so far -25.50 dB); 30 s"


def test_a_rejected_architecture_is_reported_with_the_limit_that_rejected_it():
    """The Filter of a multi-trial search says which limit refused a proposal, and counts them."""
    from nni_lista.search.explore import Limits

    space = spaces.LISTASpace.from_preset("full", M, N, T)
    lista, dense = architectures.named_architecture("lista", T), architectures.named_architecture("dense", T)
    unlimited = Limits(space, M, None, None)
    assert not unlimited and unlimited.over(dense) == []
    params = lambda arch: sum(p.numel() for p in spaces.build(arch, M, N).parameters())  # noqa: E731
    assert params(lista) < params(dense)
    limits = Limits(space, M, None, params(lista))
    said = []
    assert limits.admits(lista, said.append) and said == []
    assert not limits.admits(dense, said.append)
    assert limits.rejected == 1 and len(said) == 1
    assert (
        said[0].startswith("rejected a proposed architecture before training it: ")
        and f"parameters > {params(lista):.4g}" in said[0]
    )
    for _ in range(6):
        limits.admits(dense, said.append)
    assert limits.rejected == 7 and len(said) == 5 and "later ones are counted, not shown" in said[-1]


def test_nni_info_lines_are_held_back_unless_verbose(tmp_path):
    """NNI's experiment chatter would bury the tables: shown only with --verbose (anywhere on the line)."""
    import os
    import subprocess
    import sys

    argv = [
        "search",
        "--strategy",
        "random",
        "--space",
        "paper",
        *TINY,
        "--budget",
        "2",
        "--retrain-seeds",
        "1",
        "--protocol",
        "e2e",
    ]
    outs = {}
    for verbose in (False, True):
        extra = ["--verbose"] if verbose else []
        run = subprocess.run(
            [sys.executable, "-m", "nni_lista", *argv, "--out", str(tmp_path / str(verbose)), *extra],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert run.returncode == 0, run.stderr[-2000:]
        outs[verbose] = run.stdout + run.stderr
    assert "Experiment initialized successfully" not in outs[False]
    assert "Experiment initialized successfully" in outs[True]


@pytest.mark.parametrize("strategy", ["darts", "random-one-shot", "gumbel-darts"])
def test_a_one_shot_search_gives_the_same_architecture_twice(strategy, tmp_path):
    """The same command, the same answer: DARTS's alphas and Gumbel noise come from torch's global
    generator, RandomOneShot's paths from fresh OS-seeded numpy states (compat shim 4)."""
    request = SearchRequest(
        strategy=strategy,
        problem=_spec(),
        layers=3,
        space="full",
        budget=20,
        training=TrainConfig(protocol="e2e", max_steps=20, batch=16, eval_every=10),
        retrain_seeds=1,
    )
    first = run_search(request, tmp_path / "a")["top"][0]["arch"]
    second = run_search(request, tmp_path / "b")["top"][0]["arch"]
    assert first == second
