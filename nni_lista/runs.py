"""One run: a model (of the family, or an architecture of the space) on a problem, trained when
it learns, scored on the test set, written to ``metrics.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .evaluation import evaluate
from .family import build
from .io import json_safe, write_json
from .problems import Problem
from .training import TrainConfig, train


def run(model, name: str, problem: Problem, config: TrainConfig, out_dir: Optional[Path],
        extra_settings: Optional[dict] = None, progress: Optional[bool] = None) -> dict:
    """Train ``model`` (if it learns) and test it; returns the ``metrics.json`` content.

    ``settings`` holds the problem's settings, the model's size, the whole training config
    (its seed as ``train_seed``) and ``extra_settings``; for ISTA/FISTA ``steps`` is 0.
    """
    steps, seconds = 0, 0.0
    if model.learned:
        result = train(model, problem, config, out_dir, progress)
        steps, seconds = result.steps, result.seconds
    settings = {
        "problem": problem.kind,
        **json_safe(problem.settings),
        "layers": model.layers,
        "lam": model.lam,
        **{("train_seed" if k == "seed" else k): v for k, v in config.to_dict().items()},
        **(extra_settings or {}),
    }
    metrics = {
        "model": name,
        "settings": settings,
        "protocol": config.protocol if model.learned else "none",
        "steps": steps,
        "seconds": round(seconds, 3),
        **evaluate(model, problem),
        "val_nmse_db": evaluate(model, problem, problem.val)["nmse_db"],  # what selection may look at
    }
    if out_dir is not None:
        write_json(Path(out_dir) / "metrics.json", metrics)
    return metrics


def run_model(name: str, problem: Problem, layers: int, lam: float, config: TrainConfig, out_dir: Optional[Path],
              extra_settings: Optional[dict] = None, progress: Optional[bool] = None) -> dict:
    """:func:`run` for the family model registered as ``name``."""
    return run(build(name, problem.A, layers, lam), name, problem, config, out_dir, extra_settings, progress)


def run_architecture(arch: dict, problem: Problem, config: TrainConfig, lam: float, out_dir: Optional[Path],
                     extra_settings: Optional[dict] = None, progress: Optional[bool] = None) -> dict:
    """:func:`run` for a full-space architecture, trained from its ISTA initialisation;
    ``settings["arch"]`` records the label map."""
    from .spaces import build as build_arch

    model = build_arch(arch, problem.m, problem.n, problem.A, lam)
    return run(model, "arch", problem, config, out_dir, {"arch": dict(arch), **(extra_settings or {})}, progress)
