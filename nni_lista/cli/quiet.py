"""Quiet by default: NNI's and Lightning's chatter held back (``--verbose`` shows it)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path


#: loggers whose records carry nothing for a user at their INFO level (NNI's engine and experiment
#: chatter, Lightning's trainer setup and advice); ``--verbose`` shows them
QUIET_LOGGERS = ("nni", "pytorch_lightning", "lightning.pytorch", "lightning_fabric")


def _nni_loggers() -> list[str]:
    """The loggers of NNI's sub-packages (``nni.nas``, ``nni.experiment``, ...), found without
    importing NNI: importing it sets the ``nni`` logger's own level to INFO, which a level set on
    ``nni`` before would not survive, while one set on its sub-packages' loggers does."""
    import importlib.util

    spec = importlib.util.find_spec("nni")
    folders = [Path(folder) for folder in (spec.submodule_search_locations or [])] if spec else []
    return [
        f"nni.{path.stem}"
        for folder in folders
        for path in folder.iterdir()
        if path.stem.isidentifier() and (path.is_dir() or path.suffix == ".py")
    ]


#: NNI warnings about how a one-shot search uses it on purpose (logger -> the message's start): its
#: evaluator has no checkpoint callback and no validation loader (the strategy's choice is exported)
EXPECTED_NNI_WARNINGS = {
    "nni.nas.oneshot.pytorch.strategy": "Checkpoint callback is found to be None",
    "nni.nas.evaluator.pytorch.lightning": "Validation dataloaders are missing",
}


class _Expected(logging.Filter):
    """Drops one expected warning (:data:`EXPECTED_NNI_WARNINGS`)."""

    def __init__(self, start: str):
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


def _set_verbosity(verbose: bool) -> None:
    """Hold back NNI's and Lightning's info lines, Lightning's warnings and NNI's expected
    warnings (they would bury our tables and one-line errors), or, with ``--verbose``, show all."""
    for name in (*QUIET_LOGGERS, *_nni_loggers()):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    for name, start in EXPECTED_NNI_WARNINGS.items():  # set on the logger before NNI makes it: NNI keeps it
        log = logging.getLogger(name)
        for old in [f for f in log.filters if isinstance(f, _Expected)]:
            log.removeFilter(old)
        if not verbose:
            log.addFilter(_Expected(start))
    if not verbose:
        warnings.filterwarnings("ignore", module=r"pytorch_lightning(\..*)?$")
