"""A wall-time bound on a search (``search --max-seconds``), for every kind of strategy.

* Multi-trial and weight-sharing strategies: :class:`Deadline`, an NNI strategy middleware whose
  ``budget_available()`` turns false once the bound has passed. NNI's strategies ask it before
  every proposal (``Strategy.wait_for_resource``), so no new architecture starts after the
  bound; the one training then finishes (a proxy run: seconds to minutes) and is kept. The
  first architecture always runs, so a bounded search still returns one.
* One-shot strategies: Lightning's own ``max_time`` on the supernet's trainer
  (:func:`nni_lista.search.evaluators.one_shot_evaluator`), checked after every batch.
* Weight-sharing: the supernet trains for at most :data:`SUPERNET_SHARE` of the bound, the
  subnets are scored in the rest.
"""

from __future__ import annotations

import time
from typing import Optional

from nni_lista.search.middleware import PassThrough

SUPERNET_SHARE = 0.8


class Deadline(PassThrough):
    """No new architecture after ``seconds`` from ``started`` (``time.perf_counter()``).

    ``expired`` says afterwards whether the bound stopped the search before its budget."""

    def __init__(self, seconds: float, started: Optional[float] = None) -> None:
        super().__init__()
        self.seconds = float(seconds)
        self.started = started
        self.submitted = 0
        self.expired = False

    def _initialize_engine(self, engine) -> None:
        if self.started is None:
            self.started = time.perf_counter()

    def submit_models(self, *models) -> None:
        self.submitted += len(models)
        super().submit_models(*models)

    def budget_available(self) -> bool:
        if not self.engine.budget_available():
            return False
        if self.submitted > 0 and self.started is not None and time.perf_counter() - self.started >= self.seconds:
            self.expired = True
            return False
        return True

    def state_dict(self) -> dict:
        return {"submitted": self.submitted, "expired": self.expired}

    def load_state_dict(self, state_dict: dict) -> None:
        self.submitted = int(state_dict.get("submitted", 0))
        self.expired = bool(state_dict.get("expired", False))

    def extra_repr(self) -> str:
        return f"seconds={self.seconds:g}"
