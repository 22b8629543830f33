"""The training recipe: the learning rate chosen on validation from one grid, the convergence
rule, the replicates at the chosen rate, and a rerun that resumes instead of retraining."""

import json

import pytest

from nni_lista.base.errors import UsageError
from nni_lista.problem.problems import SyntheticSettings, make_synthetic
from nni_lista.space.architectures import named_architecture
from nni_lista.train.recipe import Recipe, choose_lr, replicates

PROBLEM = make_synthetic(SyntheticSettings(m=20, n=40, seed=3, n_val=200, n_test=200))


def test_the_rate_with_the_best_validation_is_chosen(tmp_path):
    recipe = Recipe(lrs=(1e-5, 5e-3), max_steps=120, eval_every=30)
    lr, runs = choose_lr(named_architecture("alista", 3), PROBLEM, recipe, seed=0, out=tmp_path)
    assert set(runs) == {1e-5, 5e-3}
    assert (
        lr == min(runs, key=lambda rate: runs[rate]["val_nmse_db"]) == 5e-3
    )  # a rate of 1e-5 barely moves in 120 steps
    assert runs[5e-3]["val_nmse_db"] < runs[1e-5]["val_nmse_db"]
    assert (tmp_path / "lr0.005-seed0" / "metrics.json").is_file() and (
        tmp_path / "lr1e-05-seed0" / "metrics.json"
    ).is_file()


def test_the_convergence_rule_stops_a_run_that_no_longer_improves():
    # at lr 1e-5 the best validation moves by far less than 0.1 dB per 60 steps: the rule ends it early
    recipe = Recipe(lrs=(1e-5,), max_steps=600, eval_every=30, plateau_db=0.1, plateau_steps=60)
    _, runs = choose_lr(named_architecture("alista", 3), PROBLEM, recipe)
    assert runs[1e-5]["steps"] < 600


def test_replicates_train_every_seed_at_the_chosen_rate_and_a_rerun_resumes(tmp_path):
    recipe = Recipe(lrs=(1e-5, 5e-3), max_steps=90, eval_every=30)
    arch = named_architecture("alista-at", 3)
    found = replicates(arch, PROBLEM, recipe, [0, 1], tmp_path)
    assert found["lr"] == 5e-3 and set(found["grid"]) == {"1e-05", "0.005"}
    assert [run["settings"]["train_seed"] for run in found["runs"]] == [0, 1]
    assert all(run["settings"]["lr"] == 5e-3 for run in found["runs"])
    assert found["runs"][0]["nmse_db"] != found["runs"][1]["nmse_db"]  # the seeds draw other batches
    before = json.loads((tmp_path / "lr0.005-seed1" / "metrics.json").read_text())
    again = replicates(arch, PROBLEM, recipe, [0, 1], tmp_path)
    assert [run["nmse_db"] for run in again["runs"]] == [run["nmse_db"] for run in found["runs"]]
    assert (
        again["runs"][1]["steps"] == before["steps"] and again["runs"][1]["seconds"] == before["seconds"]
    )  # not retrained


def test_a_recorded_run_stands_without_its_checkpoint(tmp_path):
    recipe = Recipe(lrs=(5e-3,), max_steps=60, eval_every=30)
    arch = named_architecture("alista", 3)
    first = replicates(arch, PROBLEM, recipe, [0], tmp_path)["runs"][0]
    (tmp_path / "lr0.005-seed0" / "checkpoint.pt").unlink()  # results committed without their checkpoints
    again = replicates(arch, PROBLEM, recipe, [0], tmp_path)["runs"][0]
    assert again == first and not (tmp_path / "lr0.005-seed0" / "checkpoint.pt").exists()  # read, not retrained
    with pytest.raises(UsageError, match="other settings"):  # another recipe is another run: not taken for this one
        replicates(arch, PROBLEM, Recipe(lrs=(5e-3,), max_steps=90, eval_every=30), [0], tmp_path)
