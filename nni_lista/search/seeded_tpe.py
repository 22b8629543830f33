"""NNI's TPE tuner with known points first, shared by the NAS strategy
(:class:`nni_lista.search.warm_start.WarmStartTPE`) and the nnictl tuner
(:class:`nni_lista.search.tuners.WarmTPE`). It imports nothing but NNI's HPO tuner, so that NNI's
dispatcher, which must connect to the manager within 10 seconds of its start, stays quick to load.
"""

from __future__ import annotations

import logging

from nni.algorithms.hpo.tpe_tuner import TpeTuner
from nni.common.hpo_utils import deformat_parameters, format_parameters

_log = logging.getLogger(__name__)


class SeededTpeTuner(TpeTuner):
    """NNI's TPE tuner whose first parameters are the ``seeds``, recorded as its own trials."""

    def __init__(self, seeds: list[dict], **kwargs):
        super().__init__(**kwargs)
        self.seeds = [dict(s) for s in seeds]

    def generate_parameters(self, parameter_id, **kwargs):
        while self.seeds:
            params = format_parameters(self.seeds.pop(0), self.space)
            if self.dedup(params) is not params:  # tried before (the deduplicator offered another); else now recorded
                continue
            self._params[parameter_id] = params
            self._running_params[parameter_id] = params
            _log.info("Seed %d: %s", parameter_id, params)
            return deformat_parameters(params, self.space)
        return super().generate_parameters(parameter_id, **kwargs)
