"""One training recipe for every network compared: the learning rate chosen on validation.

Models of the family differ in how fast they can learn (ALISTA has two scalars a layer, LISTA
two matrices), so a single rate trains some of them short of their level. The recipe, for a
network (a family member or a searched architecture) on a problem:

1. train it with training seed ``seeds[0]`` at every rate of one grid ``lrs`` shared by all
   networks (end-to-end, Adam, cosine decay over ``max_steps``, the best validation weights
   kept, the gradient rescaled to a global norm of at most ``clip_norm``), each run stopped by
   the convergence rule on validation: less than ``plateau_db`` dB of improvement of the best
   validation NMSE over the last ``plateau_steps`` steps, or ``max_steps``; with
   ``plateau_drops`` > 0 the rate is constant, and the first ``plateau_drops`` plateaus divide it
   by 10 instead of stopping the run (:class:`nni_lista.train.training.Plateau`);
2. keep the rate whose run has the best validation NMSE (never the test set);
3. train the other seeds at that rate.

The clipping matters for ALISTA-AT (``benchmarks/clipping.py``: 250x500, T = 16, SNR 40 dB,
lr 5e-3, 1,500 steps, one run each): best validation -33.99 dB without it, -38.10 dB with the
norm clipped at 1.0, -41.27 dB at 0.1; ALISTA -41.28, -41.51 and -41.77 dB.
*Hypothesis:* gradient spikes through the threshold factor ``1 / (1 + |x| / 0.1)``, whose slope
at 0 is 10, inflate Adam's second-moment estimates.

Every run is an ordinary :func:`nni_lista.train.runs.run_architecture` run with its own
directory (``metrics.json`` and a checkpoint), so an interrupted recipe resumes where it stopped;
a run whose ``metrics.json`` records it is read, not repeated, even without its checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from nni_lista.base.errors import require
from nni_lista.models.family import DEFAULT_LAM
from nni_lista.problem.problems import Problem
from nni_lista.train.runs import recorded_architecture_run, run_architecture
from nni_lista.train.training import TrainConfig


@dataclass(frozen=True)
class Recipe:
    """The grid of rates and the convergence rule (see the module docstring)."""

    lrs: tuple[float, ...] = (1e-3, 2e-3, 5e-3)
    max_steps: int = 6000
    batch: int = 64
    eval_every: int = 250
    plateau_db: float = 0.1
    plateau_steps: int = 1000
    clip_norm: float = 0.1
    plateau_drops: int = 0

    def __post_init__(self) -> None:
        require(
            isinstance(self.lrs, tuple) and self.lrs and all(isinstance(v, float) and v > 0 for v in self.lrs),
            f"lrs {self.lrs!r} is not allowed: give one or more learning rates > 0",
        )

    def config(self, lr: float, seed: int) -> TrainConfig:
        """The training config of one run: the convergence rule in place of the patience."""
        return TrainConfig(
            protocol="e2e",
            max_steps=self.max_steps,
            batch=self.batch,
            eval_every=self.eval_every,
            patience=self.max_steps,
            lr=lr,
            seed=seed,
            plateau_db=self.plateau_db,
            plateau_steps=self.plateau_steps,
            clip_norm=self.clip_norm,
            plateau_drops=self.plateau_drops,
        )


def _run(arch: dict, problem: Problem, recipe: Recipe, lr: float, seed: int, out: Optional[Path], lam: float) -> dict:
    """One run of the recipe at rate ``lr`` and training seed ``seed``, in ``out/lr{RATE}-seed{SEED}``
    when ``out`` is given; a run already recorded there (its ``metrics.json``) is read, not repeated."""
    config = recipe.config(lr, seed)
    where = None if out is None else Path(out) / f"lr{lr:g}-seed{seed}"
    kept = None if where is None else recorded_architecture_run(where, arch, problem, config, lam)
    return kept if kept is not None else run_architecture(arch, problem, config, lam, where, progress=False)


def choose_lr(
    arch: dict, problem: Problem, recipe: Recipe, seed: int = 0, out: Optional[Path] = None, lam: float = DEFAULT_LAM
) -> tuple[float, dict[float, dict]]:
    """Train ``arch`` with training seed ``seed`` at every rate of the grid; returns the rate with
    the best validation NMSE and every run's ``metrics.json`` content by rate (written under
    ``out/lr{RATE}-seed{SEED}`` when ``out`` is given)."""
    runs = {lr: _run(arch, problem, recipe, lr, seed, out, lam) for lr in recipe.lrs}
    best = min(runs, key=lambda lr: runs[lr]["val_nmse_db"])
    return best, runs


def replicates(
    arch: dict, problem: Problem, recipe: Recipe, seeds: list[int], out: Optional[Path] = None, lam: float = DEFAULT_LAM
) -> dict:
    """The recipe: the rate chosen on validation with ``seeds[0]`` (:func:`choose_lr`), then every
    seed at that rate. ``{"lr", "grid": {rate: val dB}, "runs": [metrics per seed, in order]}``."""
    require(bool(seeds), "give at least one training seed")
    lr, grid = choose_lr(arch, problem, recipe, seeds[0], out, lam)
    runs = [grid[lr]] + [_run(arch, problem, recipe, lr, seed, out, lam) for seed in seeds[1:]]
    return {"lr": lr, "grid": {f"{rate:g}": found["val_nmse_db"] for rate, found in grid.items()}, "runs": runs}
