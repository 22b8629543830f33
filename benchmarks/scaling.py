"""How training cost grows with the problem size n and the depth T (issue #14).

For n in ``--sizes`` (m = n / 2) and T in ``--depths``, a training step (forward, backward and an
Adam update at ``--batch``) of three networks: plain LISTA (``nni_lista.models.family``), the
frozen ``dense`` architecture of the ``full`` space, and the DARTS supernet of the ``paper``
space (every choice a mixed op, NNI's own conversion). Each (network, n, T) runs in a fresh
process, so its peak resident memory (``ru_maxrss``, less the process's memory before the
network is built) is its own; the step times of one n are taken in one process, in interleaved
rounds (the fastest step counts), so the machine's drift hits them alike. Prints the table of step times and peak
memory, and the
growth exponents ``a`` and ``b`` of ``cost ~ n^a T^b`` fitted by least squares on the logs.
Run it on an otherwise idle machine:

    .venv/bin/python benchmarks/scaling.py --out results/scaling/cpu.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

NETWORKS = ("lista", "dense", "supernet")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _build(network: str, n: int, layers: int):
    """The network and its problem: plain LISTA, the frozen dense architecture, or the DARTS supernet."""
    from space_overhead import darts_supernet  # NNI imported before any memory baseline is read

    from nni_lista.models import family
    from nni_lista.problem import problems
    from nni_lista.space import architectures, spaces

    m = n // 2
    problem = problems.make_synthetic(problems.SyntheticSettings(m=m, n=n, n_val=1, n_test=1))
    if network == "lista":
        return family.build("lista", problem.A, layers), problem
    if network == "dense":
        return spaces.build(architectures.named_architecture("dense", layers), m, n, problem.A), problem
    return darts_supernet(m, n, layers, problem.A), problem


def peak_memory(network: str, n: int, layers: int, batch: int) -> float:
    """Peak resident memory (MiB) of building the network and three training steps, in this process."""
    from space_overhead import step_timer  # the same step as the space-overhead benchmark

    _build("lista", 40, 2)  # imports and first-use allocations before the baseline
    before = _rss_mib()
    model, problem = _build(network, n, layers)
    step = step_timer(model, problem, batch)
    for _ in range(3):
        step()
    return _rss_mib() - before


def step_times(n: int, depths: list[int], batch: int, rounds: int) -> dict:
    """Fastest step (s) of every network and depth at one n, timed in interleaved rounds (one
    step of each per round, in a shuffled order) so that the machine's drift hits all alike."""
    import random

    from space_overhead import step_timer

    steps = {}
    for network in NETWORKS:
        for layers in depths:
            model, problem = _build(network, n, layers)
            steps[f"{network} {layers}"] = step_timer(model, problem, batch)
    best = {key: float("inf") for key in steps}
    order = list(steps)
    draw = random.Random(0)
    for key in order:  # warm-up
        steps[key](), steps[key]()
    for _ in range(rounds):
        draw.shuffle(order)
        for key in order:
            best[key] = min(best[key], steps[key]())
    return best


def fit(rows: list[dict], key: str) -> dict:
    """``log cost = a log n + b log T + c`` by least squares; returns a, b and the largest residual factor."""
    X = np.array([[np.log(r["n"]), np.log(r["layers"]), 1.0] for r in rows])
    y = np.log([r[key] for r in rows])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    residual = float(np.exp(np.abs(X @ coef - y).max()))
    return {"a_n": float(coef[0]), "b_T": float(coef[1]), "c": float(coef[2]), "largest_residual_factor": residual}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--depths", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved timing rounds (the fastest step counts)")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--child", nargs="+", help=argparse.SUPPRESS
    )  # a child process: memory NETWORK N T, or times N T...
    args = parser.parse_args()
    if args.child and args.child[0] == "memory":
        print(json.dumps(peak_memory(args.child[1], int(args.child[2]), int(args.child[3]), args.batch)))
        return 0
    if args.child and args.child[0] == "times":
        print(json.dumps(step_times(int(args.child[1]), [int(t) for t in args.child[2:]], args.batch, args.rounds)))
        return 0

    from tqdm import tqdm

    from nni_lista.base.io import write_json
    from nni_lista.base.tables import markdown_table

    import torch

    def child(*words) -> object:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--batch",
                str(args.batch),
                "--rounds",
                str(args.rounds),
                "--child",
                *map(str, words),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    runs = [(network, n, layers) for network in NETWORKS for n in args.sizes for layers in args.depths]
    with tqdm(total=len(runs) + len(args.sizes), desc="scaling", unit="run", disable=not sys.stderr.isatty()) as bar:
        memory = {}
        for run in runs:
            memory[run] = child("memory", *run)
            bar.update(1)
        times = {}
        for n in args.sizes:
            for key, seconds in child("times", n, *args.depths).items():
                network, layers = key.split()
                times[(network, n, int(layers))] = seconds
            bar.update(1)
    rows = [
        {
            "network": network,
            "n": n,
            "m": n // 2,
            "layers": layers,
            "batch": args.batch,
            "step_seconds": times[(network, n, layers)],
            "peak_mib": memory[(network, n, layers)],
        }
        for network, n, layers in runs
    ]
    print(
        markdown_table(
            ["network", "n (m = n/2)", "T", "step ms", "peak MiB"],
            [
                [r["network"], r["n"], r["layers"], f"{1e3 * r['step_seconds']:.1f}", f"{r['peak_mib']:.0f}"]
                for r in rows
            ],
        )
    )
    fits = {
        network: {key: fit([r for r in rows if r["network"] == network], key) for key in ("step_seconds", "peak_mib")}
        for network in NETWORKS
    }
    print()
    print(
        markdown_table(
            ["network", "time ~ n^a", "time ~ T^b", "memory ~ n^a", "memory ~ T^b", "largest misfit (time, memory)"],
            [
                [
                    network,
                    f"{f['step_seconds']['a_n']:.2f}",
                    f"{f['step_seconds']['b_T']:.2f}",
                    f"{f['peak_mib']['a_n']:.2f}",
                    f"{f['peak_mib']['b_T']:.2f}",
                    f"x{f['step_seconds']['largest_residual_factor']:.2f}, "
                    f"x{f['peak_mib']['largest_residual_factor']:.2f}",
                ]
                for network, f in fits.items()
            ],
        )
    )
    print(
        f"batch {args.batch}, {torch.get_num_threads()} threads; step: the fastest of {args.rounds} interleaved "
        "rounds per n; "
        f"memory: peak resident memory of each network in its own process"
    )
    if args.out is not None:
        write_json(
            args.out,
            {
                "settings": {k: v for k, v in vars(args).items() if k not in ("out", "child")},
                "runs": rows,
                "fits": fits,
            },
        )
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
