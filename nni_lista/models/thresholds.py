"""Thresholding nonlinearities of the LISTA family, as plain functions (torch only).

* soft threshold ``eta_theta(z) = sign(z) max(|z| - theta, 0)`` (the proximal map of
  ``theta ||.||_1``);
* soft threshold with support selection (Chen et al., NeurIPS 2018, LISTA-CPSS): per sample,
  the largest ``percent`` % of the entries by magnitude that exceed ``theta`` pass unchanged,
  the rest are soft-thresholded;
* firm threshold (Gao & Bruce 1997): zero below ``theta``, identity above ``mu``, linear between.
"""

from __future__ import annotations

import torch


def soft_threshold(z: torch.Tensor, theta: torch.Tensor | float) -> torch.Tensor:
    """``sign(z) * max(|z| - theta, 0)``."""
    return torch.sign(z) * torch.relu(z.abs() - theta)


def support_selection_count(percent: float, n: int) -> int:
    """How many of ``n`` entries a layer with ``percent`` % support selection lets pass."""
    return int(percent / 100.0 * n)


def support_selected_threshold(z: torch.Tensor, theta: torch.Tensor | float, percent: float) -> torch.Tensor:
    """Soft threshold, except that the top ``percent`` % entries of each row (by magnitude,
    and above ``theta``) bypass it."""
    count = support_selection_count(percent, z.shape[-1])
    shrunk = soft_threshold(z, theta)
    if count == 0:
        return shrunk
    magnitude = z.abs()
    cutoff = magnitude.topk(count, dim=-1).values[..., -1:]
    keep = (magnitude >= cutoff) & (magnitude > theta)
    return torch.where(keep, z, shrunk)


def cpss_percent(layer: int, step: float = 1.2, cap: float = 13.0) -> float:
    """Support-selection schedule of LISTA-CPSS / ALISTA: ``min(step (k+1), cap)`` % at
    layer ``k`` (0-based)."""
    return min(step * (layer + 1), cap)


def firm_threshold(z: torch.Tensor, theta: torch.Tensor | float, ratio: float = 2.0) -> torch.Tensor:
    """Firm threshold (Gao & Bruce 1997) with ``mu = ratio * theta``: 0 below ``theta``,
    identity above ``mu``, linear in between: ``sign(z) mu (|z| - theta) / (mu - theta)``."""
    magnitude = z.abs()
    ramp = torch.sign(z) * torch.relu(magnitude - theta) * (ratio / (ratio - 1.0))
    return torch.where(magnitude > ratio * theta, z, ramp)
