"""The study pipeline on a tiny config: it runs, resumes after an interruption with the same
numbers, and writes every artefact; bad configs end with one line and exit code 2."""

from __future__ import annotations

import json
import math
import os

import pytest
import yaml

from nni_lista import cli
from nni_lista.study.config import StudyConfig
from nni_lista.study.plan import Study

TINY = {
    "problem": {"m": 16, "n": 32},
    "layers": 4,
    "settings": {"noiseless": {}, "images": {"kind": "image-cs", "patch": 4, "atoms": 20, "m": 8}},
    "baselines": ["ista", "lista", "lista-cpss"],
    "search": {
        "strategy": "random",
        "space": "paper",
        "budget": 3,
        "top_k": 2,
        "training": {"max_steps": 20, "eval_every": 10},
    },
    # the plateau rule at its loosest: every retraining stops at its second validation (step 30)
    "retrain": {"max_steps": 60, "eval_every": 15, "plateau_db": 100.0, "plateau_steps": 15},
    "training_seeds": [0, 1],
    # claim 3 from cold searches, with the null of their own dynamics and its power (3 and 2 pairs)
    "consistency": {
        "seeds": [1],
        "strategies": ["evolution"],
        "null_draws": 50,
        "cold": True,
        "null_pairs": 3,
        "power_pairs": 2,
        "effects": [1.0],
    },
    "distributions": {"samples": 2, "spaces": ["lista", "paper"], "training": {"max_steps": 20, "eval_every": 20}},
    "dladmm": {"budget": 2, "random_grafts": 1},
    "neurons": {"setting": "noiseless"},
}
DLADMM = ["plain", "lista-pattern", "random-graft1", "searched"]

ARTEFACTS = [
    "study.json",
    "claims.md",
    "table.md",
    "table.png",
    "averaged-architecture.png",
    "neuron-frequency.png",
    "consistency.png",
    "consistency-patterns.png",
    "error-distributions.png",
    "curves-noiseless.png",
    "curves-images.png",
    "config.yml",
]


class Interrupt(Exception):
    pass


def _numbers(summary: dict) -> dict:
    return {
        setting: {model: row["nmse_db"] for model, row in rows.items()} for setting, rows in summary["results"].items()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The tiny study run once through the command line."""
    root = tmp_path_factory.mktemp("study")
    config = root / "tiny.yml"
    config.write_text(yaml.safe_dump(TINY, sort_keys=False))
    out = root / "run"
    assert cli.main(["study", "--config", str(config), "--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    return config, out, json.loads((out / "study.json").read_text())


def test_study_writes_every_artefact(finished):
    config, out, summary = finished
    for name in ARTEFACTS:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    results = summary["results"]
    for setting in TINY["settings"]:
        for model in [*TINY["baselines"], "searched", "searched mean"]:
            assert math.isfinite(results[setting][model]["nmse_db"]), (setting, model)
        assert len(results[setting]["searched"]["nmse_db_per_layer"]) == TINY["layers"]
    for which in DLADMM:
        assert math.isfinite(results["noiseless"][f"d-ladmm {which}"]["nmse_db"])
    assert "psnr_db" in results["images"]["lista"] and "psnr_db" not in results["noiseless"]["lista"]
    table = (out / "table.md").read_text()
    assert "d-ladmm lista-pattern" in table and "PSNR dB" in table and " +- " in table
    # both NMSE definitions, named: the ratio of sums and the mean of per-sample dB
    lista = results["noiseless"]["lista"]
    assert "mean over test samples of each sample's dB" in table and f"{lista['nmse_db_sample_mean']:.2f}" in table
    assert lista["nmse_db_sample_mean"] != lista["nmse_db"]


def _unit(out, key):
    return json.loads((out / "units" / f"{key}.json").read_text())["result"]


def test_every_learned_model_has_one_run_per_training_seed_and_a_spread(finished):
    _, out, summary = finished
    lista = summary["results"]["noiseless"]["lista"]
    runs = [_unit(out, f"baseline/noiseless/lista/seed{s}") for s in (0, 1)]
    assert [r["settings"]["train_seed"] for r in runs] == [0, 1] and lista["settings"]["train_seeds"] == [0, 1]
    assert lista["nmse_db_seeds"] == [r["nmse_db"] for r in runs] and runs[0]["nmse_db"] != runs[1]["nmse_db"]
    assert lista["nmse_db"] == pytest.approx(sum(lista["nmse_db_seeds"]) / 2)
    assert lista["nmse_db_std"] == pytest.approx(abs(runs[0]["nmse_db"] - runs[1]["nmse_db"]) / math.sqrt(2))
    assert summary["results"]["noiseless"]["ista"]["nmse_db_std"] is None  # not learned: one run
    # the searched row is the retrained top-k architecture with the best mean validation NMSE, over both seeds
    ranks = [[_unit(out, f"retrain/noiseless/top{r}/seed{s}") for s in (0, 1)] for r in (1, 2)]
    best = min(ranks, key=lambda runs: sum(x["val_nmse_db"] for x in runs))
    assert summary["results"]["noiseless"]["searched"]["nmse_db_seeds"] == [x["nmse_db"] for x in best]
    # claim 1: the gain over LISTA beside the larger spread, and the rule's verdict
    claim = summary["claims"]["1_searched_beats_lista"]["noiseless"]
    searched = summary["results"]["noiseless"]["searched"]
    assert claim["gain_db"] == pytest.approx(lista["nmse_db"] - searched["nmse_db"])
    assert claim["spread_db"] == max(lista["nmse_db_std"], searched["nmse_db_std"])
    assert claim["verdict"] == (
        "win"
        if claim["gain_db"] > claim["spread_db"]
        else "loss"
        if -claim["gain_db"] > claim["spread_db"]
        else "within spread"
    )


def test_the_searches_starting_points_are_retrained_for_claim_1(finished):
    """``dense`` (the paper space's starting point that is no baseline) is retrained per setting and
    seed; where the search's best architecture is ``dense`` itself, its retraining is the record."""
    from nni_lista.space.architectures import named_architecture, with_defaults

    config, out, summary = finished
    study = Study(StudyConfig.load(config), out)
    assert study.starting_points() == ["dense"]
    for setting, rows in summary["results"].items():
        assert rows["dense"]["nmse_db_seeds"] and len(rows["dense"]["nmse_db_seeds"]) == 2
        is_dense = with_defaults(study.top_archs(setting)[0], TINY["layers"]) == named_architecture("dense", 4)
        for seed in (0, 1):
            record = study.done(study.start_key(setting, "dense", seed))
            retrained = study.done(study.retrain_key(setting, 0, seed))
            assert ("same_as" in record) == is_dense
            assert (record["nmse_db"] == retrained["nmse_db"]) or not is_dense
    claims = (out / "claims.md").read_text()
    assert "not retrained" not in claims  # claim 1 compares every searched network with its starting point


def test_claim_3_compares_cold_searches_against_their_own_dynamics(finished):
    config, out, summary = finished
    study = Study(StudyConfig.load(config), out)
    three = summary["claims"]["3_consistent_patterns"]
    assert three["cold"] and all(name.endswith("(cold)") for name in three["runs"])
    for strategy, seed in study.consistency_runs():
        assert study.done(study.search_key("noiseless", strategy, seed, cold=True))["warm_start"]["seeds"] == []
    assert study.strategy_pairs() == [("random", "random"), ("evolution", "random")]
    for pair in three["pairs"]:
        dynamics = pair["dynamics"]
        assert dynamics["null_pairs"] >= 1 and set(dynamics["power"]) == {"1"} and -1 <= dynamics["null_p95"] <= 1
    assert "search-dynamics null p95" in (out / "claims.md").read_text()


def test_settings_and_searches_are_independent(finished):
    _, _, summary = finished
    problems = summary["seeds"]["problems"]
    assert len(set(problems.values())) == len(problems)  # no two settings share an instance
    strategies = summary["seeds"]["strategies"]
    assert len(set(strategies.values())) == len(strategies)  # nor a search's draws
    consistency = summary["seeds"]["consistency_strategies"]  # nor those of the searches claim 3 compares
    assert len(consistency) == 3 and None not in consistency.values()
    assert len(set(consistency.values())) == len(consistency)


def test_the_stopping_rule_ends_every_retraining_the_same_way(finished):
    _, out, summary = finished
    for setting in TINY["settings"]:
        for model in ("lista", "lista-cpss", "searched"):
            assert summary["results"][setting][model]["steps"] == [30, 30], (setting, model)


def test_the_table_reports_how_much_each_model_still_gained_at_the_end(finished):
    _, out, summary = finished
    runs = [
        json.loads(path.read_text())["result"]
        for path in (out / "units" / "baseline" / "noiseless" / "lista").glob("seed*.json")
    ]
    assert len(runs) == 2 and all(r["val_curve"][-1][0] == 30 for r in runs)  # validations at steps 15 and 30
    gains = [min(v for s, v in r["val_curve"] if s <= 15) - min(v for _, v in r["val_curve"]) for r in runs]
    # the window (1,000 steps) is longer than these runs: no gain is claimed for them
    assert "late_gain_db" not in summary["results"]["noiseless"]["lista"]
    from nni_lista.study.summary import late_gain

    assert [late_gain(r, window=15) for r in runs] == pytest.approx(gains)
    assert late_gain({"val_curve": [[250, -10.0], [500, -12.0], [1250, -12.5], [1500, -12.25]]}) == pytest.approx(0.5)
    assert late_gain({"val_curve": [[250, -10.0]]}) is None and late_gain({"steps": 0}) is None
    from nni_lista.study.summary import steps_cell

    assert (
        steps_cell([10000, 10000]) == "10000" and steps_cell([10000, 5000]) == "10000 / 5000"
    )  # a seed the patience ended shows
    assert "Convergence" not in (out / "table.md").read_text()  # nothing to report at this length
    assert "noiseless (16x32)" in (out / "table.md").read_text()  # each setting's problem size in the header


def test_the_claims_are_tested_against_their_nulls(finished):
    _, out, summary = finished
    claims = summary["claims"]
    # claim 2: LISTA with each neuron type throughout, and the neuron frequencies of the top-k against the population
    assert len(claims["2_soft_thresholds"]["uniform"]) == 7
    enrichment = claims["2_soft_thresholds"]["enrichment"]
    assert {row["neuron"] for row in enrichment} == set(claims["2_soft_thresholds"]["uniform"])
    assert all(row["p_value"] is None or 0 < row["p_value"] <= 1 for row in enrichment)
    # claim 3: skip-only and neuron-only correlations, each with its null and p-value
    pairs = claims["3_consistent_patterns"]["pairs"]
    assert len(pairs) == 3  # random seed 0, random seed 1, evolution seed 0
    for pair in pairs:
        for part in ("skips", "neurons"):
            test = pair[part]
            assert test["n_null"] > 0 and (test["p_value"] is None or 0 < test["p_value"] <= 1)
    assert claims["3_consistent_patterns"]["edge_summary"]["edges"] == 3  # optional edges at T = 4
    # claim 4: the grafted pattern keeps the averaged skips with soft thresholds; a random graft has as many skips
    top = [item["arch"] for item in summary["searches"]["noiseless"]["top"]]
    grafted = claims["4_transfer_to_dladmm"]["lista-pattern"]["settings"]["arch"]
    random_graft = claims["4_transfer_to_dladmm"]["random-graft1"]["settings"]["arch"]
    for label, value in grafted.items():
        if "skip_from" in label:
            assert value == ("on" if 2 * sum(a[label] == "on" for a in top) >= len(top) else "off")
        else:
            assert value == "soft"
    count = lambda arch: sum(v == "on" for label, v in arch.items() if "skip_from" in label)  # noqa: E731
    assert count(random_graft) == count(grafted)
    assert set(claims["4_transfer_to_dladmm"]["versus_plain"]) == set(DLADMM) - {"plain"}
    # the verdicts, with their account
    assert set(summary["verdicts"]) == {"1", "2", "3", "4"}
    account = (out / "claims.md").read_text()
    for claim, verdict in summary["verdicts"].items():
        assert f"## {claim}. " in account and f"**{verdict}**" in account


def test_every_learned_model_improves_on_ista_on_images(finished):
    _, _, summary = finished
    checks = summary["images_better_than_ista"]["images"]
    assert set(TINY["baselines"]) - {"ista"} <= set(checks) and all(checks.values()), checks


def test_study_resumes_with_the_same_numbers(finished, tmp_path, monkeypatch):
    # the core of the plan (baselines, searches, retraining, both settings), interrupted and resumed,
    # gives the numbers of the uninterrupted full run (units do not depend on the other sections)
    _, _, summary = finished
    core = {
        key: value for key, value in TINY.items() if key not in ("consistency", "distributions", "dladmm", "neurons")
    }
    config = StudyConfig.from_dict(core)
    out = tmp_path / "run"
    calls = []
    original = Study.units

    def interrupting(self):
        units = original(self)
        for unit in units:
            if unit.key == "retrain/images/top1/seed0":
                work = unit.work

                def stop(work=work):
                    calls.append(1)
                    raise Interrupt

                unit.work = stop
        return units

    monkeypatch.setattr(Study, "units", interrupting)
    with pytest.raises(Interrupt):
        Study(config, out, "cpu", progress=False).run()
    monkeypatch.undo()
    done = sorted(p.relative_to(out) for p in (out / "units").rglob("*.json"))
    assert done and not (out / "study.json").exists()
    stamps = {p: (out / "units" / p.relative_to("units")).stat().st_mtime_ns for p in done}
    resumed = Study(config, out, "cpu", progress=False).run()
    for p, stamp in stamps.items():  # finished units are not redone
        assert (out / "units" / p.relative_to("units")).stat().st_mtime_ns == stamp
    expected = {
        setting: {model: value for model, value in rows.items() if model in resumed["results"][setting]}
        for setting, rows in _numbers(summary).items()
    }
    # the baselines, the starting point `dense`, the searched network and the searched mean
    assert _numbers(resumed) == expected and len(expected["noiseless"]) == len(TINY["baselines"]) + 3


@pytest.mark.parametrize(
    "change, message",
    [
        ({"search": {"strategy": "nope"}}, "strategy 'nope' is not allowed"),
        ({"settings": {"a": {"snr": "loud"}}}, "snr 'loud' is not allowed"),
        ({"settings": {"a": {"sparsity": 0.2}}}, "unknown key 'sparsity'"),
        ({"retrain": {"max_steps": 0}}, "max-steps 0 is not allowed"),
        ({"dladmm": {"space": "full"}}, "space 'full' is not allowed for the dladmm backbone"),
        ({"colour": "red"}, "unknown key 'colour'"),
    ],
)
def test_bad_config_is_one_line_exit_2(tmp_path, capsys, change, message):
    config = tmp_path / "bad.yml"
    config.write_text(yaml.safe_dump({**TINY, **change}, sort_keys=False))
    assert cli.main(["study", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_another_config_does_not_overwrite_a_study(finished, tmp_path, capsys):
    _, out, _ = finished
    other = tmp_path / "other.yml"
    other.write_text(yaml.safe_dump({**TINY, "layers": 5}, sort_keys=False))
    assert cli.main(["study", "--config", str(other), "--out", str(out)]) == 2
    assert "another config" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["study-quick.yml", "study-full.yml"])
def test_the_example_configs_are_valid_and_use_one_recipe(name):
    from pathlib import Path

    config = StudyConfig.load(Path(__file__).resolve().parents[1] / "examples" / name)
    config.check_memory()
    assert (
        config.training_seeds == (0, 1) and config.retrain.plateau_db is None
    )  # the fixed schedule is the stopping rule
    assert config.search_training == config.distributions.training  # the proxy of the searches and of the distributions


def test_two_processes_share_one_study_and_give_its_numbers(finished, tmp_path):
    """Two ``nni-lista study`` commands on one --out (one thread each) split the units between
    them, run each once, and give the single process's numbers."""
    import subprocess
    import sys

    config, _, summary = finished
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "nni_lista.cli",
        "study",
        "--config",
        str(config),
        "--out",
        str(out),
        "--no-progress",
        "--device",
        "cpu",
    ]
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    logs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    ran = [_units_run(log) for log in logs]
    assert ran[0] and ran[1] and not set(ran[0]) & set(ran[1])  # both worked, no unit twice
    assert len(ran[0]) + len(ran[1]) == len(list((out / "units").rglob("*.json")))
    shared = json.loads((out / "study.json").read_text())
    assert _numbers(shared) == _numbers(summary)
    assert _without_seconds(shared) == _without_seconds(summary)  # every number but the wall-clock ones
    assert not list((out / "work").rglob("*.lock"))


def _units_run(log: str) -> list[str]:
    """The units a study's stderr says it ran to the end (a unit started and found not ready is not counted)."""
    lines = log.splitlines()
    return [
        line.split("] ", 1)[1]
        for i, line in enumerate(lines)
        if line.startswith("[") and not (i + 1 < len(lines) and lines[i + 1].startswith("  not yet:"))
    ]


def _without_seconds(value):
    if isinstance(value, dict):
        return {k: _without_seconds(v) for k, v in value.items() if "seconds" not in k and k != "timing"}
    if isinstance(value, list):
        return [_without_seconds(v) for v in value]
    return value
