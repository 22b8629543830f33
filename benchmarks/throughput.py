"""Training throughput of the LISTA family at 250x500, T=16, as samples/s and as a fraction of
this machine's dense matrix-multiply rate, all measured in this one run.

    .venv/bin/python benchmarks/throughput.py [--quick] [--batches 64,256] [--models lista,...] [--compile]

One training step = a fresh batch, forward to the last layer, backward, Adam. Its
floating-point operations are counted by ``torch.utils.flop_counter.FlopCounterMode`` on the
forward and backward pass (the matrix products; element-wise work is not counted), so the
fraction says how close a step runs to back-to-back dense GEMMs. The reference rate is the best
of several square float32 GEMMs of size 2048 (``torch.mm``). Adam is timed both ways: PyTorch's
default (``foreach``) and the fused kernel that training uses (:func:`nni_lista.train.training.adam`).

The last column is the ceiling for that fraction on this machine: the step's own matrix products
(recorded as they are dispatched, with their shapes and memory layouts) replayed back to back
on their own, with nothing else in between. A step cannot run its products faster than they
run alone, so no implementation of the same step gets above that fraction. The column after it
adds the fused Adam update alone (random gradients): a ceiling for any step that keeps exact
Adam over the same parameters, whose update streams every parameter and both moments through
memory once per step.

With ``--compile``, each model is also timed with its loss compiled as ``--compile`` training
compiles it (:func:`nni_lista.train.training.compiled_loss`, fused Adam), and the compilation
itself, each in a new process as a run pays it (PyTorch's compiler starting up included): cold
(an empty cache directory) and warm (the cache directory the cold one filled: what a second run
of the same network pays).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from nni_lista.models import family

from nni_lista.problem import problems
from nni_lista.base.tables import markdown_table
from nni_lista.train.training import compiled_loss, layer_loss


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


class _Products(TorchDispatchMode):
    """Records each matrix product dispatched (the op and its tensor arguments' shapes and strides)."""

    OPS = ("aten.mm", "aten.addmm", "aten.bmm", "aten.baddbmm")

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if str(func.overloadpacket) in self.OPS:
            self.calls.append(
                (func, [(tuple(a.shape), a.stride()) if isinstance(a, torch.Tensor) else a for a in args])
            )
        return func(*args, **(kwargs or {}))


def products_alone(model, problem, batch: int, rounds: int) -> float:
    """Fastest seconds of one training step's matrix products, forward and backward, replayed on
    their own with fresh tensors of the same shapes and strides (the products whose FLOPs
    :func:`step_flops` counts)."""
    data = problem.train_batch(batch, torch.Generator().manual_seed(0))
    with _Products() as recorder:
        layer_loss(model, problem, data.b, data.s, model.layers - 1).backward()
    model.zero_grad(set_to_none=True)
    calls = [
        (func, [torch.empty_strided(*spec).normal_() if isinstance(spec, tuple) else spec for spec in specs])
        for func, specs in recorder.calls
    ]
    best = float("inf")
    for _ in range(rounds + 2):
        start = time.perf_counter()
        for func, tensors in calls:
            func(*tensors)
        best = min(best, time.perf_counter() - start)
    return best


def adam_alone(model, rounds: int) -> float:
    """Fastest seconds of one fused Adam update of ``model``'s parameters, gradients given."""
    for param in model.parameters():
        param.grad = torch.randn_like(param)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, fused=True)
    best = float("inf")
    for _ in range(rounds + 2):
        start = time.perf_counter()
        optimizer.step()
        best = min(best, time.perf_counter() - start)
    return best


def step_seconds(model, problem, batch: int, steps: int, fused: bool, loss_fn=None) -> float:
    """Median seconds of one training step (fresh batch included), after a warm-up; ``loss_fn(b, s)``
    the loss (default: the eager :func:`layer_loss` of the last layer)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, fused=fused, foreach=None if fused else True)
    generator = torch.Generator().manual_seed(0)
    loss_fn = loss_fn or (lambda b, s: layer_loss(model, problem, b, s, model.layers - 1))
    times = []
    for i in range(steps + 3):
        start = time.perf_counter()
        data = problem.train_batch(batch, generator)
        loss = loss_fn(data.b, data.s)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= 3:
            times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def compile_seconds(model, problem, batch: int) -> tuple:
    """(the compiled loss, seconds of its first forward and backward) for ``model``."""
    data = problem.train_batch(batch, torch.Generator().manual_seed(0))
    loss_fn = compiled_loss(model, problem, model.layers - 1)
    start = time.perf_counter()
    loss_fn(data.b, data.s).backward()
    seconds = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    return loss_fn, seconds


def fresh_process_compile(name: str, m: int, n: int, layers: int, batch: int, cache: str) -> float:
    """:func:`compile_seconds` in this (new) process with ``cache`` as the cache directory."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
    problem = problems.make_synthetic(problems.SyntheticSettings(m=m, n=n, n_val=1, n_test=1))
    return compile_seconds(family.build(name, problem.A, layers), problem, batch)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about a minute)")
    parser.add_argument("--m", type=int, default=250)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--batches", default="64,256", help="comma-separated batch sizes (default 64,256)")
    parser.add_argument("--models", default="lista,lista-cp,lista-cpss,alista")
    parser.add_argument("--compile", action="store_true", help="also time compiled steps and the compilation (minutes)")
    args = parser.parse_args()
    steps = 15 if args.quick else 60
    problem = problems.make_synthetic(problems.SyntheticSettings(m=args.m, n=args.n, n_val=1, n_test=1))
    peak = gemm_rate(2048, 5 if args.quick else 20)
    rows, compiles = [], []
    for batch in (int(b) for b in args.batches.split(",")):
        for name in args.models.split(","):
            flops = step_flops(family.build(name, problem.A, args.layers), problem, batch)
            product_seconds = products_alone(family.build(name, problem.A, args.layers), problem, batch, steps)
            ceiling = flops / product_seconds / 1e9 / peak
            with_adam = (
                flops / (product_seconds + adam_alone(family.build(name, problem.A, args.layers), steps)) / 1e9 / peak
            )
            variants = [("foreach", False, False), ("fused", True, False)] + (
                [("fused, compiled", True, True)] if args.compile else []
            )
            for label, fused, compiled in variants:
                model = family.build(name, problem.A, args.layers)
                loss_fn = None
                if compiled:
                    with tempfile.TemporaryDirectory() as cache:
                        with multiprocessing.get_context("spawn").Pool(
                            1, maxtasksperchild=1
                        ) as pool:  # each a new process, as a run is
                            job = (name, args.m, args.n, args.layers, batch, cache)
                            cold, warm = pool.apply(fresh_process_compile, job), pool.apply(fresh_process_compile, job)
                    with tempfile.TemporaryDirectory() as cache:
                        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
                        torch._dynamo.reset()
                        loss_fn, _ = compile_seconds(model, problem, batch)
                        seconds = step_seconds(model, problem, batch, steps, fused, loss_fn)
                    compiles.append([name, batch, cold, warm])
                else:
                    seconds = step_seconds(model, problem, batch, steps, fused)
                rate = flops / seconds / 1e9
                rows.append([name, batch, label, seconds * 1e3, batch / seconds, rate, rate / peak, ceiling, with_adam])
    print(f"threads {torch.get_num_threads()}; dense GEMM rate {peak:.1f} GFLOP/s; {args.m}x{args.n}, T={args.layers}")
    print(
        markdown_table(
            [
                "model",
                "batch",
                "Adam",
                "ms/step",
                "samples/s",
                "GFLOP/s",
                "fraction of GEMM rate",
                "its products alone",
                "products + Adam alone",
            ],
            rows,
        )
    )
    if compiles:
        print("\nCompilation (first forward and backward), seconds:")
        print(markdown_table(["model", "batch", "cold cache", "warm cache"], compiles))


if __name__ == "__main__":
    main()
