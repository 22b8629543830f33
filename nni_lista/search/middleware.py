"""The base of nni-lista's NNI strategy middlewares (:class:`~nni_lista.search.chronicle.Chronicle`,
:class:`~nni_lista.search.deadline.Deadline`): NNI's ``StrategyMiddleware`` leaves submitting,
listing and the event callbacks to each subclass; :class:`PassThrough` passes them all to the
engine below, so a subclass overrides only what it watches."""

from __future__ import annotations

from typing import Callable, Iterable, Optional

from nni.nas.execution.event import ModelEventType
from nni.nas.space import ExecutableModelSpace, ModelStatus
from nni.nas.strategy.middleware import StrategyMiddleware


class PassThrough(StrategyMiddleware):
    """Every model, listing and callback goes to the engine below unchanged."""

    def submit_models(self, *models: ExecutableModelSpace) -> None:
        self.engine.submit_models(*models)

    def list_models(self, status: Optional[ModelStatus] = None) -> Iterable[ExecutableModelSpace]:
        yield from self.engine.list_models(status)

    def register_model_event_callback(self, event_type: ModelEventType, callback: Callable) -> None:
        self.engine.register_model_event_callback(event_type, callback)

    def unregister_model_event_callback(self, event_type: ModelEventType, callback: Callable) -> None:
        self.engine.unregister_model_event_callback(event_type, callback)
