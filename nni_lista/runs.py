"""One run: build a model on a problem, train it (when it learns), score it, write ``metrics.json``."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Optional

from .evaluation import evaluate
from .family import build
from .io import write_json
from .problems import Problem
from .training import TrainConfig, train


def json_number(value: float):
    """JSON has no Inf: infinite settings (a noiseless SNR) are written as the string 'inf'."""
    return str(value) if isinstance(value, float) and math.isinf(value) else value


def run_model(name: str, problem: Problem, layers: int, lam: float, config: TrainConfig,
              out_dir: Optional[Path], extra_settings: Optional[dict] = None, progress: Optional[bool] = None) -> dict:
    """Train (if learned) and test model ``name``; returns the ``metrics.json`` content.

    ``settings`` in the result holds the problem's settings, the model's size and the whole
    training config; for ISTA/FISTA ``steps`` is 0 and ``layers`` is the iteration count.
    """
    model = build(name, problem.A, layers, lam)
    steps, seconds = 0, 0.0
    if model.learned:
        result = train(model, problem, config, out_dir, progress)
        steps, seconds = result.steps, result.seconds
    scores = evaluate(model, problem)
    settings = {
        "problem": problem.kind,
        **{k: json_number(v) for k, v in problem.settings.items()},
        "layers": layers,
        "lam": lam,
        **{("train_seed" if k == "seed" else k): (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()},
        **(extra_settings or {}),
    }
    metrics = {
        "model": name,
        "settings": settings,
        "protocol": config.protocol if model.learned else "none",
        "steps": steps,
        "seconds": round(seconds, 3),
        **scores,
    }
    if out_dir is not None:
        write_json(Path(out_dir) / "metrics.json", metrics)
    return metrics
