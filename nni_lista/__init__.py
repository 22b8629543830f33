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

# The public API, stable names under ``nni_lista`` (loaded on first use, so that ``import
# nni_lista`` and the command line's first checks stay light): name -> (module, attribute path).
_EXPORTS = {
    "Problem": ("nni_lista.problem.problems", "Problem"),
    "SyntheticSettings": ("nni_lista.problem.problems", "SyntheticSettings"),
    "make_synthetic": ("nni_lista.problem.problems", "make_synthetic"),
    "problem_spec": ("nni_lista.problem.problems", "problem_spec"),
    "resolve_problem": ("nni_lista.problem.problems", "resolve_problem"),
    "save_problem": ("nni_lista.problem.problems", "save"),
    "build_model": ("nni_lista.models.family", "build"),
    "LISTASpace": ("nni_lista.space.spaces", "LISTASpace"),
    "named_architecture": ("nni_lista.space.architectures", "named_architecture"),
    "load_searched_model": ("nni_lista.space.spaces", "LISTASpace.load_searched_model"),
    "TrainConfig": ("nni_lista.train.training", "TrainConfig"),
    "evaluate": ("nni_lista.train.evaluation", "evaluate"),
    "run_architecture": ("nni_lista.train.runs", "run_architecture"),
    "multi_trial_evaluator": ("nni_lista.search.evaluators", "multi_trial_evaluator"),
    "SearchRequest": ("nni_lista.search.explore", "SearchRequest"),
    "run_search": ("nni_lista.search.explore", "run_search"),
    "as_deepinv_reconstructor": ("nni_lista.models.deepinv_reconstructor", "as_reconstructor"),
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nni_lista' has no attribute {name!r}")
    import importlib

    module, path = _EXPORTS[name]
    value = importlib.import_module(module)
    for part in path.split("."):
        value = getattr(value, part)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
