"""Any trained nni-lista network (a family member, or a searched network from
``load_searched_model``) as a deepinv reconstructor, ``x_hat = model(y, physics)``, for a problem
made from deepinv physics (:func:`nni_lista.problem.deepinv_ops.from_physics`): the measurement's
kept rows ``b = y.flatten(1)[:, rows]``, the code of the network's last layer ``z``, the image
``x_hat = D z`` reshaped to ``(C, H, W)``. deepinv's own evaluation (``deepinv.test``) then runs it.
"""

from __future__ import annotations

from typing import Any

import torch

from nni_lista.base.errors import require
from nni_lista.problem.deepinv_ops import require_deepinv
from nni_lista.problem.problems import Problem


def as_reconstructor(network: torch.nn.Module, problem: Problem):
    """``network`` (trained on ``problem``) wrapped as a ``deepinv.models.Reconstructor``."""
    deepinv: Any = require_deepinv()
    settings = problem.settings
    require(
        "rows" in settings and "image_size" in settings,
        "the problem was not made from deepinv physics (Problem.from_deepinv): nothing says which image it measures",
    )

    class NetworkReconstructor(deepinv.models.Reconstructor):
        """An nni-lista network reconstructing images from deepinv measurements."""

        def __init__(self):
            super().__init__()
            self.network = network
            self.register_buffer("rows", torch.tensor(settings["rows"], dtype=torch.long))
            synthesis = problem.synthesis
            self.register_buffer("synthesis", synthesis.float() if synthesis is not None else torch.empty(0))
            self.image_size = tuple(settings["image_size"])

        def forward(self, y: torch.Tensor, physics=None, **kwargs) -> torch.Tensor:
            b = y.reshape(y.shape[0], -1)[:, self.rows].to(
                self.synthesis.dtype if self.synthesis.numel() else torch.float32
            )
            z = self.network(b)[-1]
            x = z @ self.synthesis.T if self.synthesis.numel() else z
            return x.reshape(y.shape[0], *self.image_size)

    return NetworkReconstructor()
