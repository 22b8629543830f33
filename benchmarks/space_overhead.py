"""Training-step time of networks from the design space, relative to the plain LISTA of
:mod:`nni_lista.models.family`, all measured in this one run on the same problem and batch.

    .venv/bin/python benchmarks/space_overhead.py [--quick] [--m 250 --n 500 --layers 16 --batch 64]

Prints two ratios (goals in brackets):
* frozen ``lista`` preset of the space / plain LISTA  (<= 1.05)
* DARTS supernet of the ``paper`` space (every skip, every neuron) / plain LISTA  (<= 3)
and, for comparison, the supernet that NNI's generic mixing makes when the space does not hand
DARTS its skip-edge hook (:mod:`nni_lista.space.mixed_skip`).
A step is forward, backward and an Adam update on a fresh batch; the median of repeated
steps is used, and the models are measured in interleaved rounds so drift hits all alike.
"""

from __future__ import annotations

import argparse
import time

import torch

from nni_lista.search import compat  # noqa: F401
from nni.nas.strategy import DARTS

from nni_lista.models import family

from nni_lista.problem import problems

from nni_lista.space import architectures, spaces
from nni_lista.space.layers import initialise
from nni_lista.base.tables import markdown_table
from nni_lista.train.training import adam


def step_timer(model, problem, batch: int):
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = adam(params, lr=1e-4)
    generator = torch.Generator().manual_seed(0)

    def step() -> float:
        data = problem.train_batch(batch, generator)
        start = time.perf_counter()
        loss = (model(data.b)[-1] - data.s).pow(2).sum(dim=1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return time.perf_counter() - start

    return step


class GenericMixing(spaces.LISTASpace):
    """The space without its one-shot hook: NNI mixes every skip edge as it mixes any choice."""

    def extra_oneshot_hooks(self, strategy) -> list:
        return []


def darts_supernet(m: int, n: int, layers: int, A, space_class=spaces.LISTASpace):
    space = space_class.from_preset("paper", m, n, layers)
    supernet = DARTS().mutate_model(space)  # NNI's own conversion: every choice becomes a mixed op
    return initialise(supernet, A, family.DEFAULT_LAM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--m", type=int, default=250)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    rounds, per_round = (4, 5) if args.quick else (10, 10)
    problem = problems.make_synthetic(problems.SyntheticSettings(m=args.m, n=args.n, n_val=1, n_test=1))
    models = {
        "plain LISTA (family)": family.build("lista", problem.A, args.layers),
        "frozen lista preset (space)": spaces.build(
            architectures.named_architecture("lista", args.layers), args.m, args.n, problem.A
        ),
        "DARTS supernet (paper space)": darts_supernet(args.m, args.n, args.layers, problem.A),
        "DARTS supernet, NNI's generic skip mixing": darts_supernet(
            args.m, args.n, args.layers, problem.A, GenericMixing
        ),
    }
    timers = {name: step_timer(model, problem, args.batch) for name, model in models.items()}
    times = {name: [] for name in models}
    for name, step in timers.items():  # warm-up
        step(), step()
    for _ in range(rounds):
        for name, step in timers.items():
            times[name].extend(step() for _ in range(per_round))
    median = {name: sorted(v)[len(v) // 2] for name, v in times.items()}
    base = median["plain LISTA (family)"]
    print(f"{args.m}x{args.n}, T={args.layers}, batch {args.batch}, {torch.get_num_threads()} threads")
    print(
        markdown_table(
            ["network", "ms/step", "ratio to plain LISTA"], [[name, 1e3 * t, t / base] for name, t in median.items()]
        )
    )


if __name__ == "__main__":
    main()
