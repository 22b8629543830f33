"""Search the LISTA design space from Python: NNI's own experiment API on nni-lista's space,
with nothing but ``nni_lista``'s public names (``nni_lista.__all__``).

    .venv/bin/python examples/python_api.py
"""

import nni.nas.strategy as strategy
from nni.nas.experiment import NasExperiment, NasExperimentConfig

import nni_lista

problem = nni_lista.problem_spec(nni_lista.SyntheticSettings(m=50, n=100, seed=0))
space = nni_lista.LISTASpace.from_preset("connectivity", m=50, n=100, layers=6)
evaluator = nni_lista.multi_trial_evaluator(
    problem, nni_lista.TrainConfig(protocol="e2e", max_steps=300, eval_every=100)
)
config = NasExperimentConfig("sequential", "simplified")
config.max_trial_number = 4
experiment = NasExperiment(
    space, evaluator, strategy.RegularizedEvolution(population_size=2, sample_size=2, seed=0), config
)
experiment.run()
for model in experiment.strategy.list_models(limit=2):
    print(f"validation NMSE {-model.metric:.2f} dB:", {k: v for k, v in model.sample.items() if v == "on"})
experiment.stop()

# a family member, built by name, and how it tests on the same problem
alista = nni_lista.load_searched_model("alista", m=50, n=100, layers=6, A=nni_lista.resolve_problem(problem).A)
print(
    "ALISTA, untrained (its analytic form): test NMSE "
    f"{nni_lista.evaluate(alista, nni_lista.resolve_problem(problem))['nmse_db']:.2f} dB"
)
