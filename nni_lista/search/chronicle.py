"""A search's anytime record: when each architecture finished and what it scored.

:class:`Chronicle` is an NNI strategy middleware (``Chain(strategy, ..., Chronicle(...))``)
that passes every model through unchanged and listens to the engine's ``TrainingEnd``
events. For each finished architecture it keeps the seconds since the search started, the
metric the strategy saw (``-NMSE_dB`` on validation, by the search's proxy) and the sample.
:func:`anytime` turns the record into the best-so-far curve a search-efficiency plot draws.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Optional

from nni.nas.execution.event import ModelEventType, TrainingEndEvent
from nni.nas.space import ExecutableModelSpace, ModelStatus
from nni.nas.strategy.middleware import StrategyMiddleware


class Chronicle(StrategyMiddleware):
    """Records ``{"seconds", "metric", "arch"}`` per finished architecture, in finishing order.

    Parameters
    ----------
    started
        ``time.perf_counter()`` at the start of the search (default: when the engine is attached);
        a weight-sharing search passes its start so the supernet's training counts.
    """

    def __init__(self, started: Optional[float] = None) -> None:
        super().__init__()
        self.started = started
        self.events: list[dict] = []

    def _initialize_engine(self, engine) -> None:
        if self.started is None:
            self.started = time.perf_counter()
        engine.register_model_event_callback(ModelEventType.TrainingEnd, self._record)

    def _cleanup(self) -> None:
        self.engine.unregister_model_event_callback(ModelEventType.TrainingEnd, self._record)

    def _record(self, event: TrainingEndEvent) -> None:
        metric = event.model.metric if event.status == ModelStatus.Trained else None
        self.events.append({"seconds": round(time.perf_counter() - self.started, 3),
                            "metric": None if metric is None else float(metric),
                            "arch": dict(event.model.sample)})

    # everything else passes through to the engine below
    def submit_models(self, *models: ExecutableModelSpace) -> None:
        self.engine.submit_models(*models)

    def list_models(self, status: Optional[ModelStatus] = None) -> Iterable[ExecutableModelSpace]:
        yield from self.engine.list_models(status)

    def register_model_event_callback(self, event_type: ModelEventType, callback: Callable) -> None:
        self.engine.register_model_event_callback(event_type, callback)

    def unregister_model_event_callback(self, event_type: ModelEventType, callback: Callable) -> None:
        self.engine.unregister_model_event_callback(event_type, callback)

    def state_dict(self) -> dict:
        return {"events": list(self.events)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.events = list(state_dict.get("events", []))


def anytime(events: list[dict]) -> list[dict]:
    """The best-so-far curve of a record: one point per finished architecture,
    ``{"evaluated", "seconds", "best_metric"}`` (``None`` until one has a metric)."""
    curve, best = [], None
    for count, event in enumerate(events, start=1):
        if event["metric"] is not None and (best is None or event["metric"] > best):
            best = event["metric"]
        curve.append({"evaluated": count, "seconds": event["seconds"], "best_metric": best})
    return curve
