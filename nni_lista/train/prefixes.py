"""Trained layer prefixes, shared between the architectures of a search (docs/training.md).

Under the stage-wise protocol the weights after layer k's last stage depend only on the
problem, the training config and the architecture of layers 1..k: later layers are untouched
until then, and every stage draws its batches from its own seeded stream. A network whose first
k layers are built like those of a network trained before can therefore start from that state at
layer k+1 and end with exactly the numbers it would have reached from scratch, minus the work.

:class:`PrefixCache` keeps one file per trained prefix in a directory (written atomically, so
trial processes can share it). A prefix is identified by what it computes: the structure of
the shared measurement map and of blocks 1..k (module classes, parameter names and shapes),
plus the problem and training settings; labels are not needed, so it works for any model of
the space, frozen from any preset.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional

import torch

from nni_lista.space.spaces import LISTASpace

from nni_lista.base.io import torch_save


class PrefixCache:
    """Prefix states under ``directory`` for runs that share ``context`` (problem, config)."""

    def __init__(self, directory: Path, context: dict):
        self.directory = Path(directory)
        self.context = json.dumps(context, sort_keys=True, default=str)

    @staticmethod
    def _parameters(model: LISTASpace, layers: int) -> dict[str, torch.Tensor]:
        """Name -> parameter of layers ``0 .. layers-1`` (the shared ``B`` belongs to layer 0)."""
        wanted = {id(p) for k in range(layers) for p in model.layer_parameters(k)}
        return {name: p for name, p in model.named_parameters() if id(p) in wanted}

    def key(self, model: LISTASpace, layers: int) -> str:
        """What layers 1..``layers`` of ``model`` compute, with the context: a 32-hex-digit hash."""
        parts = [self.context, str(layers), repr(getattr(model, "measure", None)), repr(model.blocks[:layers])]
        parts += [f"{name}:{tuple(p.shape)}" for name, p in self._parameters(model, layers).items()]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]

    def _path(self, model: LISTASpace, layers: int) -> Path:
        return self.directory / f"{self.key(model, layers)}.pt"

    def longest(self, model: LISTASpace) -> Optional[tuple[int, dict]]:
        """``(k, entry)`` for the longest stored prefix of ``model`` (k layers), or ``None``."""
        for layers in range(model.layers, 0, -1):
            path = self._path(model, layers)
            if path.exists():
                return layers, torch.load(path, map_location="cpu", weights_only=True)
        return None

    def restore(self, model: LISTASpace, entry: dict) -> None:
        """Copy a stored prefix's weights into ``model``."""
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in entry["params"].items():
                params[name].copy_(value)

    def save(self, model: LISTASpace, layers: int, **info) -> None:
        """Store the weights of ``model``'s first ``layers`` layers, with ``info`` (steps, history)."""
        params = {name: p.detach().cpu().clone() for name, p in self._parameters(model, layers).items()}
        torch_save(self._path(model, layers), {"params": params, **info})
