"""Which torch device runs training: ``auto`` (CUDA when present, else the CPU), ``cpu``,
``cuda`` or ``cuda:N``. Data are drawn on the CPU from seeded generators and moved, so a run
draws the same samples on every device."""

from __future__ import annotations

import torch
from torch import nn

from nni_lista.base.errors import UsageError, require

CHOICES = "auto, cpu, cuda or cuda:N"


def resolve_device(name: str) -> str:
    """The concrete device for ``name`` ('auto' picks CUDA when present); a one-line error for
    an unknown name or an absent device."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise UsageError(f"device {name!r} is not allowed: choose {CHOICES}")
    if device.type == "cuda":
        require(
            torch.cuda.is_available(), f"device {name!r} is not available here: no CUDA GPU is visible; use cpu or auto"
        )
        index = device.index or 0
        require(
            index < torch.cuda.device_count(),
            f"device {name!r} is not available here: {torch.cuda.device_count()} CUDA GPU(s) visible",
        )
    return str(device)


def model_device(model: nn.Module) -> torch.device:
    """Where ``model`` lives: its first parameter or buffer (the CPU for an empty module)."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")
