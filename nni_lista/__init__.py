"""nni-lista: the design space of unrolled sparse-coding networks (LISTA) for Microsoft NNI.

Sub-packages, one layer each, lowest first; a layer imports only from the layers below it
(``tests/test_layers.py`` checks this with import-linter):

* :mod:`nni_lista.base` -- one-line errors, atomic files, size limits, devices, tables;
* :mod:`nni_lista.problem` -- sparse-recovery problems and their metrics (NMSE, PSNR);
* :mod:`nni_lista.models` -- the LISTA family (ISTA ... ALISTA) in plain PyTorch;
* :mod:`nni_lista.space` -- the NNI model spaces (neurons, layers, LISTA and D-LADMM backbones);
* :mod:`nni_lista.train` -- training protocols, scoring, one run of any model;
* :mod:`nni_lista.search` -- NNI strategies, trials, evaluators, the manager, NNI shims;
* :mod:`nni_lista.study` -- the design-space study (config, plan, summary, analysis, figures);
* :mod:`nni_lista.cli` -- the ``nni-lista`` command.
"""

__version__ = "0.1.0"
