"""A search's anytime record: when each architecture finished and what it scored.

:class:`Chronicle` is an NNI strategy middleware (``Chain(strategy, ..., Chronicle(...))``)
that passes every model through unchanged and listens to the engine's ``FinalMetric`` and
``TrainingEnd`` events (the latter for trials that end without a metric). For each finished
architecture it keeps the seconds since the search started, the
metric the strategy saw (``-NMSE_dB`` on validation, by the search's proxy) and the sample.
:func:`anytime` turns the record into the best-so-far curve a search-efficiency plot draws.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Callable, Iterable, Optional

from nni.nas.execution.event import FinalMetricEvent, ModelEventType, TrainingEndEvent
from nni.nas.space import ExecutableModelSpace, ModelStatus

from nni_lista.search.middleware import PassThrough


class Chronicle(PassThrough):
    """Records ``{"seconds", "metric", "arch"}`` per finished architecture, in finishing order.

    Parameters
    ----------
    started
        ``time.perf_counter()`` at the start of the search (default: when the engine is attached);
        a weight-sharing search passes its start so the supernet's training counts.
    """

    def __init__(
        self,
        started: Optional[float] = None,
        total: Optional[int] = None,
        report: Optional[Callable[[str], None]] = None,
    ) -> None:
        super().__init__()
        self.started = started
        self.total, self.report = total, report  # with report: one line per finished architecture
        self.events: list[dict] = []
        # NNI's training-service engine holds submitted models by weak reference and drops the
        # events of a model nobody else holds (NNI's strategies do not all keep theirs): keep each
        # one alive until its training has ended, or its metric and end never reach anyone
        self._running: dict[int, ExecutableModelSpace] = {}
        self._scored: set[int] = set()  # ids of running models whose metric is recorded

    def _initialize_engine(self, engine) -> None:
        if self.started is None:
            self.started = time.perf_counter()
        engine.register_model_event_callback(ModelEventType.FinalMetric, self._record_metric)
        engine.register_model_event_callback(ModelEventType.TrainingEnd, self._record_end)

    def _cleanup(self) -> None:
        self.engine.unregister_model_event_callback(ModelEventType.FinalMetric, self._record_metric)
        self.engine.unregister_model_event_callback(ModelEventType.TrainingEnd, self._record_end)

    def _append(self, model: ExecutableModelSpace, metric) -> None:
        if isinstance(metric, dict):  # a trial's dict metric, as the training-service engine passes it on
            metric = metric.get("default")
        if self.started is None:  # set when the engine starts, before any model runs
            self.started = time.perf_counter()
        self.events.append(
            {
                "seconds": round(time.perf_counter() - self.started, 3),
                "metric": None if metric is None else float(metric),
                "arch": dict(model.sample),
            }
        )
        done = len(self.events)
        every = 1 if not self.total or self.total <= 40 else -(-self.total // 20)  # at most about 20 lines
        if self.report is not None and (done % every == 0 or done == self.total):
            self.report(progress_line(self.events, self.total))

    def _record_metric(self, event: FinalMetricEvent) -> None:
        """A scored architecture, when its metric arrives (the training-service engine may stop
        before the last trial's end reaches it)."""
        if id(event.model) not in self._scored:
            self._append(event.model, event.metric)
            self._scored.add(id(event.model))

    def _record_end(self, event: TrainingEndEvent) -> None:
        """An architecture that ended without a metric (failed) is recorded with ``None``."""
        key = id(event.model)
        if key not in self._scored:
            metric = event.model.metric if event.status == ModelStatus.Trained else None
            self._append(event.model, metric)
        self._scored.discard(key)
        self._running.pop(key, None)

    def complete(self, models: Iterable[ExecutableModelSpace]) -> None:
        """After the search: record the scored architectures of ``models`` (all the strategy
        evaluated) that no event brought, e.g. the last trial's when NNI's training-service
        engine stopped before passing its metric on; their seconds are when this is called."""

        def key(arch: dict) -> str:
            return json.dumps(arch, sort_keys=True, default=str)

        seen = Counter(key(event["arch"]) for event in self.events)
        for model in models:
            arch = dict(model.sample)
            if seen[key(arch)] > 0:
                seen[key(arch)] -= 1
            elif model.metrics.final is not None:
                self._append(model, model.metrics.final)
                self.events[-1]["late"] = True

    # everything else passes through to the engine below (PassThrough)
    def submit_models(self, *models: ExecutableModelSpace) -> None:
        self._running.update((id(model), model) for model in models)
        super().submit_models(*models)

    def state_dict(self) -> dict:
        return {"events": list(self.events)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.events = list(state_dict.get("events", []))


def progress_line(events: list[dict], total: Optional[int]) -> str:
    """ "architecture 3 of 16: validation NMSE -25.10 dB (best so far -26.18 dB); 41 s, about
    178 s left" for the last of ``events`` (the time left assumes the same pace)."""
    done, last = len(events), events[-1]
    scored = [e["metric"] for e in events if e["metric"] is not None]
    what = "failed" if last["metric"] is None else f"validation NMSE {-last['metric']:.2f} dB"
    best = f" (best so far {-max(scored):.2f} dB)" if scored else ""
    count = f"{done} of {total}" if total else f"{done}"
    left = ""
    if total and done < total:
        left = f", about {last['seconds'] / done * (total - done):.0f} s left"
    return f"architecture {count}: {what}{best}; {last['seconds']:.0f} s{left}"


def anytime(events: list[dict]) -> list[dict]:
    """The best-so-far curve of a record: one point per finished architecture,
    ``{"evaluated", "seconds", "best_metric"}`` (``None`` until one has a metric)."""
    curve, best = [], None
    for count, event in enumerate(events, start=1):
        if event["metric"] is not None and (best is None or event["metric"] > best):
            best = event["metric"]
        curve.append({"evaluated": count, "seconds": event["seconds"], "best_metric": best})
    return curve
