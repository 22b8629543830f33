"""nni-lista: the design space of unrolled sparse-coding networks (LISTA) for Microsoft NNI.

Modules, one idea each: :mod:`~nni_lista.problems` (sparse recovery instances),
:mod:`~nni_lista.metrics` (NMSE, PSNR), :mod:`~nni_lista.neurons` (thresholds),
:mod:`~nni_lista.family` (ISTA ... ALISTA), :mod:`~nni_lista.sklearn_baselines`,
:mod:`~nni_lista.training` (stage-wise and end-to-end protocols), :mod:`~nni_lista.runs`
and :mod:`~nni_lista.cli`.
"""

__version__ = "0.1.0"
