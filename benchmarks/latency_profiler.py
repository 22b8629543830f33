"""How well the measured latency model predicts measured latency (issue #15).

Measures the latency table here (``nni-lista latency``), then the forward latency of frozen
networks: the five named ones (LISTA, LISTA-CP, LISTA-CPSS, ALISTA, dense) and random
architectures of the full space, each the fastest of ``--repeats`` calls, timed in the same
interleaved rounds as the table (``nni_lista.search.latency.fastest_ms``). Prints, per network,
predicted and measured milliseconds and the relative error, then the mean and largest absolute
relative error and the rank correlations (Kendall tau, Spearman rho) between predicted and
measured, with the null of a random ordering beside them (the 95th percentile of |tau| over
permutations). Run it on an otherwise idle machine:

    .venv/bin/python benchmarks/latency_profiler.py --out results/latency-profiler/cpu-b1.json
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from nni_lista.base.io import write_json
from nni_lista.base.tables import markdown_table
from nni_lista.search.latency import measure_table, predict
from nni_lista.space.architectures import NAMED_ARCHITECTURES, PRESETS, labels, named_architecture


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=250)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument(
        "--random", type=int, default=20, help="random architectures of the full space (besides the 5 named)"
    )
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="JSON with the table's key, every network and the summary")
    args = parser.parse_args()

    draw = random.Random(args.seed)
    space = labels(args.layers, PRESETS["full"])
    archs = {name: named_architecture(name, args.layers) for name in NAMED_ARCHITECTURES}
    archs.update(
        {f"random{i + 1}": {label: draw.choice(values) for label, values in space.items()} for i in range(args.random)}
    )
    # the networks are timed in the same interleaved rounds as the table's entries
    table, times = measure_table(
        args.m,
        args.n,
        args.layers,
        args.batch,
        repeats=args.repeats,
        progress=sys.stderr.isatty(),
        seed=args.seed,
        networks=archs,
    )
    rows = []
    for name, arch in archs.items():
        measured = times[name]
        predicted = predict(table, arch, args.m, args.n)
        rows.append(
            {
                "network": name,
                "predicted_ms": predicted,
                "measured_ms": measured,
                "relative_error": predicted / measured - 1,
            }
        )
    predicted = np.array([r["predicted_ms"] for r in rows])
    measured = np.array([r["measured_ms"] for r in rows])
    errors = np.abs(predicted / measured - 1)
    tau = stats.kendalltau(predicted, measured).statistic
    rho = stats.spearmanr(predicted, measured).statistic
    shuffle = np.random.default_rng(args.seed)
    null = [abs(stats.kendalltau(predicted, shuffle.permutation(measured)).statistic) for _ in range(1000)]
    summary = {
        "networks": len(rows),
        "mean_abs_relative_error": float(errors.mean()),
        "max_abs_relative_error": float(errors.max()),
        "kendall_tau": float(tau),
        "spearman_rho": float(rho),
        "null_abs_tau_p95": float(np.percentile(null, 95)),
    }
    print(
        markdown_table(
            ["network", "predicted ms", "measured ms", "relative error"],
            [
                [r["network"], f"{r['predicted_ms']:.3f}", f"{r['measured_ms']:.3f}", f"{r['relative_error']:+.1%}"]
                for r in rows
            ],
        )
    )
    print()
    print(
        f"{args.m}x{args.n}, T = {args.layers}, batch {args.batch}, {table.key['device']}: mean |relative error| "
        f"{summary['mean_abs_relative_error']:.1%} (largest {summary['max_abs_relative_error']:.1%}); Kendall tau "
        f"{tau:.2f}, Spearman rho {rho:.2f} (random ordering: 95th percentile of |tau| "
        f"{summary['null_abs_tau_p95']:.2f})"
    )
    if args.out is not None:
        write_json(
            args.out,
            {
                "settings": vars(args) | {"out": str(args.out)},
                "table_key": table.key,
                "networks": rows,
                "summary": summary,
            },
        )
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
