"""Training throughput of LISTA-16 at 250x500, as samples/s and as a fraction of this
machine's dense matrix-multiply rate, both measured in this one run.

    .venv/bin/python benchmarks/throughput.py [--quick] [--batch 64] [--layers 16] [--m 250 --n 500]

A LISTA training step (forward, backward, Adam) does three dense products per matrix
product of the forward pass (the output, and the gradients of the input and the weight):
``3 * 2 * batch * (m n + (T - 1) n^2)`` floating-point operations. The reference rate is
the best of several square float32 GEMMs of size 2048 (``torch.mm``).
"""

from __future__ import annotations

import argparse
import time

import torch

from nni_lista import family, problems
from nni_lista.training import layer_loss
from nni_lista.tables import markdown_table


def gemm_rate(size: int, repeats: int) -> float:
    """Best observed float32 GEMM rate in GFLOP/s."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def lista_step_seconds(problem, layers: int, batch: int, steps: int) -> float:
    """Median seconds of one LISTA training step (fresh batch included)."""
    model = family.build("lista", problem.A, layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    generator = torch.Generator().manual_seed(0)
    times = []
    for i in range(steps + 3):
        start = time.perf_counter()
        data = problem.train_batch(batch, generator)
        loss = layer_loss(model, problem, data.b, data.s, layers - 1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= 3:  # warm-up
            times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about 20 s)")
    parser.add_argument("--m", type=int, default=250)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    steps = 30 if args.quick else 150
    problem = problems.make_synthetic(problems.SyntheticSettings(m=args.m, n=args.n, n_val=1, n_test=1))
    peak = gemm_rate(2048, 5 if args.quick else 20)
    seconds = lista_step_seconds(problem, args.layers, args.batch, steps)
    flops = 3 * 2 * args.batch * (args.m * args.n + (args.layers - 1) * args.n**2)
    achieved = flops / seconds / 1e9
    print(markdown_table(
        ["what", "value"],
        [
            ["threads", torch.get_num_threads()],
            ["dense GEMM rate (GFLOP/s)", peak],
            [f"LISTA-{args.layers} {args.m}x{args.n} batch {args.batch}: ms/step", seconds * 1e3],
            ["training samples/s", args.batch / seconds],
            ["training GFLOP/s", achieved],
            ["fraction of GEMM rate", achieved / peak],
        ],
    ))


if __name__ == "__main__":
    main()
