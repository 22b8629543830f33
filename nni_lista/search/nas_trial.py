"""The trial process of ``nni-lista search --port``: NNI's own NAS trial entry
(``python -m nni.nas.execution.training_service trial``), with the parameter record vetted
first (:func:`nni_lista.search.trial_parameters.nas_record`: only our space, our evaluator and NNI's
containers may be named, nothing is unpickled).

The search's experiment config runs ``python -m nni_lista.search.nas_trial -m nni.nas.execution.training_service trial``
(on a remote worker, the console script ``nni-lista-nas-trial`` in the same place).
"""

from __future__ import annotations

import runpy
import sys

from nni_lista.search import trial_parameters

ENTRY = "nni.nas.execution.training_service"


def main() -> None:
    if sys.argv[1:3] != ["-m", ENTRY]:
        print(
            f"usage: python -m nni_lista.search.nas_trial -m {ENTRY} trial (NNI's manager runs this)", file=sys.stderr
        )
        raise SystemExit(2)
    trial_parameters.install(trial_parameters.nas_record)
    sys.argv = [ENTRY, *sys.argv[3:]]
    runpy.run_module(ENTRY, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
