"""Search the LISTA design space from Python with NNI's own API (sequential engine).

    .venv/bin/python examples/python_api.py
"""

import nni.nas.strategy as strategy
from nni.nas.experiment import NasExperiment, NasExperimentConfig

from nni_lista.problem import problems

from nni_lista.space import spaces
from nni_lista.search.evaluators import multi_trial_evaluator
from nni_lista.train.training import TrainConfig

problem = problems.problem_spec(problems.SyntheticSettings(m=50, n=100, seed=0))
space = spaces.LISTASpace.from_preset("connectivity", m=50, n=100, layers=6)
evaluator = multi_trial_evaluator(problem, TrainConfig(protocol="e2e", max_steps=300, eval_every=100))
config = NasExperimentConfig("sequential", "simplified")
config.max_trial_number = 4
experiment = NasExperiment(space, evaluator, strategy.RegularizedEvolution(population_size=2, sample_size=2, seed=0), config)
experiment.run()
for model in experiment.strategy.list_models(limit=2):
    print(f"validation NMSE {-model.metric:.2f} dB:", {k: v for k, v in model.sample.items() if v == "on"})
experiment.stop()
