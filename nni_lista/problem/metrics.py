"""Recovery metrics.

NMSE in dB is a ratio of sums over the whole set (docs/problem-and-family.md)::

    NMSE_dB = 10 log10( sum_i ||x_hat_i - x_i||^2 / sum_i ||x_i||^2 )

not the mean of per-sample dB values, which other codebases report (e.g. Open-L2O) and which is
not comparable; that one is :func:`nmse_db_sample_mean`, recorded beside it and named. PSNR is ``10 log10(peak^2 /
MSE)`` with the mean over every entry.
"""

from __future__ import annotations

import math
import statistics
from typing import Optional, Sequence

import torch


def nmse_db(estimate: torch.Tensor, target: torch.Tensor) -> float:
    """NMSE in dB of a set of estimates (rows) against the targets, as a ratio of sums."""
    error = (estimate.double() - target.double()).pow(2).sum()
    energy = target.double().pow(2).sum()
    if energy == 0:
        raise ValueError("NMSE is undefined for an all-zero target set")
    if error == 0:
        return -math.inf
    return 10.0 * math.log10(float(error / energy))


def nmse_db_sample_mean(estimate: torch.Tensor, target: torch.Tensor) -> float:
    """The other NMSE in the literature: the mean over samples of each sample's dB,
    ``mean_i 10 log10(||x_hat_i - x_i||^2 / ||x_i||^2)``, over the samples whose target is not
    zero (-inf when one of them is recovered exactly). It differs from :func:`nmse_db`, which
    weights each sample by its energy; well-recovered samples pull this mean down strongly."""
    error = (estimate.double() - target.double()).pow(2).sum(dim=1)
    energy = target.double().pow(2).sum(dim=1)
    keep = energy > 0
    if not bool(keep.any()):
        raise ValueError("NMSE is undefined for an all-zero target set")
    error, energy = error[keep], energy[keep]
    if bool((error == 0).any()):
        return -math.inf
    return float((10.0 * torch.log10(error / energy)).mean())


def nmse_db_per_layer(estimates: Sequence[torch.Tensor], target: torch.Tensor) -> list[float]:
    """:func:`nmse_db` of every layer's output, in layer order."""
    return [nmse_db(estimate, target) for estimate in estimates]


def psnr_db(estimate: torch.Tensor, target: torch.Tensor, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(peak^2 / MSE)``."""
    mse = float((estimate.double() - target.double()).pow(2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse)


def mean_and_sd(values: Sequence[float]) -> tuple[float, Optional[float]]:
    """Mean and sample standard deviation (``n - 1``; ``None`` for one value) of replicates."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def paired_difference(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> dict:
    """The paired difference ``a_i - b_i`` of two sets of replicates run with the same seeds:
    its mean, sample standard deviation and Student-t confidence interval at ``level``
    (``mean +- t_{(1+level)/2, k-1} sd / sqrt(k)``; ``None`` bounds for one pair).
    ``{"differences", "mean", "std", "low", "high", "level"}``."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired replicates need equal, non-zero counts, not {len(a)} and {len(b)}")
    differences = [x - y for x, y in zip(a, b)]
    mean, spread = mean_and_sd(differences)
    low = high = None
    if spread is not None:
        from scipy.stats import t

        half = float(t.ppf((1 + level) / 2, len(differences) - 1)) * spread / math.sqrt(len(differences))
        low, high = mean - half, mean + half
    return {"differences": differences, "mean": mean, "std": spread, "low": low, "high": high, "level": level}
