"""Training protocols: the stage-wise protocol of the LISTA literature and a fast end-to-end mode.

Stage-wise (Chen et al. 2018; docs/training.md). For layer t = 1..T, with the loss on
layer t's output:

1. train only layer t's new parameters (Adam, ``stage_lrs[0]`` = 5e-4);
2. train layers 1..t at ``stage_lrs[1]`` = 1e-4;
3. train layers 1..t at ``stage_lrs[2]`` = 1e-5;

where in stages 2 and 3 the parameters of layer j get their learning rate multiplied by
``decay ** (t - j)`` (0.3 per layer added after them). A stage ends when the validation NMSE
of layer t has not improved for ``patience`` iterations (checked every ``eval_every``) or
at its share of the budget, ``max_steps // (3 T)``; the best weights seen are kept.

End-to-end: every parameter at once, Adam at ``lr`` with a cosine decay to ``lr / 100`` over
``max_steps``, loss on the last layer, the same validation, patience and best-weights rule.
With ``plateau_drops`` > 0 the rate is constant instead and divided by 10 at each of the first
``plateau_drops`` plateaus of the validation NMSE (the plateau rule below; PyTorch's
``ReduceLROnPlateau`` idea), and training goes on from the best validation weights so far (the
weights at a plateau can sit several dB above the best: ALISTA's validation swings by up to
8 dB between checks at lr 2e-3); the next plateau stops the run.
Optionally each parameter kind (matrices, thresholds, step sizes, skip gains) learns at ``lr``
times its own factor (``lr_scale``), and the whole schedule is multiplied by a linear warm-up
over the first ``warmup_steps`` steps.

The loss is ``mean_batch ||D z_hat - s||^2``. Training batches are drawn fresh from
generators seeded by ``seed`` (and the stage), so a run is deterministic and resuming from a
checkpoint reproduces it. With an output directory, ``checkpoint.pt`` holds the last good
state (written atomically after every stage, or every validation in end-to-end mode) and
``layers/layerKK.pt`` the weights after layer KK's last stage. A NaN or Inf loss stops the
run with :class:`TrainingDiverged`; the last good checkpoint stays on disk.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
from tqdm.auto import tqdm

from nni_lista.base.errors import TrainingDiverged, UsageError, require, short
from nni_lista.train.evaluation import layer_estimates, layer_nmse_db
from nni_lista.problem.metrics import nmse_db_per_layer
from nni_lista.models.unrolled import Unrolled
from nni_lista.base.io import remove_orphans, torch_save
from nni_lista.base.limits import MAX_STEPS, MAX_TENSOR_FILE_BYTES, check_regular_file, is_finite_number, is_int
from nni_lista.base.device import resolve_device
from nni_lista.problem.problems import Problem, seeded_generator

# generator purposes (see problems.seeded_generator)
_STAGE_STREAM, _E2E_STREAM, _INIT_STREAM = 100, 101, 102


MAX_BATCH = 1 << 20


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained. ``max_steps`` is the whole run's budget of Adam steps."""

    protocol: str = "stagewise"
    max_steps: int = 20_000
    batch: int = 64
    eval_every: int = 1000
    patience: int = 4000
    stage_lrs: tuple[float, float, float] = (5e-4, 1e-4, 1e-5)
    decay: float = 0.3
    lr: float = 5e-4
    seed: int = 0
    target_db: Optional[float] = None  # end-to-end: stop once the validation NMSE is at or below this
    # end-to-end stopping rule: stop once the best validation NMSE improved by less than
    # plateau_db over the last plateau_steps steps (max_steps stays the cap); off when None
    plateau_db: Optional[float] = None
    plateau_steps: int = 1000
    # end-to-end: divide a constant rate by DROP_FACTOR at each of the first plateau_drops plateaus (needs
    # plateau_db), instead of the cosine decay; 0 keeps the cosine decay and stops at the first plateau
    plateau_drops: int = 0
    device: str = "cpu"  # a resolved device (nni_lista.base.device.resolve_device); not part of a run's identity
    # end-to-end: the learning rate of each parameter kind (PARAMETER_KINDS) is lr times its factor here
    # (1 for kinds not named), e.g. {"threshold": 10, "step": 10}; and a linear warm-up over warmup_steps
    lr_scale: dict = field(default_factory=dict)
    warmup_steps: int = 0
    # rescale the gradient to at most this global l2 norm before each Adam step (off when None): gradient
    # spikes (e.g. through ALISTA-AT's threshold factor) otherwise inflate Adam's second moments for good
    clip_norm: Optional[float] = None
    # every learned parameter starts at p * (1 + init_noise * N(0, 1)), drawn from the training seed
    # (perturb_start), so that seeds differ in where training starts, not only in its batches; 0 (the
    # default) keeps the deterministic ISTA start
    init_noise: float = 0.0
    # end-to-end: torch.compile the training loss (forward and backward); like the device, how a run
    # is executed, not what it computes, so not part of its identity (docs/training.md, "Compiled steps")
    compile: bool = False

    def __post_init__(self) -> None:
        require(
            isinstance(self.protocol, str) and self.protocol in PROTOCOLS,
            f"protocol {short(self.protocol)} is not allowed: choose one of {', '.join(PROTOCOLS)}",
        )
        for name in ("max_steps", "batch", "eval_every", "patience"):
            value = getattr(self, name)
            require(
                is_int(value) and value >= 1,
                f"{name.replace('_', '-')} {short(value)} is not allowed: it must be an integer >= 1",
            )
        require(
            self.max_steps <= MAX_STEPS,
            f"max-steps {self.max_steps!r} is not allowed: it must be an integer in [1, {MAX_STEPS:,}]",
        )
        require(
            self.batch <= MAX_BATCH, f"batch {self.batch!r} is not allowed: it must be an integer in [1, {MAX_BATCH}]"
        )
        require(
            is_finite_number(self.lr) and self.lr > 0, f"lr {short(self.lr)} is not allowed: it must be a number > 0"
        )
        require(
            is_int(self.seed) and self.seed >= 0, f"seed {short(self.seed)} is not allowed: it must be an integer >= 0"
        )
        lrs = self.stage_lrs
        require(
            isinstance(lrs, tuple) and len(lrs) == 3 and all(is_finite_number(v) and v >= 0 for v in lrs),
            f"stage_lrs {short(lrs)} is not allowed: give three numbers >= 0",
        )
        require(
            is_finite_number(self.decay) and self.decay >= 0,
            f"decay {short(self.decay)} is not allowed: it must be a number >= 0",
        )
        require(
            self.target_db is None or is_finite_number(self.target_db),
            f"target_db {short(self.target_db)} is not allowed: it must be a number",
        )
        require(
            self.plateau_db is None or (is_finite_number(self.plateau_db) and self.plateau_db >= 0),
            f"plateau_db {short(self.plateau_db)} is not allowed: it must be a number >= 0",
        )
        require(
            is_int(self.plateau_steps) and self.plateau_steps >= 1,
            f"plateau_steps {short(self.plateau_steps)} is not allowed: it must be an integer >= 1",
        )
        require(
            is_int(self.plateau_drops) and 0 <= self.plateau_drops <= 6,
            f"plateau_drops {short(self.plateau_drops)} is not allowed: it must be an integer in [0, 6]",
        )
        require(
            not self.plateau_drops or (self.plateau_db is not None and self.protocol == "e2e"),
            f"plateau_drops {self.plateau_drops} is not allowed without plateau_db and protocol e2e: the drops "
            "happen at the plateaus of end-to-end training",
        )
        scale = self.lr_scale
        require(
            isinstance(scale, dict)
            and all(k in PARAMETER_KINDS and is_finite_number(v) and v > 0 for k, v in scale.items()),
            f"lr-scale {short(scale)} is not allowed: map parameter kinds ({', '.join(PARAMETER_KINDS)}) to numbers "
            "> 0",
        )
        require(
            is_finite_number(self.init_noise) and 0 <= self.init_noise <= 1,
            f"init_noise {short(self.init_noise)} is not allowed: it must be a number in [0, 1]",
        )
        require(
            is_int(self.warmup_steps) and self.warmup_steps >= 0,
            f"warmup-steps {short(self.warmup_steps)} is not allowed: it must be an integer >= 0",
        )
        require(
            self.protocol == "e2e" or (not scale and not self.warmup_steps),
            f"lr-scale and warmup-steps are not allowed with protocol {self.protocol!r}: they shape the e2e schedule",
        )
        require(isinstance(self.compile, bool), f"compile {short(self.compile)} is not allowed: give true or false")
        require(
            self.clip_norm is None or (is_finite_number(self.clip_norm) and self.clip_norm > 0),
            f"clip_norm {short(self.clip_norm)} is not allowed: it must be a number > 0, or none",
        )
        require(
            not self.compile or self.protocol == "e2e",
            f"compile is not allowed with protocol {self.protocol!r}: only e2e training is compiled (one graph; "
            "stage-wise would compile one per depth)",
        )
        require(
            isinstance(self.device, str), f"device {short(self.device)} is not allowed: give auto, cpu, cuda or cuda:N"
        )
        object.__setattr__(self, "device", resolve_device(self.device))

    def to_dict(self) -> dict:
        """A JSON-safe dict (tuples as lists); :meth:`from_dict` reads it back. Without a
        plateau rule its two fields are left out, and ``compile`` when off (runs recorded before
        they existed match)."""
        values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        if self.plateau_db is None:
            del values["plateau_db"], values["plateau_steps"]
        if self.clip_norm is None:
            del values["clip_norm"]
        for name in (
            "compile",
            "lr_scale",
            "warmup_steps",
            "plateau_drops",
            "init_noise",
        ):  # left out at their defaults: runs recorded before they existed match
            if not values[name]:
                del values[name]
        return values

    def identity(self) -> dict:
        """:meth:`to_dict` without the execution details (:data:`EXECUTION`): what makes two runs the same run."""
        return {k: v for k, v in self.to_dict().items() if k not in EXECUTION}

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()})


EXECUTION = ("device", "compile")  # TrainConfig fields that say how a run executes, not what it computes


def compiled_loss(model, problem: "Problem", layer: int) -> Callable:
    """``torch.compile`` of :func:`layer_loss` for ``model`` (the backward pass is compiled with
    it). Compiled code is cached on disk across runs, in ``$TORCHINDUCTOR_CACHE_DIR`` when set,
    else ``~/.cache/nni-lista/torchinductor`` (PyTorch's default is under /tmp)."""
    import os

    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    # PyTorch writes its default into the variable on first use, so the default counts as unset
    if os.environ.get("TORCHINDUCTOR_CACHE_DIR") in (None, os.path.abspath(default_cache_dir())):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(Path.home() / ".cache" / "nni-lista" / "torchinductor")
    return torch.compile(lambda b, s: layer_loss(model, problem, b, s, layer))


# Named training recipes, defined once: `nni-lista search` and `trial` start from the search
# proxy, a study's search trials and its retraining from these two unless its config says otherwise.
TRAINING_PRESETS = {
    "search-proxy": {"protocol": "e2e", "max_steps": 1000, "eval_every": 250},  # one trial of a search
    "retrain": {"protocol": "e2e", "max_steps": 3000, "eval_every": 500},  # a study's retraining and baselines
}


@dataclass
class TrainResult:
    steps: int  # Adam steps of the whole schedule, reused ones included
    seconds: float  # wall time spent in this run
    resumed: bool = False
    history: list = field(default_factory=list)
    reused_layers: int = 0  # stage-wise: layers taken from a PrefixCache


def adam(params, lr: float = 1e-3) -> torch.optim.Adam:
    """Adam (Kingma & Ba 2015) with PyTorch's fused kernel: one pass over all parameters per
    step instead of several (``benchmarks/throughput.py`` measures the difference)."""
    return torch.optim.Adam(params, lr=lr, fused=True)


def layer_loss(model: Unrolled, problem: Problem, b: torch.Tensor, s: torch.Tensor, layer: int) -> torch.Tensor:
    """``mean_batch ||D z_layer - s||^2`` for the 0-based ``layer``."""
    estimate = problem.decode(model(b, layer + 1)[layer])
    return (estimate - s).pow(2).sum(dim=1).mean()


class CheckpointStore:
    """``checkpoint.pt`` (the last good state) and ``layers/`` under an output directory.

    A checkpoint remembers the fingerprint of its run (model, problem settings, training
    config); resuming into a directory that holds another run's checkpoint is refused.
    """

    def __init__(self, directory: Optional[Path], fingerprint: dict):
        self.directory = None if directory is None else Path(directory)
        self.fingerprint = fingerprint

    @property
    def path(self) -> Optional[Path]:
        return None if self.directory is None else self.directory / "checkpoint.pt"

    def describe(self) -> str:
        """Where the last good state is, as far as the disk says (a message must not name a missing file)."""
        if self.path is None:
            return "no checkpoint is kept without an output directory"
        if not self.path.is_file():
            return f"no checkpoint was written to {self.directory} yet, so the next run starts from scratch"
        return f"the last good checkpoint is {self.path}"

    def load(self) -> Optional[dict]:
        """The checkpoint of this run, ``None`` when there is none; another run's or an unreadable
        one raises :class:`UsageError` (never unpickled beyond tensors: ``weights_only``)."""
        if self.path is None or not self.path.exists():
            return None
        hint = "delete it or give another --out"
        check_regular_file(self.path, MAX_TENSOR_FILE_BYTES, "checkpoint")
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many kinds for a bad file (or one holding more than tensors)
            raise UsageError(
                f"checkpoint {str(self.path)!r} cannot be read ({type(exc).__name__}): it is not a checkpoint "
                f"written by nni-lista; {hint}"
            ) from None
        require(isinstance(state, dict), f"checkpoint {str(self.path)!r} is not an nni-lista checkpoint; {hint}")
        theirs = state.get("fingerprint")
        if theirs != self.fingerprint:
            differ = sorted(
                k for k in self.fingerprint if not isinstance(theirs, dict) or theirs.get(k) != self.fingerprint[k]
            )
            if isinstance(theirs, dict) and set(differ) <= {"problem", "instance"}:
                raise UsageError(
                    f"{self.directory} holds a checkpoint of a run on a different problem instance: give another "
                    f"--out for this problem, or the same problem file (or problem options) to resume that run"
                )
            raise UsageError(
                f"{self.directory} holds a checkpoint of a different run (other {', '.join(differ) or 'fields'}): "
                f"give another --out or delete {self.path}"
            )
        require(
            isinstance(state.get("model"), dict) and isinstance(state.get("steps"), int),
            f"checkpoint {str(self.path)!r} is damaged (no model state or step count); {hint}",
        )
        bad = next(
            (
                name
                for name, value in state["model"].items()
                if isinstance(value, torch.Tensor)
                and value.is_floating_point()
                and not bool(torch.isfinite(value).all())
            ),
            None,
        )
        require(
            bad is None,
            f"checkpoint {str(self.path)!r} holds NaN or infinite weights ({bad}): it is not a good state to "
            f"resume from; {hint}",
        )
        return state

    def check_counts(self, state: dict, max_steps: int, stages: Optional[int] = None) -> None:
        """Refuse (one line) a checkpoint whose counters a run cannot have written: ``steps`` outside
        ``[0, max_steps]``, negative or non-finite ``seconds``, no history list, or (stage-wise)
        ``stages_done`` outside ``[0, stages]``; its fingerprint may still be valid."""
        checks = [
            (
                "steps",
                is_int(state.get("steps")) and 0 <= state["steps"] <= max_steps,
                f"an integer in [0, {max_steps}]",
            ),
            ("seconds", is_finite_number(state.get("seconds")) and state["seconds"] >= 0, "a finite number >= 0"),
            ("history", isinstance(state.get("history"), list), "a list"),
            ("start", state.get("start") is None or is_finite_number(state.get("start")), "a number or none"),
            (
                "dropped",
                all(is_int(v) and 0 <= v <= max_steps for v in state.get("dropped", []))
                if isinstance(state.get("dropped", []), list)
                else False,
                f"a list of steps in [0, {max_steps}]",
            ),
        ]
        if stages is not None:
            checks.append(
                (
                    "stages_done",
                    is_int(state.get("stages_done")) and 0 <= state["stages_done"] <= stages,
                    f"an integer in [0, {stages}]",
                )
            )
        for name, ok, allowed in checks:
            if not ok:
                raise UsageError(
                    f"checkpoint {str(self.path)!r} is damaged: {name} {short(state.get(name, 'missing'))} is not "
                    f"{allowed}; delete it or give another --out"
                )

    @contextlib.contextmanager
    def restoring(self):
        """Restoring a checkpoint's state into a model, optimizer or generator: what does not fit
        (a missing entry, a tensor of another shape, a value of another type) is one line."""
        try:
            yield
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise UsageError(
                f"checkpoint {str(self.path)!r} is damaged ({type(exc).__name__}: {first}); delete it or give "
                f"another --out"
            ) from None

    def save(self, state: dict) -> None:
        if self.path is not None:
            torch_save(self.path, {**state, "fingerprint": self.fingerprint})

    def save_layer(self, layer: int, model: Unrolled) -> None:
        if self.directory is not None:
            torch_save(self.directory / "layers" / f"layer{layer + 1:02d}.pt", model.state_dict())


def fingerprint(model: Unrolled, problem: Problem, config: TrainConfig) -> dict:
    """What identifies a run for resuming: model class and size, problem settings and the
    instance itself (a hash of its operator and fixed sets), config."""
    from nni_lista.problem.problems import instance_digest

    settings = {k: (str(v) if isinstance(v, float) else v) for k, v in problem.settings.items()}
    return {
        "model": type(model).__name__,
        "arch": getattr(model, "arch", None),
        "layers": model.layers,
        "lam": model.lam,
        "problem": settings,
        "instance": instance_digest(problem),
        "config": config.identity(),
    }


def _check_finite(loss: torch.Tensor, where: str, store: CheckpointStore) -> None:
    if not torch.isfinite(loss):
        raise TrainingDiverged(f"training loss became {float(loss.detach())} at {where}; {store.describe()}")


class _Stage:
    """Run Adam on ``groups`` for at most ``cap`` steps, with validation and patience."""

    def __init__(self, model, problem, config, store, bar, layer, where, loss: Optional[Callable] = None):
        self.model, self.problem, self.config, self.store = model, problem, config, store
        self.bar, self.layer, self.where = bar, layer, where
        self.loss = loss or (lambda b, s: layer_loss(model, problem, b, s, layer))  # (b, s) -> training loss

    def validate(self) -> float:
        value = layer_nmse_db(self.model, self.problem, self.problem.val, self.layer)
        if math.isnan(value):
            raise TrainingDiverged(f"validation NMSE became NaN at {self.where}; {self.store.describe()}")
        return value

    def run(
        self,
        optimizer,
        cap: int,
        generator: torch.Generator,
        scheduler=None,
        start: int = 0,
        best: Optional[tuple[float, dict, int]] = None,
        on_validate: Callable | None = None,
        target: Optional[float] = None,
        plateau: Optional["Plateau"] = None,
    ) -> tuple[int, float]:
        """Train from step ``start`` to ``cap`` (or until the validation NMSE reaches ``target``,
        or ``plateau(step, best)`` says the run has stopped improving); returns (steps taken,
        best validation NMSE)."""
        cfg = self.config
        if best is None:
            best = (self.validate(), copy.deepcopy(self.model.state_dict()), start)
            if plateau is not None and plateau.start is None:
                plateau.start = best[0]
        best_value, best_state, best_step = best
        step = start
        while step < cap:
            batch = self.problem.train_batch(cfg.batch, generator)
            loss = self.loss(batch.b, batch.s)
            _check_finite(loss, f"{self.where}, step {step + 1}", self.store)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            self.bar.update(1)
            if step % cfg.eval_every == 0 or step == cap:
                value = self.validate()
                if value < best_value:
                    best_value, best_state, best_step = value, copy.deepcopy(self.model.state_dict()), step
                self.bar.set_postfix_str(f"{self.where} val {value:.2f} dB (best {best_value:.2f})")
                drops = 0 if plateau is None else len(plateau.dropped)
                stop = stops(step, value, best_value, best_step, cfg.patience, target, plateau)  # may drop the rate
                if plateau is not None and len(plateau.dropped) > drops:  # a drop goes on from the best weights so far
                    self.model.load_state_dict(best_state)
                if on_validate is not None:  # after the rule, so that a checkpoint holds its drops
                    on_validate(step, value, (best_value, best_state, best_step))
                if stop:
                    break
        self.model.load_state_dict(best_state)
        return step - start, best_value


def train_stagewise(
    model: Unrolled,
    problem: Problem,
    config: TrainConfig,
    store: CheckpointStore,
    bar,
    on_layer: Optional[Callable[[int, float], None]] = None,
    prefixes=None,
) -> TrainResult:
    T = model.layers
    cap = max(1, config.max_steps // (3 * T))
    state = store.load()
    if state is not None:
        store.check_counts(state, config.max_steps, stages=3 * T)
    done = 0 if state is None else state["stages_done"]
    steps, seconds = (0, 0.0) if state is None else (state["steps"], state["seconds"])
    history = [] if state is None else state["history"]
    reused = 0
    if state is not None:
        with store.restoring():
            model.load_state_dict(state["model"])
    elif prefixes is not None and (hit := prefixes.longest(model)) is not None:
        reused, entry = hit
        prefixes.restore(model, entry)
        done, steps, history = 3 * reused, entry["steps"], list(entry["history"])
        for item in history if on_layer is not None else ():
            if item["stage"] == 3:
                on_layer(item["layer"] - 1, item["val_nmse_db"])
    bar.reset(total=3 * T * cap)
    bar.update(min(done * cap, 3 * T * cap))
    for index in range(done, 3 * T):
        started = time.perf_counter()
        layer, stage = divmod(index, 3)
        if stage == 0:
            groups = [{"params": model.layer_parameters(layer), "lr": config.stage_lrs[0]}]
        else:
            groups = [
                {"params": model.layer_parameters(j), "lr": config.stage_lrs[stage] * config.decay ** (layer - j)}
                for j in range(layer + 1)
            ]
        groups = [g for g in groups if g["params"]]
        where = f"layer {layer + 1}/{T} stage {stage + 1}/3"
        runner = _Stage(model, problem, config, store, bar, layer, where)
        taken, best = runner.run(adam(groups), cap, seeded_generator(config.seed, _STAGE_STREAM, layer, stage))
        bar.update(cap - taken)
        steps += taken
        seconds += time.perf_counter() - started
        history.append({"layer": layer + 1, "stage": stage + 1, "steps": taken, "val_nmse_db": best})
        store.save(
            {
                "model": model.state_dict(),
                "stages_done": index + 1,
                "steps": steps,
                "seconds": seconds,
                "history": history,
            }
        )
        if stage == 2:
            store.save_layer(layer, model)
            if prefixes is not None:
                prefixes.save(model, layer + 1, steps=steps, history=history)
            if on_layer is not None:
                on_layer(layer, best)
    return TrainResult(steps=steps, seconds=seconds, resumed=state is not None, history=history, reused_layers=reused)


def cosine_decay(total: int) -> Callable[[int], float]:
    """Learning-rate factor at step k: cosine from 1 to 1 % over ``total`` steps, then 1 %."""
    return lambda step: 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


def with_warmup(factor: Callable[[int], float], steps: int) -> Callable[[int], float]:
    """``factor`` times a linear warm-up from ``1 / steps`` to 1 over the first ``steps`` steps."""
    if steps <= 0:
        return factor
    return lambda step: factor(step) * min(1.0, (step + 1) / steps)


#: parameter kind -> whether a (name, parameter) of a network is of it: the matrices (any
#: parameter with two or more dimensions), thresholds ``theta``, ALISTA step sizes ``gamma``,
#: skip gains ``gain``
PARAMETER_KINDS: dict[str, Callable[[str, torch.Tensor], bool]] = {
    "matrix": lambda name, p: p.dim() >= 2,
    "threshold": lambda name, p: p.dim() < 2 and "theta" in name.split("."),
    "step": lambda name, p: p.dim() < 2 and "gamma" in name.split("."),
    "gain": lambda name, p: p.dim() < 2 and "gain" in name.split("."),
}


def parameter_groups(model: torch.nn.Module, lr: float, scale: dict) -> list[dict]:
    """Adam parameter groups of ``model``, one per parameter kind present (:data:`PARAMETER_KINDS`,
    anything else in a group of its own), each at ``lr`` times its ``scale`` factor (default 1)."""
    groups: dict[str, list] = {}
    for name, param in model.named_parameters():
        kind = next((k for k, test in PARAMETER_KINDS.items() if test(name, param)), "other")
        groups.setdefault(kind, []).append(param)
    return [{"params": params, "lr": lr * scale.get(kind, 1.0), "kind": kind} for kind, params in groups.items()]


def stops(
    step: int,
    value: float,
    best_value: float,
    best_step: int,
    patience: int,
    target: Optional[float] = None,
    plateau: Optional[Callable[[int, float], bool]] = None,
) -> bool:
    """The stopping rules, checked at each validation: no improvement for ``patience`` steps,
    the validation NMSE ``value`` at or below ``target``, or ``plateau(step, best_value)``."""
    return (
        step - best_step >= patience
        or (target is not None and value <= target)
        or (plateau is not None and plateau(step, best_value))
    )


#: the factor the plateau rule divides the rate by at each drop
DROP_FACTOR = 10.0


class Plateau:
    """The plateau rule on validation. At a validation at step ``t`` the run has plateaued when the
    best NMSE improved by less than ``gain_db`` since step ``t - window``, i.e.
    ``min_{s <= t-window} v_s - min_{s <= t} v_s < gain_db`` (``v_s`` the validations in
    ``history``, which the checkpoint keeps, so a resumed run stops where an unbroken one does),
    and ``window`` steps have passed since the last drop; once a validation is that old, the one
    before the first step (``start``) counts among them, so that a run whose start stays its best
    (a warm start) plateaus too. The first ``drops`` plateaus divide the
    rate by :data:`DROP_FACTOR` (``dropped`` lists their steps; :meth:`factor` is the rate's
    factor now); the next one stops the run. Call it before ``history`` gets step ``t``'s entry:
    it only reads entries up to ``t - window``."""

    def __init__(
        self,
        history: list[dict],
        gain_db: float,
        window: int,
        drops: int = 0,
        dropped: Optional[list] = None,
        start: Optional[float] = None,
    ):
        self.history, self.gain_db, self.window, self.drops = history, gain_db, window, drops
        self.dropped: list[int] = list(dropped or [])
        # the validation NMSE before the first step, a candidate like any other (a warm start can be the best)
        self.start = start

    def factor(self) -> float:
        return DROP_FACTOR ** -len(self.dropped)

    def __call__(self, step: int, best_now: float) -> bool:
        since = self.dropped[-1] if self.dropped else 0
        earlier = [h["val_nmse_db"] for h in self.history if h["step"] <= step - self.window]
        if self.start is not None and earlier:
            earlier.append(self.start)
        if step - self.window < since or not earlier or min(earlier) - best_now >= self.gain_db:
            return False
        if len(self.dropped) < self.drops:
            self.dropped.append(step)
            return False
        return True


def plateaued(history: list[dict], gain_db: float, window: int) -> Plateau:
    """The plateau stopping rule without drops (:class:`Plateau`)."""
    return Plateau(history, gain_db, window)


def e2e_optimizer(module: torch.nn.Module, config: TrainConfig, plateau: Optional[Plateau] = None):
    """The end-to-end recipe's Adam over ``module``'s parameter kinds (``config.lr_scale``) and its
    schedule (cosine decay over ``config.max_steps``, or with ``config.plateau_drops`` the constant
    rate ``plateau`` divides, with ``config.warmup_steps`` of warm-up).
    Without per-kind rates all parameters form one group, as before per-kind rates existed, so
    checkpoints written then still resume (Adam is per-parameter: the numbers are the same)."""
    groups = parameter_groups(module, config.lr, config.lr_scale) if config.lr_scale else module.parameters()
    optimizer = adam(groups, lr=config.lr)
    if config.plateau_drops:
        require(plateau is not None, "a schedule with plateau drops needs its plateau rule")
        factor = lambda step: plateau.factor()  # noqa: E731
    else:
        factor = cosine_decay(config.max_steps)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, with_warmup(factor, config.warmup_steps))


def train_end_to_end(
    model: Unrolled,
    problem: Problem,
    config: TrainConfig,
    store: CheckpointStore,
    bar,
    on_layer: Optional[Callable[[int, float], None]] = None,
    prefixes=None,
) -> TrainResult:
    state = store.load()
    start, seconds, best, history = 0, 0.0, None, []
    dropped = [] if state is None else state.get("dropped", [])
    plateau = (
        None
        if config.plateau_db is None
        else Plateau(
            history,
            config.plateau_db,
            config.plateau_steps,
            config.plateau_drops,
            dropped,
            None if state is None else state.get("start"),
        )
    )
    optimizer, scheduler = e2e_optimizer(model, config, plateau)
    generator = seeded_generator(config.seed, _E2E_STREAM)
    if state is not None:
        store.check_counts(state, config.max_steps)
    if state is not None and state.get("finished"):
        with store.restoring():
            model.load_state_dict(state["model"])
        return TrainResult(steps=state["steps"], seconds=state["seconds"], resumed=True, history=state["history"])
    if state is not None:
        with store.restoring():
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            generator.set_state(state["generator"])
            best = (float(state["best_value"]), dict(state["best_model"]), int(state["best_step"]))
            copy.deepcopy(model).load_state_dict(best[1])  # the best weights must fit the model too
        start, seconds = state["steps"], state["seconds"]
        history.extend(state["history"])  # the plateau rule holds this list
    bar.reset(total=config.max_steps)
    bar.update(start)
    started = time.perf_counter()

    def checkpoint(step: int, value: float, best_now: tuple) -> None:
        history.append(
            {"step": step, "val_nmse_db": value, "seconds": round(seconds + time.perf_counter() - started, 3)}
        )
        store.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(),
                "steps": step,
                "seconds": seconds + time.perf_counter() - started,
                "best_value": best_now[0],
                "best_model": best_now[1],
                "best_step": best_now[2],
                "history": history,
                "dropped": [] if plateau is None else plateau.dropped,
                "start": None if plateau is None else plateau.start,
            }
        )

    last = model.layers - 1
    runner = _Stage(
        model,
        problem,
        config,
        store,
        bar,
        last,
        "end-to-end",
        compiled_loss(model, problem, last) if config.compile else None,
    )
    taken, _ = runner.run(
        optimizer, config.max_steps, generator, scheduler, start, best, checkpoint, config.target_db, plateau
    )
    seconds += time.perf_counter() - started
    store.save(
        {
            "model": model.state_dict(),
            "finished": True,
            "steps": start + taken,
            "seconds": seconds,
            "history": history,
            "dropped": [] if plateau is None else plateau.dropped,
        }
    )
    if on_layer is not None:
        per_layer = nmse_db_per_layer(layer_estimates(model, problem, problem.val), problem.val.s)  # one forward pass
        for layer, value in enumerate(per_layer):
            on_layer(layer, value)
    return TrainResult(steps=start + taken, seconds=seconds, resumed=state is not None, history=history)


PROTOCOLS: dict[str, Callable[..., TrainResult]] = {"stagewise": train_stagewise, "e2e": train_end_to_end}


def perturb_start(model: torch.nn.Module, config: TrainConfig) -> None:
    """``p <- p * (1 + init_noise * N(0, 1))`` for every learned parameter, entry by entry, from a
    stream of the training seed alone: the same seed gives the same start, another seed another."""
    if not config.init_noise:
        return
    generator = seeded_generator(config.seed, _INIT_STREAM)
    with torch.no_grad():
        for _, parameter in sorted(model.named_parameters()):
            noise = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
            parameter.mul_(1 + config.init_noise * noise.to(parameter.device))


def train(
    model: Unrolled,
    problem: Problem,
    config: TrainConfig,
    out_dir: Optional[Path] = None,
    progress: Optional[bool] = None,
    on_layer: Optional[Callable[[int, float], None]] = None,
    prefixes=None,
) -> TrainResult:
    """Train ``model`` on ``problem`` with ``config.protocol``; checkpoints go under ``out_dir``.

    ``on_layer(k, nmse_db)`` is called once per layer (0-based) when layer ``k`` is trained,
    with the validation NMSE of its output then: after its last stage (stage-wise), or for
    every layer at the end (end-to-end). NNI trials report intermediate results from it, so
    that assessors can stop a stage-wise trial early. ``prefixes`` (a
    :class:`nni_lista.train.prefixes.PrefixCache`) lets a stage-wise run start after the longest
    prefix of layers trained before and store its own; end-to-end runs have no prefixes.

    A run that finds its own checkpoint in ``out_dir`` resumes from it. ``progress=None``
    shows a progress bar only on a terminal.
    """
    require(
        isinstance(model, Unrolled),
        f"a {type(model).__name__} is not an unrolled network: train a family model, an architecture of the "
        "space or D-LADMM (layers, lam, layer_parameters, per-layer outputs)",
    )
    store = CheckpointStore(out_dir, fingerprint(model, problem, config))
    if out_dir is not None:
        remove_orphans(out_dir)  # temp files of a run killed between writing and renaming
    perturb_start(model, config)  # a resumed run then loads its checkpoint over it
    model.to(config.device)  # and stays there: evaluation follows the model's device
    problem = problem.to(config.device)
    with tqdm(
        total=config.max_steps,
        desc=type(model).__name__,
        unit="step",
        disable=None if progress is None else not progress,
        leave=False,
        dynamic_ncols=True,
    ) as bar:
        return PROTOCOLS[config.protocol](model, problem, config, store, bar, on_layer, prefixes)
