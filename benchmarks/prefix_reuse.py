"""Speed-up of a multi-trial search from sharing trained layer prefixes (docs/training.md),
and how much it changes the ranking of the architectures, measured in one run.

    .venv/bin/python benchmarks/prefix_reuse.py [--quick] [--space paper] [--budget 20]

The same regularized-evolution search (NNI's strategy, sequential engine, stage-wise training
of every architecture) runs twice: with ``--reuse-prefixes`` and without. Both see the same
problem, seeds and budget. Printed: the search wall time of each, their ratio, how many layers
were taken from the cache, and the Spearman rank correlation of the final validation NMSE of
the architectures both runs trained (reuse is exact, so it should be 1 with equal numbers).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from scipy.stats import spearmanr

from nni_lista.problem import problems
from nni_lista.train.prefixes import PrefixCache
from nni_lista.search.explore import SearchRequest, run_search
from nni_lista.base.tables import markdown_table
from nni_lista.train.training import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 architectures of a 6-layer space (about a minute)")
    parser.add_argument("--space", default="paper")
    parser.add_argument("--budget", type=int, default=20, help="architectures per search (default 20)")
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--m", type=int, default=100)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--steps-per-stage", type=int, default=100)
    args = parser.parse_args()
    budget, layers = (10, 6) if args.quick else (args.budget, args.layers)
    spec = problems.problem_spec(problems.SyntheticSettings(m=args.m, n=args.n))
    training = TrainConfig(
        protocol="stagewise", max_steps=3 * layers * args.steps_per_stage, batch=64, eval_every=25, patience=10_000
    )
    hits = []
    restore = PrefixCache.restore

    def counting(self, model, entry):  # count the layers each architecture took from the cache
        hits.append(len(entry["history"]) // 3)
        return restore(self, model, entry)

    PrefixCache.restore = counting
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for reuse in (False, True):
            request = SearchRequest(
                strategy="evolution",
                problem=spec,
                layers=layers,
                space=args.space,
                budget=budget,
                training=training,
                top_k=budget,
                reuse_prefixes=reuse,
            )
            result = run_search(request, Path(tmp) / str(reuse))
            runs[reuse] = result
    scores = {
        reuse: {json.dumps(item["arch"], sort_keys=True): item["metric"] for item in result["top"]}
        for reuse, result in runs.items()
    }
    common = sorted(set(scores[False]) & set(scores[True]))
    rho = (
        spearmanr([scores[False][a] for a in common], [scores[True][a] for a in common]).statistic
        if len(common) > 2
        else float("nan")
    )
    equal = all(scores[False][a] == scores[True][a] for a in common)
    seconds = {reuse: runs[reuse]["search_seconds"] for reuse in runs}
    print(
        f"evolution over the {args.space} space, T={layers}, {args.m}x{args.n}, {budget} architectures, "
        f"stage-wise {args.steps_per_stage} steps per stage"
    )
    print(
        markdown_table(
            ["what", "value"],
            [
                ["search without reuse (s)", seconds[False]],
                ["search with prefix reuse (s)", seconds[True]],
                ["speed-up", seconds[False] / seconds[True]],
                ["layers taken from the cache", f"{sum(hits)} of {budget * layers}"],
                ["architectures trained by both", len(common)],
                ["Spearman rank correlation of final NMSE", rho],
                ["identical final NMSE", "yes" if equal else "no"],
            ],
        )
    )


if __name__ == "__main__":
    main()
