"""Score a model on a fixed split of a problem: per-layer NMSE (dB), and PSNR for images."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from nni_lista.base.device import model_device
from nni_lista.problem.metrics import nmse_db, nmse_db_per_layer, nmse_db_sample_mean, psnr_db
from nni_lista.problem.problems import Problem, Split


@torch.no_grad()
def layer_estimates(
    model: nn.Module, problem: Problem, split: Split, depth: Optional[int] = None
) -> list[torch.Tensor]:
    """Decoded signal estimates of every layer (up to ``depth``) on ``split``, on the split's device
    (the model runs on its own)."""
    was_training = model.training
    model.eval()
    try:
        return [problem.decode(z.to(split.s.device)) for z in model(split.b.to(model_device(model)), depth)]
    finally:
        model.train(was_training)


def layer_nmse_db(model: nn.Module, problem: Problem, split: Split, layer: int) -> float:
    """NMSE (dB) of layer ``layer`` (0-based) on ``split``; runs only the layers needed."""
    return nmse_db(layer_estimates(model, problem, split, layer + 1)[layer], split.s)


def evaluate(model: nn.Module, problem: Problem, split: Optional[Split] = None) -> dict:
    """``nmse_db_per_layer``, ``nmse_db`` (last layer, a ratio of sums), ``nmse_db_sample_mean``
    (last layer, the mean of per-sample dB), and ``psnr_db`` for image problems, on ``split``
    (the test set by default)."""
    split = problem.test if split is None else split
    estimates = layer_estimates(model, problem, split)
    per_layer = nmse_db_per_layer(estimates, split.s)
    result = {
        "nmse_db_per_layer": per_layer,
        "nmse_db": per_layer[-1],
        "nmse_db_sample_mean": nmse_db_sample_mean(estimates[-1], split.s),
    }
    if problem.kind == "image-cs":
        result["psnr_db"] = psnr_db(estimates[-1], split.s)
    return result
