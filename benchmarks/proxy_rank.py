"""Do the search proxies rank architectures like full training? Kendall tau, measured in one run.

    .venv/bin/python benchmarks/proxy_rank.py [--quick] [--layers 16] [--m 250 --n 500] [--out FILE]

Architectures: the five family members of the ``full`` space (LISTA, LISTA-CP, LISTA-CPSS,
ALISTA, dense) and ``--random`` uniformly random samples of it (seeded). Each is scored by
every proxy the package offers:

- ``short training``: validation NMSE after ``--proxy-steps`` end-to-end steps (what the
  multi-trial strategies use, ``--max-steps`` of ``nni-lista search``);
- ``inherited weights``: validation NMSE with the weights of one supernet of the space trained
  for ``--supernet-steps`` single-path batches (``--strategy shared-evolution``);

and by the target, the test NMSE after ``--full-steps`` end-to-end steps from scratch. Printed:
Kendall tau of each proxy against the target with its p-value, and as a null the tau of a
random score (the mean and 95th percentile of |tau| over 1,000 random permutations).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau
from tqdm import tqdm

from nni_lista.problem import problems

from nni_lista.space import architectures
from nni_lista.models.family import DEFAULT_LAM
from nni_lista.base.io import write_json
from nni_lista.train.runs import run_architecture
from nni_lista.space.architectures import PRESETS
from nni_lista.space.spaces import LISTASpace
from nni_lista.base.tables import markdown_table
from nni_lista.train.training import TrainConfig
from nni_lista.search.warm_start import family_seeds
from nni_lista.search.weight_sharing import inherited_nmse_db, random_path, train_supernet


def sample_architectures(layers: int, count: int, seed: int) -> list[dict]:
    """The family members of the full space, then ``count`` random samples of it."""
    space = LISTASpace.from_preset("full", 8, 16, layers)
    rng = np.random.RandomState(seed)
    found = family_seeds(PRESETS["full"], layers)
    while len(found) < 5 + count:
        sample = random_path(space, rng)
        if sample not in found:
            found.append(sample)
    return found


def null_tau(count: int, draws: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Mean and 95th percentile of |tau| between a fixed ranking and random permutations."""
    rng = np.random.RandomState(seed)
    taus = [abs(kendalltau(np.arange(count), rng.permutation(count))[0]) for _ in range(draws)]
    return float(np.mean(taus)), float(np.percentile(taus, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 64x128 problem, T=6, short runs (about two minutes)")
    parser.add_argument("--m", type=int, default=250)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument(
        "--random", type=int, default=7, help="random architectures besides the five family members (default 7)"
    )
    parser.add_argument("--proxy-steps", type=int, default=1000)
    parser.add_argument("--supernet-steps", type=int, default=3000)
    parser.add_argument("--full-steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write every score to this JSON file")
    args = parser.parse_args()
    if args.quick:
        args.m, args.n, args.layers, args.proxy_steps, args.supernet_steps, args.full_steps = (
            64,
            128,
            6,
            300,
            1000,
            1000,
        )
    problem = problems.make_synthetic(problems.SyntheticSettings(m=args.m, n=args.n, seed=args.seed))
    archs = sample_architectures(args.layers, args.random, args.seed)
    full = [architectures.complete(a, args.layers, PRESETS["full"]) for a in archs]

    started = time.perf_counter()
    supernet = LISTASpace.from_preset("full", args.m, args.n, args.layers).initialise(problem.A, DEFAULT_LAM)
    train_supernet(supernet, problem, args.supernet_steps, 64, 5e-4, args.seed, progress=True)
    inherited = [inherited_nmse_db(supernet, problem, a)[-1] for a in archs]
    supernet_seconds = time.perf_counter() - started

    short, target = [], []
    proxy = TrainConfig(
        protocol="e2e", max_steps=args.proxy_steps, eval_every=max(1, args.proxy_steps // 4), seed=args.seed
    )
    final = TrainConfig(
        protocol="e2e", max_steps=args.full_steps, eval_every=max(1, args.full_steps // 4), seed=args.seed
    )
    for arch in tqdm(full, desc="architectures"):
        short.append(run_architecture(arch, problem, proxy, DEFAULT_LAM, None, progress=False)["val_nmse_db"])
        target.append(run_architecture(arch, problem, final, DEFAULT_LAM, None, progress=False)["nmse_db"])
    seconds = time.perf_counter() - started

    def finite(values):  # a diverged proxy score ranks last
        return [v if np.isfinite(v) else 1e9 for v in values]

    rows, taus = [], {}
    for name, scores in (("short training", short), ("inherited weights", inherited)):
        tau, p = kendalltau(finite(scores), finite(target))
        taus[name] = {"tau": float(tau), "p": float(p)}
        rows.append([name, f"{tau:.2f}", f"{p:.3g}"])
    mean_null, p95_null = null_tau(len(archs))
    rows.append(["random score (null)", f"{mean_null:.2f} (mean abs), {p95_null:.2f} (95th pct.)", ""])
    setting = (
        f"{args.m}x{args.n}, T={args.layers}: {len(archs)} architectures, proxy {args.proxy_steps} steps, "
        f"supernet {args.supernet_steps} steps, target {args.full_steps} steps"
    )
    print(setting)
    print(markdown_table(["proxy", "Kendall tau vs target", "p-value"], rows))
    print(f"\n{seconds:.0f} s in all ({supernet_seconds:.0f} s supernet and inherited scores)")
    if args.out is not None:
        write_json(
            args.out,
            {
                "setting": setting,
                "architectures": full,
                "short_training_val_db": short,
                "inherited_val_db": inherited,
                "target_test_db": target,
                "kendall": taus,
                "null_abs_tau": {"mean": mean_null, "p95": p95_null},
                "seconds": round(seconds, 1),
            },
        )


if __name__ == "__main__":
    main()
