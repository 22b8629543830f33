"""Architectures per hour at a search proxy: one at a time, as one batched computation
(:mod:`nni_lista.train.batched`), and two at a time in two threads, measured in one run.

    .venv/bin/python benchmarks/batched_training.py [--quick] [--archs 4] [--m 250] [--steps 500]

``--archs`` random architectures of the ``paper`` space (T = 16, every choice of neuron and
skip) are trained end to end with the study's search proxy (``--steps`` Adam steps, batch
256, learning rate 2e-3, validation every 250 steps), three ways, on the same problem and
training seed:

* one at a time: :func:`nni_lista.train.training.train` per architecture, with the process's
  threads (what a multi-trial search does now);
* batched: all of them as one :class:`~nni_lista.train.batched.StackedNetworks`, one step for
  all (batched matrix products);
* two threads: two architectures at once, each on its own Python thread with one intra-op
  thread (``torch.set_num_threads(1)``), i.e. one core each on a 2-core machine.

Printed: wall seconds, architectures per hour, the ratio to one at a time, the largest
difference of any architecture's validation NMSE from its one-at-a-time value, and each
architecture's value. The three ways compute the same steps but round differently (a batched
product or a one-thread product sums in another order); over hundreds of steps at a high
learning rate some architectures amplify that difference, which the two-thread way (the same
code as one at a time) shows as well. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import random
import threading
import time

import torch

from nni_lista.base.tables import markdown_table
from nni_lista.problem import problems
from nni_lista.space import architectures, spaces
from nni_lista.train import batched
from nni_lista.train.evaluation import evaluate
from nni_lista.train.training import TrainConfig, train


def sample_architectures(count: int, layers: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    paper = architectures.PRESETS["paper"]
    values = architectures.labels(layers, paper)
    return [
        architectures.complete({label: rng.choice(options) for label, options in values.items()}, layers, paper)
        for _ in range(count)
    ]


def one_at_a_time(networks, problem, config):
    for net in networks:
        train(net, problem, config, progress=False)


def two_threads(networks, problem, config):
    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)
    queue = list(networks)
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                net = queue.pop(0)
            train(net, problem, config, progress=False)

    try:
        workers = [threading.Thread(target=worker) for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        torch.set_num_threads(threads_before)


def together(networks, problem, config):
    for result in batched.train_together(networks, problem, config, progress=False):
        if isinstance(result, Exception):
            raise result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 architectures of 100x200, T = 8, 60 steps (seconds)")
    parser.add_argument("--archs", type=int, default=4)
    parser.add_argument("--m", type=int, default=250, help="measurements; n = 2m")
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0, help="architectures, problem and training seed")
    args = parser.parse_args()
    if args.quick:
        args.m, args.layers, args.steps = 100, 8, 60
    problem = problems.make_synthetic(problems.SyntheticSettings(m=args.m, n=2 * args.m, seed=args.seed))
    config = TrainConfig(
        protocol="e2e", max_steps=args.steps, batch=256, lr=2e-3, eval_every=min(250, args.steps), seed=args.seed
    )
    archs = sample_architectures(args.archs, args.layers, args.seed)
    print(
        f"{len(archs)} architectures of the paper space, {args.m}x{2 * args.m}, T = {args.layers}, "
        f"{args.steps} steps at batch 256; {torch.get_num_threads()} threads"
    )
    rows, reference, per_arch = [], None, []
    for name, method in (("one at a time", one_at_a_time), ("batched", together), ("two threads", two_threads)):
        networks = [spaces.build(arch, problem.m, problem.n, problem.A) for arch in archs]
        started = time.perf_counter()
        method(networks, problem, config)
        seconds = time.perf_counter() - started
        values = [evaluate(net, problem, problem.val)["nmse_db"] for net in networks]
        per_arch.append(values)
        reference = reference or (seconds, values)
        diff = max(abs(a - b) for a, b in zip(values, reference[1]))
        rows.append(
            [
                name,
                f"{seconds:.1f}",
                f"{3600 * len(archs) / seconds:.0f}",
                f"{reference[0] / seconds:.2f}",
                f"{diff:.4f}",
            ]
        )
    print(
        markdown_table(
            ["training", "wall s", "architectures / hour", "speed-up", "largest val NMSE difference (dB)"], rows
        )
    )
    print("\nValidation NMSE (dB) of each architecture:")
    print(
        markdown_table(
            ["architecture", *(row[0] for row in rows)],
            [[str(i + 1), *(f"{values[i]:.3f}" for values in per_arch)] for i in range(len(archs))],
        )
    )


if __name__ == "__main__":
    main()
