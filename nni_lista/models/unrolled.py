"""What every unrolled network offers training, evaluation, export and search: a structural type
(PEP 544), so that the LISTA family (:class:`nni_lista.models.family.UnrolledModel`), a frozen
architecture of the LISTA space (:class:`nni_lista.space.spaces.LISTASpace`) and D-LADMM
(:class:`nni_lista.space.ladmm.DLADMMSpace`) share it without a common base class.
"""

from __future__ import annotations

from typing import Optional, Protocol, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class Unrolled(Protocol):
    """An unrolled network of ``layers`` layers for the LASSO weight ``lam``.

    Attributes
    ----------
    learned : bool
        Whether it has parameters to train (ISTA and FISTA do not).
    layers : int
        Its depth T.
    lam : float
        The LASSO weight its ISTA initialisation is for.
    """

    learned: bool
    layers: int
    lam: float

    def layer_parameters(self, k: int) -> list[nn.Parameter]:
        """The parameters of layer ``k`` (0-based; the stage-wise protocol trains them in turn).

        Parameters
        ----------
        k : int
            The layer, ``0 <= k < layers``.

        Returns
        -------
        list of torch.nn.Parameter
            Its parameters (layer 0 also holds those shared by every layer, such as ``B``).
        """
        ...

    def forward(self, b: torch.Tensor, depth: Optional[int] = None) -> list[torch.Tensor]:
        """The estimate after each layer.

        Parameters
        ----------
        b : torch.Tensor
            Measurements, ``(batch, m)``.
        depth : int, optional
            Stop after this many layers (all by default).

        Returns
        -------
        list of torch.Tensor
            ``x^1 .. x^depth``, each ``(batch, n)``.
        """
        ...
