"""Inference of trained unrolled networks against FISTA run to the same accuracy (issue #14).

Trains each model of ``--models`` on the default problem (250x500, p = 0.1, noiseless, T = 16)
with the study's recipe (end to end, Adam, batch 256, lr 2e-3 cosine over ``--max-steps``), and
takes its test NMSE (ratio of sums). Then runs FISTA on the same test set,
``x_{k+1} = eta_{lam/L}(y_k + (b - y_k A^T) A / L)``, ``y_k = x_k + (t_{k-1} - 1) / t_k (x_k - x_{k-1})``
(Beck and Teboulle 2009), for each LASSO weight of ``--lams`` until its test NMSE is at least as
good as the model's (at most ``--max-iterations``), and keeps the weight that needs the fewest
iterations. Both are then timed on this machine, interleaved (the fastest of ``--repeats``
rounds, ``nni_lista.space.latency.fastest_ms``), on the whole test set (1,000 samples) and on
one sample. Prints the speed-up at equal accuracy. Run it on an otherwise idle machine:

    .venv/bin/python benchmarks/inference_vs_fista.py --out results/inference/cpu.json
    .venv/bin/python benchmarks/inference_vs_fista.py --quick   # 300 training steps: the pipeline only
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from nni_lista.base.io import write_json
from nni_lista.base.tables import markdown_table
from nni_lista.models import family
from nni_lista.problem import problems
from nni_lista.problem.metrics import nmse_db
from nni_lista.space.latency import fastest_ms
from nni_lista.train.evaluation import evaluate
from nni_lista.train.training import TrainConfig, train


def fista(A: torch.Tensor, b: torch.Tensor, lam: float, iterations: int, L: float, target: torch.Tensor | None = None,
          goal_db: float | None = None, check_every: int = 10) -> tuple[torch.Tensor, int]:
    """FISTA from x = 0 for ``iterations`` steps; with ``target`` and ``goal_db``, stops at the
    first multiple of ``check_every`` whose NMSE against ``target`` is at or below the goal.
    Returns the estimate and the iterations run."""
    x_prev = x = torch.zeros(b.shape[0], A.shape[1], dtype=b.dtype)
    t = 1.0
    step, threshold = 1.0 / L, lam / L
    for k in range(1, iterations + 1):
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        y = x + ((t - 1.0) / t_next) * (x - x_prev)
        z = y + (b - y @ A.T) @ A * step
        x_prev, x = x, torch.sign(z) * torch.clamp(z.abs() - threshold, min=0.0)
        t = t_next
        if goal_db is not None and k % check_every == 0 and nmse_db(x, target) <= goal_db:
            return x, k
    return x, iterations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lista,lista-cp,lista-cpss,alista")
    parser.add_argument("--max-steps", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="300 training steps per model")
    parser.add_argument("--lams", type=float, nargs="+", default=[0.4, 0.1, 0.025, 0.00625, 0.0015625])
    parser.add_argument("--max-iterations", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    steps = 300 if args.quick else args.max_steps
    problem = problems.make_synthetic(problems.SyntheticSettings())
    A, test = problem.A, problem.test
    L = float(torch.linalg.matrix_norm(A, ord=2) ** 2)
    one = test.b[:1]
    rows, records = [], []
    for name in args.models.split(","):
        model = family.build(name, A, 16)
        train(model, problem, TrainConfig(protocol="e2e", max_steps=steps, batch=256, lr=2e-3, eval_every=max(steps // 10, 1),
                                          patience=steps), progress=None)
        model.eval()
        goal = evaluate(model, problem)["nmse_db"]
        best = None
        for lam in args.lams:  # a weight that needs more iterations than the best so far is not run further
            x, used = fista(A, test.b, lam, args.max_iterations if best is None else best[1], L, test.s, goal)
            reached = nmse_db(x, test.s) <= goal  # also when the cap, not a check, ended the run
            if reached and (best is None or used < best[1]):
                best = (lam, used)
        record = {"model": name, "steps": steps, "test_nmse_db": goal, "fista": None}
        if best is None:
            rows.append([name, f"{goal:.2f}", f"not reached in {args.max_iterations} iterations", "", "", "", ""])
        else:
            lam, iterations = best
            ms = fastest_ms({"model 1000": lambda: model(test.b), "fista 1000": lambda: fista(A, test.b, lam, iterations, L),
                             "model 1": lambda: model(one), "fista 1": lambda: fista(A, one, lam, iterations, L)}, args.repeats)
            record["fista"] = {"lam": lam, "iterations": iterations, "ms": ms}
            rows.append([name, f"{goal:.2f}", f"{lam:g}, {iterations}", f"{ms['model 1000']:.2f} / {ms['fista 1000']:.1f}",
                         f"{ms['fista 1000'] / ms['model 1000']:.2g}x", f"{ms['model 1']:.3f} / {ms['fista 1']:.2f}",
                         f"{ms['fista 1'] / ms['model 1']:.2g}x"])
        records.append(record)
        print(f"{name}: {rows[-1]}", file=sys.stderr, flush=True)
    print(f"250x500, p = 0.1, noiseless, T = 16; models trained {steps} steps; {torch.get_num_threads()} threads")
    print(markdown_table(["model", "test NMSE dB", "FISTA lam, iterations to match", "ms, 1000 samples (model / FISTA)", "speed-up",
                          "ms, 1 sample (model / FISTA)", "speed-up"], rows))
    if args.out is not None:
        write_json(args.out, {"settings": {k: v for k, v in vars(args).items() if k != "out"}, "models": records})
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
