import pytest
import torch

from nni_lista.models import family

from nni_lista.train import training
from nni_lista.base.errors import TrainingDiverged, UsageError
from nni_lista.train.evaluation import evaluate, layer_nmse_db

T = 4


def _config(protocol, **kw):
    base = dict(protocol=protocol, max_steps=120, batch=16, eval_every=10, patience=1000, seed=1)
    base.update(kw)
    return training.TrainConfig(**base)


def _train(problem, protocol, out=None, name="lista", **kw):
    model = family.build(name, problem.A, T)
    result = training.train(model, problem, _config(protocol, **kw), out, progress=False)
    return model, result


@pytest.mark.parametrize("protocol", ["stagewise", "e2e"])
def test_training_improves_on_the_ista_initialisation(small_problem, protocol):
    before = evaluate(family.build("lista", small_problem.A, T), small_problem)["nmse_db"]
    model, result = _train(small_problem, protocol, max_steps=1200, eval_every=50)
    after = evaluate(model, small_problem)["nmse_db"]
    assert after < before - 1.0
    assert 0 < result.steps <= 1200


@pytest.mark.parametrize("protocol", ["stagewise", "e2e"])
def test_same_seed_same_numbers(small_problem, protocol):
    a, _ = _train(small_problem, protocol)
    b, _ = _train(small_problem, protocol)
    c, _ = _train(small_problem, protocol, seed=2)
    ea, eb, ec = (evaluate(m, small_problem)["nmse_db_per_layer"] for m in (a, b, c))
    assert ea == eb
    assert ea != ec


def test_stagewise_schedule_and_layer_checkpoints(small_problem, tmp_path):
    _, result = _train(small_problem, "stagewise", out=tmp_path)
    assert [(h["layer"], h["stage"]) for h in result.history] == [(k, s) for k in range(1, T + 1) for s in (1, 2, 3)]
    assert sorted(p.name for p in (tmp_path / "layers").iterdir()) == [f"layer{k:02d}.pt" for k in range(1, T + 1)]
    assert (tmp_path / "checkpoint.pt").exists()


def test_patience_ends_a_stage_early(small_problem):
    # lr 0 on every stage: nothing improves, so each stage stops after `patience` steps
    _, result = _train(small_problem, "stagewise", max_steps=600, eval_every=5, patience=10, stage_lrs=(0.0, 0.0, 0.0))
    assert all(h["steps"] == 10 for h in result.history)


def test_plateau_rule_stops_when_the_best_improves_too_little(small_problem):
    # any gain below 100 dB counts as a plateau: the first validation a full window after
    # another one stops the run (validations at 10, 20, 30: at 30 the window reaches back to 10)
    _, stopped = _train(small_problem, "e2e", max_steps=120, plateau_db=100.0, plateau_steps=20)
    assert stopped.steps == 30
    # a gain can never be below 0 dB: the rule never fires and the cap holds
    _, capped = _train(small_problem, "e2e", max_steps=120, plateau_db=0.0, plateau_steps=20)
    assert capped.steps == 120
    # the rule is computed from the recorded validations: the gain at the stop is below the threshold
    values = {h["step"]: h["val_nmse_db"] for h in capped.history}
    gain_at_30 = values[10] - min(values[s] for s in (10, 20, 30))
    _, rule = _train(small_problem, "e2e", max_steps=120, plateau_db=gain_at_30 + 1e-9, plateau_steps=20)
    assert rule.steps == 30


def test_plateau_rule_resumes_to_the_same_stop(small_problem, tmp_path, monkeypatch):
    _, reference = _train(small_problem, "e2e", max_steps=400, eval_every=20, plateau_db=0.5, plateau_steps=100)
    assert 100 < reference.steps < 400  # the rule fired (otherwise this test shows nothing)
    with monkeypatch.context() as patch:
        _interrupt_after(small_problem, patch, reference.steps - 30)
        with pytest.raises(_Interrupt):
            _train(small_problem, "e2e", out=tmp_path, max_steps=400, eval_every=20, plateau_db=0.5, plateau_steps=100)
    _, resumed = _train(
        small_problem, "e2e", out=tmp_path, max_steps=400, eval_every=20, plateau_db=0.5, plateau_steps=100
    )
    assert resumed.resumed and resumed.steps == reference.steps


def test_plateau_drops_divide_the_rate_then_stop(small_problem, tmp_path):
    # with a gain of 100 dB every full window is a plateau: validations at 10, 20, 30 -> drop at 30; the
    # next window starts there, so 50 -> drop; 70 -> stop. The rate is lr, then lr / 10, then lr / 100
    _, result = _train(
        small_problem, "e2e", out=tmp_path, max_steps=400, lr=1e-3, plateau_db=100.0, plateau_steps=20, plateau_drops=2
    )
    assert result.steps == 70
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["dropped"] == [30, 50]
    # without drops the same rule stops at the first plateau
    _, stopped = _train(small_problem, "e2e", max_steps=400, lr=1e-3, plateau_db=100.0, plateau_steps=20)
    assert stopped.steps == 30


def test_a_drop_goes_on_from_the_best_weights(small_problem, monkeypatch):
    loaded = []
    original = torch.nn.Module.load_state_dict

    def spy(self, state, *args, **kwargs):
        loaded.append({k: v.clone() for k, v in state.items()})
        return original(self, state, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "load_state_dict", spy)
    _, result = _train(
        small_problem, "e2e", max_steps=400, lr=5e-2, plateau_db=100.0, plateau_steps=20, plateau_drops=1
    )
    assert result.steps == 50 and len(loaded) == 2  # the drop at 30 and the end both load the best weights
    monkeypatch.undo()
    at_drop = family.build("lista", small_problem.A, T)
    at_drop.load_state_dict(loaded[0])
    start = layer_nmse_db(
        family.build("lista", small_problem.A, T), small_problem, small_problem.val, T - 1
    )  # a candidate too
    best_before = min([start] + [h["val_nmse_db"] for h in result.history if h["step"] <= 30])
    assert layer_nmse_db(at_drop, small_problem, small_problem.val, T - 1) == pytest.approx(best_before, abs=1e-9)


def test_a_start_that_stays_the_best_is_a_plateau(small_problem):
    # at lr 0.5 every step makes LISTA worse than its ISTA start: the start is the best, and the rule must
    # see it (it once compared later validations only, so a warm-started run never plateaued)
    _, result = _train(small_problem, "e2e", max_steps=400, lr=0.5, plateau_db=0.1, plateau_steps=20)
    start = layer_nmse_db(family.build("lista", small_problem.A, T), small_problem, small_problem.val, T - 1)
    assert all(h["val_nmse_db"] > start for h in result.history)  # the premise: nothing beat the start
    assert result.steps == 30  # the first validation a full window after another one (10), with the start among them


def test_the_rate_after_each_drop_is_a_tenth(small_problem):
    config = _config("e2e", lr=1e-3, plateau_db=100.0, plateau_steps=20, plateau_drops=2)
    model = family.build("lista", small_problem.A, T)
    plateau = training.Plateau([], 100.0, 20, drops=2)
    optimizer, scheduler = training.e2e_optimizer(model, config, plateau)
    rates = []
    for dropped in ([], [30], [30, 50]):
        plateau.dropped = dropped
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([1e-3, 1e-4, 1e-5])


def test_plateau_drops_resume_to_the_same_run(small_problem, tmp_path, monkeypatch):
    kw = dict(max_steps=600, eval_every=20, lr=2e-3, plateau_db=0.5, plateau_steps=60, plateau_drops=2)
    reference, full = _train(small_problem, "e2e", out=tmp_path / "whole", **kw)
    dropped = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)["dropped"]
    assert len(dropped) >= 1  # a drop happened before the interruption point below (otherwise this shows nothing)
    with monkeypatch.context() as patch:
        _interrupt_after(small_problem, patch, dropped[0] + 25)
        with pytest.raises(_Interrupt):
            _train(small_problem, "e2e", out=tmp_path / "broken", **kw)
    resumed, result = _train(small_problem, "e2e", out=tmp_path / "broken", **kw)
    assert result.resumed and result.steps == full.steps
    assert torch.load(tmp_path / "broken" / "checkpoint.pt", weights_only=True)["dropped"] == dropped
    assert (
        evaluate(resumed, small_problem)["nmse_db_per_layer"] == evaluate(reference, small_problem)["nmse_db_per_layer"]
    )


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(plateau_drops=1), "without plateau_db"),
        (dict(plateau_drops=-1, plateau_db=0.1), "plateau_drops -1 is not allowed"),
        (dict(plateau_drops=True, plateau_db=0.1), "plateau_drops True is not allowed"),
    ],
)
def test_bad_plateau_drops_are_one_line(kw, words):
    with pytest.raises(UsageError, match=words):
        _config("e2e", **kw)


def test_a_config_without_the_plateau_rule_keeps_its_recorded_identity():
    assert "plateau_db" not in _config("e2e").to_dict()
    assert _config("e2e", plateau_db=0.1).to_dict()["plateau_steps"] == 1000


class _Interrupt(Exception):
    pass


def _interrupt_after(problem, monkeypatch, calls):
    original = type(problem).train_batch
    count = {"n": 0}

    def flaky(self, batch, generator):
        count["n"] += 1
        if count["n"] > calls:
            raise _Interrupt()
        return original(self, batch, generator)

    monkeypatch.setattr(type(problem), "train_batch", flaky)


@pytest.mark.parametrize("protocol, calls", [("stagewise", 55), ("e2e", 75)])
def test_resume_after_interruption_gives_the_uninterrupted_result(
    small_problem, tmp_path, monkeypatch, protocol, calls
):
    reference, full = _train(small_problem, protocol)
    with monkeypatch.context() as patch:
        _interrupt_after(small_problem, patch, calls)
        with pytest.raises(_Interrupt):
            _train(small_problem, protocol, out=tmp_path)
    assert (tmp_path / "checkpoint.pt").exists()
    resumed, result = _train(small_problem, protocol, out=tmp_path)
    assert result.resumed and result.steps == full.steps
    assert (
        evaluate(resumed, small_problem)["nmse_db_per_layer"] == evaluate(reference, small_problem)["nmse_db_per_layer"]
    )


def test_a_checkpoint_of_another_run_is_refused(small_problem, tmp_path):
    _train(small_problem, "e2e", out=tmp_path, max_steps=20)
    with pytest.raises(UsageError, match="different run"):
        _train(small_problem, "e2e", out=tmp_path, max_steps=30)


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(small_problem, tmp_path, monkeypatch):
    original = type(small_problem).train_batch
    count = {"n": 0}

    def poisoned(self, batch, generator):
        count["n"] += 1
        out = original(self, batch, generator)
        if count["n"] > 50:  # after layer 1's three stages (10 steps each) and into layer 2
            out.b[0, 0] = float("nan")
        return out

    monkeypatch.setattr(type(small_problem), "train_batch", poisoned)
    with pytest.raises(TrainingDiverged, match=r"nan at layer 2/4 stage 3/3, step 1.*checkpoint.pt"):
        _train(small_problem, "stagewise", out=tmp_path, max_steps=120)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["stages_done"] == 5
    assert all(torch.isfinite(v).all() for v in state["model"].values())


@pytest.mark.parametrize(
    "kw, fragment",
    [(dict(protocol="fast"), "protocol 'fast'"), (dict(max_steps=0), "max-steps 0"), (dict(batch=-2), "batch -2")],
)
def test_bad_training_config(kw, fragment):
    with pytest.raises(UsageError, match=fragment):
        training.TrainConfig(**kw)


def test_compiled_training_gives_the_same_numbers_and_the_same_run(small_problem, tmp_path, monkeypatch):
    """``compile=True`` runs the end-to-end loss through torch.compile: the same numbers to float
    rounding, and the same run (not part of the identity that checkpoints' fingerprints and
    recorded settings compare); the
    compiled code is kept in the project's cache directory, not under /tmp."""
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    eager, r_eager = _train(small_problem, "e2e", max_steps=40)
    compiled, r_compiled = _train(small_problem, "e2e", max_steps=40, compile=True)
    assert r_compiled.steps == r_eager.steps
    for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5, msg=name)
    assert evaluate(compiled, small_problem)["nmse_db"] == pytest.approx(
        evaluate(eager, small_problem)["nmse_db"], abs=1e-3
    )
    cache = tmp_path / ".cache" / "nni-lista" / "torchinductor"
    assert cache.is_dir() and any(cache.rglob("*"))
    config = _config("e2e", compile=True)
    assert "compile" not in config.identity() and config.to_dict()["compile"] is True
    assert training.TrainConfig.from_dict(config.to_dict()) == config
    assert "compile" not in _config("e2e").to_dict()  # runs recorded before the option existed still match
    with pytest.raises(UsageError, match="compile is not allowed with protocol 'stagewise'"):
        _config("stagewise", compile=True)


def test_parameter_kinds_cover_every_parameter_of_the_family_and_the_space(small_problem):
    from nni_lista.space import architectures, spaces

    expected = {"lista": {"matrix", "threshold"}, "lista-cp": {"matrix", "threshold"}, "alista": {"step", "threshold"}}
    for name, kinds in expected.items():
        groups = training.parameter_groups(family.build(name, small_problem.A, T), 1e-3, {})
        assert {g["kind"] for g in groups} == kinds
    dense = spaces.build(
        architectures.named_architecture("dense", T), small_problem.m, small_problem.n, small_problem.A
    )
    groups = training.parameter_groups(dense, 1e-3, {"gain": 10.0})
    assert {g["kind"]: g["lr"] for g in groups} == {"matrix": 1e-3, "threshold": 1e-3, "gain": pytest.approx(1e-2)}
    assert sum(len(g["params"]) for g in groups) == len(list(dense.parameters()))


def test_the_default_recipe_keeps_one_parameter_group_so_older_checkpoints_resume(small_problem):
    # checkpoints written before per-kind rates existed hold one Adam group of all parameters in
    # order; the default recipe must build that same layout or their optimizer state cannot load
    model = family.build("lista-cpss", small_problem.A, T)
    optimizer, _ = training.e2e_optimizer(model, _config("e2e"))
    assert len(optimizer.param_groups) == 1
    assert [id(p) for p in optimizer.param_groups[0]["params"]] == [id(p) for p in model.parameters()]
    old_style = torch.optim.Adam(model.parameters(), lr=1e-3)
    optimizer.load_state_dict(old_style.state_dict())
    # per-kind groups at factor 1 train to the same numbers as the one group
    one, _ = _train(small_problem, "e2e", name="lista-cpss", max_steps=40)
    kinds, _ = _train(small_problem, "e2e", name="lista-cpss", max_steps=40, lr_scale={"matrix": 1.0})
    for p, q in zip(one.parameters(), kinds.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_lr_scale_sets_each_kinds_rate_and_warmup_ramps_the_schedule(small_problem):
    before = family.build("lista", small_problem.A, T)
    frozen, _ = _train(small_problem, "e2e", max_steps=30, lr=1e-2, lr_scale={"matrix": 1e-9})
    moved, _ = _train(small_problem, "e2e", max_steps=30, lr=1e-2)
    gap = lambda model: max(float((p - q).abs().max()) for p, q in zip(model.W, before.W))  # noqa: E731
    assert gap(frozen) < 1e-6 < 1e-3 < gap(moved)  # matrices held still at a 1e-9 factor, not without it
    assert any(abs(float(p - q)) > 1e-4 for p, q in zip(frozen.theta, before.theta))  # thresholds still learned
    factor = training.with_warmup(training.cosine_decay(100), 10)
    assert factor(0) == pytest.approx(0.1) and factor(4) == pytest.approx(0.5 * training.cosine_decay(100)(4))
    assert factor(20) == training.cosine_decay(100)(20)
    config = _config("e2e", lr_scale={"threshold": 10.0}, warmup_steps=50)
    assert config.identity()["lr_scale"] == {"threshold": 10.0} and config.identity()["warmup_steps"] == 50
    assert training.TrainConfig.from_dict(config.to_dict()) == config
    assert "lr_scale" not in _config("e2e").to_dict() and "warmup_steps" not in _config("e2e").to_dict()
    with pytest.raises(UsageError, match="lr-scale .* is not allowed: map parameter kinds"):
        _config("e2e", lr_scale={"thresholds": 2.0})
    with pytest.raises(UsageError, match="not allowed with protocol 'stagewise'"):
        _config("stagewise", warmup_steps=10)


def test_the_gradient_is_clipped_to_its_norm_before_each_step(small_problem, monkeypatch):
    seen = []
    original = torch.optim.Adam.step

    def step(self, *args, **kwargs):  # the global gradient norm Adam is handed
        seen.append(
            float(
                torch.linalg.vector_norm(
                    torch.stack([p.grad.norm() for g in self.param_groups for p in g["params"] if p.grad is not None])
                )
            )
        )
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    _train(small_problem, "e2e", max_steps=20, clip_norm=1e-3)
    assert len(seen) == 20 and max(seen) <= 1e-3 * (1 + 1e-4)
    seen.clear()
    _train(small_problem, "e2e", max_steps=20)
    assert max(seen) > 1e-2  # without clipping the same run's gradients are far larger
    with pytest.raises(UsageError, match="clip_norm"):
        _config("e2e", clip_norm=0.0)


def _start(problem, **kw) -> dict:
    model = family.build("lista", problem.A, T)
    training.perturb_start(model, _config("e2e", **kw))
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_init_noise_makes_training_seeds_start_apart(small_problem):
    ista = _start(small_problem)
    assert all(torch.equal(ista[k], v) for k, v in _start(small_problem, seed=2).items())  # no noise: one start
    a, again, b = (_start(small_problem, seed=s, init_noise=0.05) for s in (1, 1, 2))
    assert all(torch.equal(a[k], again[k]) for k in a)  # the same seed, the same start
    assert all(not torch.equal(a[k], b[k]) for k in a if ista[k].abs().sum() > 0)  # another seed, another start
    ratios = torch.cat([(a[k] / ista[k] - 1).flatten() for k in a if (ista[k] != 0).all()])
    assert 0.03 < float(ratios.std()) < 0.07  # relative noise of about init_noise


def test_init_noise_is_part_of_a_run_and_resumes_to_the_same_numbers(small_problem, tmp_path, monkeypatch):
    quiet, _ = _train(small_problem, "e2e", seed=1)
    noisy, _ = _train(small_problem, "e2e", seed=1, init_noise=0.05)
    assert evaluate(noisy, small_problem)["nmse_db"] != evaluate(quiet, small_problem)["nmse_db"]
    assert "init_noise" not in _config("e2e").to_dict() and _config("e2e", init_noise=0.05).to_dict()["init_noise"]
    with monkeypatch.context() as patch:
        _interrupt_after(small_problem, patch, 75)
        with pytest.raises(_Interrupt):
            _train(small_problem, "e2e", out=tmp_path, seed=1, init_noise=0.05)
    resumed, result = _train(small_problem, "e2e", out=tmp_path, seed=1, init_noise=0.05)
    assert result.resumed
    assert evaluate(resumed, small_problem)["nmse_db_per_layer"] == evaluate(noisy, small_problem)["nmse_db_per_layer"]


@pytest.mark.parametrize("value", [-0.1, 2.0, float("nan"), "big"])
def test_bad_init_noise_is_one_line(value):
    with pytest.raises(UsageError, match=r"init_noise .* is not allowed: it must be a number in \[0, 1\]"):
        training.TrainConfig(init_noise=value)


def test_the_family_the_space_and_dladmm_are_unrolled_networks_and_nothing_else_trains(small_problem):
    from nni_lista.models.unrolled import Unrolled
    from nni_lista.space import ladmm
    from nni_lista.space.architectures import named_architecture
    from nni_lista.space.spaces import build

    A = small_problem.A
    m, n = A.shape
    networks = [family.build(name, A, T) for name in family.MODELS]
    networks += [build(named_architecture("dense", T), m, n, A)]
    networks += [ladmm.DLADMMSpace(m, n, T).initialise(A)]  # plain D-LADMM: nothing to choose
    assert all(isinstance(network, Unrolled) for network in networks)
    with pytest.raises(UsageError, match="a Linear is not an unrolled network"):
        training.train(torch.nn.Linear(2, 2), small_problem, _config("e2e"), progress=False)
