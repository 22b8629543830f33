"""NNI's HPO tuners and assessor for ``nnictl create``, with a dispatcher that decodes plain JSON.

NNI's dispatcher (the Python process that runs the tuner and the assessor) decodes every
message from the manager with ``nni.load``, which unpickles ``{"__nni_obj__": base64}``
(cloudpickle) and imports and calls ``{"__nni_type__": "path:..."}``. A trial added through the
manager's REST API (``POST /api/v1/nni/trial-jobs``, no authentication) carries its parameters
to the dispatcher when it ends, so such a parameter would run code in the dispatcher even
though the trial itself refuses it (:mod:`nni_lista.search.trial_parameters`).

Importing this module replaces that decoder in the dispatcher with :func:`plain_load`
(:func:`json.loads`): NNI's markers stay inert data. ``strategies/*.yml`` name the classes
below (``className: nni_lista.search.tuners.TPE``), which are NNI's own tuners, unchanged; the
dispatcher imports this module before it reads any message. NNI's messages between the
manager and an HPO tuner are plain JSON (search space, parameters, metrics), so nothing else
changes. Configs that name a built-in tuner (``name: TPE``) get NNI's decoder.

The tuners also refuse a manager that listens beyond loopback (plain ``nnictl create`` without
``NODE_OPTIONS=--require=.../localhost.js``) when the manager sends them the search space, the
first thing an experiment does: the dispatcher stops, NNI marks the experiment ERROR before any
trial starts, and the reason is in the manager's log (``nnictl log stderr``), not only in each
trial's stderr. ``NNI_LISTA_ALLOW_EXPOSED_MANAGER=1`` lets it run.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any, Optional

import nni.runtime.msg_dispatcher as _dispatcher
import nni.runtime.msg_dispatcher_base as _dispatcher_base
import nni.runtime.tuner_command_channel.channel as _channel
from nni.algorithms.hpo.evolution_tuner import EvolutionTuner
from nni.algorithms.hpo.gridsearch_tuner import GridSearchTuner
from nni.algorithms.hpo.hyperopt_tuner import HyperoptTuner
from nni.algorithms.hpo.medianstop_assessor import MedianstopAssessor
from nni.algorithms.hpo.random_tuner import RandomTuner
from nni.algorithms.hpo.tpe_tuner import TpeTuner

from nni_lista.base.errors import UsageError
from nni_lista.search.trial_parameters import refuse_exposed_manager
from nni_lista.search.seeded_tpe import SeededTpeTuner

_log = logging.getLogger(__name__)


def plain_load(string: Optional[str] = None, *, fp: Any = None, **_ignored: Any) -> Any:
    """``nni.load``'s signature, plain JSON's behaviour (no unpickling, no imports)."""
    return json.loads(string if string is not None else fp.read())


for _module in (_dispatcher, _dispatcher_base, _channel):
    _module.load = plain_load


class _LocalManagerOnly:
    """Refuses an exposed manager before the first search space is taken (see the module)."""

    def update_search_space(self, search_space):
        try:
            refuse_exposed_manager("NNI_TUNER_COMMAND_CHANNEL")
        except UsageError as exc:
            # NNI's dispatcher only logs an exception of its command thread and goes on waiting, so
            # the experiment would stay RUNNING with nothing to run: end the process, and the
            # manager marks the experiment ERROR ("tuner may have crashed") at once
            _log.error("nni-lista refuses to run: %s", exc)
            print(f"nni-lista: error: {exc}", file=sys.stderr, flush=True)
            logging.shutdown()
            os._exit(2)
        return super().update_search_space(search_space)


class TPE(_LocalManagerOnly, TpeTuner):
    """NNI's TPE tuner (built-in name ``TPE``)."""


class WarmTPE(_LocalManagerOnly, SeededTpeTuner):
    """NNI's TPE tuner whose first trials are the family members (LISTA ... HyperLISTA) that the
    search space it is given can express (``space``: the preset its file was exported from; the
    depth is read from the labels), recorded as TPE's own trials so that they shape its Parzen
    estimators: the same warm start as ``nni-lista search --strategy tpe``."""

    def __init__(self, space: str = "full", **kwargs):
        super().__init__([], **kwargs)
        self.preset = space

    def update_search_space(self, search_space):
        from nni_lista.base.limits import label_layer
        from nni_lista.search.warm_start import family_seeds
        from nni_lista.space.architectures import PRESETS

        layers = max((label_layer(label) or 0) for label in search_space)
        self.seeds = [seed for seed in family_seeds(PRESETS[self.preset], layers) if set(seed) <= set(search_space)]
        return super().update_search_space(search_space)


class Random(_LocalManagerOnly, RandomTuner):
    """NNI's Random tuner (built-in name ``Random``)."""


class Evolution(_LocalManagerOnly, EvolutionTuner):
    """NNI's Evolution tuner (built-in name ``Evolution``)."""


class GridSearch(_LocalManagerOnly, GridSearchTuner):
    """NNI's GridSearch tuner (built-in name ``GridSearch``)."""


class Anneal(_LocalManagerOnly, HyperoptTuner):
    """NNI's Anneal tuner (built-in name ``Anneal``: hyperopt's simulated annealing)."""

    def __init__(
        self, optimize_mode: str = "minimize", parallel_optimize: bool = False, constant_liar_type: str = "min"
    ):
        super().__init__("anneal", optimize_mode, parallel_optimize, constant_liar_type)


class Medianstop(MedianstopAssessor):
    """NNI's Medianstop assessor (built-in name ``Medianstop``)."""
