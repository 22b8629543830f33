"""Training throughput of the LISTA family at 250x500, T=16, as samples/s and as a fraction of
this machine's dense matrix-multiply rate, all measured in this one run.

    .venv/bin/python benchmarks/throughput.py [--quick] [--batches 64,256] [--models lista,...]

One training step = a fresh batch, forward to the last layer, backward, Adam. Its
floating-point operations are counted by ``torch.utils.flop_counter.FlopCounterMode`` on the
forward and backward pass (the matrix products; element-wise work is not counted), so the
fraction says how close a step runs to back-to-back dense GEMMs. The reference rate is the best
of several square float32 GEMMs of size 2048 (``torch.mm``). Adam is timed both ways: PyTorch's
default (``foreach``) and the fused kernel that training uses (:func:`nni_lista.train.training.adam`).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from nni_lista.models import family

from nni_lista.problem import problems
from nni_lista.base.tables import markdown_table
from nni_lista.train.training import layer_loss


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


def step_flops(model, problem, batch: int) -> int:
    data = problem.train_batch(batch, torch.Generator().manual_seed(0))
    with FlopCounterMode(display=False) as counter:
        layer_loss(model, problem, data.b, data.s, model.layers - 1).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def step_seconds(model, problem, batch: int, steps: int, fused: bool) -> float:
    """Median seconds of one training step (fresh batch included), after a warm-up."""
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, fused=fused, foreach=None if fused else True)
    generator = torch.Generator().manual_seed(0)
    times = []
    for i in range(steps + 3):
        start = time.perf_counter()
        data = problem.train_batch(batch, generator)
        loss = layer_loss(model, problem, data.b, data.s, model.layers - 1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= 3:
            times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about a minute)")
    parser.add_argument("--m", type=int, default=250)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--batches", default="64,256", help="comma-separated batch sizes (default 64,256)")
    parser.add_argument("--models", default="lista,lista-cp,lista-cpss,alista")
    args = parser.parse_args()
    steps = 15 if args.quick else 60
    problem = problems.make_synthetic(problems.SyntheticSettings(m=args.m, n=args.n, n_val=1, n_test=1))
    peak = gemm_rate(2048, 5 if args.quick else 20)
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        for name in args.models.split(","):
            flops = step_flops(family.build(name, problem.A, args.layers), problem, batch)
            for fused in (False, True):
                seconds = step_seconds(family.build(name, problem.A, args.layers), problem, batch, steps, fused)
                rate = flops / seconds / 1e9
                rows.append([name, batch, "fused" if fused else "foreach", seconds * 1e3, batch / seconds, rate, rate / peak])
    print(f"threads {torch.get_num_threads()}; dense GEMM rate {peak:.1f} GFLOP/s; {args.m}x{args.n}, T={args.layers}")
    print(markdown_table(["model", "batch", "Adam", "ms/step", "samples/s", "GFLOP/s", "fraction of GEMM rate"], rows))


if __name__ == "__main__":
    main()
