"""Can the study's claim-3 test see a skip pattern that is there? Its null from the search's own
dynamics and its power (nni_lista/study/power.py), at the study's search budget and at larger ones.

    .venv/bin/python benchmarks/claim3_power.py [--quick] [--budgets 20 80 320] [--null-pairs N] [--power-pairs N]
        [--out results/claim3-power]

For each (budget, top-k) the study's consistency strategy (random search, cold, the paper space,
T = 16, as examples/study-full.yml runs it: budget 20, top 5) runs on a synthetic fitness: a third
of the skip labels planted on, ``effect`` the pattern's spread over the space in units of the
noise's sd (effect 1: pattern and training noise vary the fitness equally). ``--null-pairs``
independent search pairs on pure noise give the null of the skip correlation and its 95th
percentile; ``--power-pairs`` pairs per effect give the power; the smallest effect with power >=
0.8 is what that budget can detect. Writes ``OUT/results.json`` and ``OUT/table.md``.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from nni_lista.base.tables import markdown_table
from report import write_report
from nni_lista.study.power import detectable_effect

#: (budget, top_k): the full study's consistency searches, then 4 and 16 times the budget
SETUPS = ((20, 5), (80, 20), (320, 80))
EFFECTS = (0.5, 1.0, 2.0, 4.0, 8.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="the study's budget only, 20 null pairs, 10 pairs per effect"
    )
    parser.add_argument(
        "--budgets",
        type=int,
        nargs="+",
        choices=[b for b, _ in SETUPS],
        default=[b for b, _ in SETUPS],
        help="which of the setups to run, by budget",
    )
    parser.add_argument("--null-pairs", type=int, default=100)
    parser.add_argument("--power-pairs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("results/claim3-power"))
    args = parser.parse_args()
    setups = SETUPS[:1] if args.quick else [setup for setup in SETUPS if setup[0] in args.budgets]
    null_pairs, power_pairs = (20, 10) if args.quick else (args.null_pairs, args.power_pairs)
    logging.disable(logging.INFO)  # NNI's per-trial lines
    started, found = time.perf_counter(), []
    with tempfile.TemporaryDirectory() as workdir:
        for budget, top_k in tqdm(setups, desc="budgets", unit="budget"):
            t0 = time.perf_counter()
            result = detectable_effect("random", "paper", 16, budget, top_k, EFFECTS, null_pairs, power_pairs, workdir)
            found.append({**result, "seconds": round(time.perf_counter() - t0, 1)})
    rows = [
        [
            str(r["budget"]),
            str(r["top_k"]),
            f"{r['null_p95']:.2f}",
            *(f"{r['power'][f'{e:g}']:.2f}" for e in EFFECTS),
            "none on the grid" if r["detectable_effect"] is None else f"{r['detectable_effect']:g}",
            f"{r['seconds']:.0f}",
        ]
        for r in found
    ]
    setup = (
        f"random search, cold, paper space, T = 16; a third of the skip labels planted ({len(found[0]['planted'])}); "
        f"{null_pairs} null pairs, {power_pairs} pairs per effect; power = share of pairs whose skip correlation "
        f"exceeds the null's 95th percentile"
    )
    table = markdown_table(
        [
            "budget",
            "top-k",
            "null p95",
            *(f"power at {e:g}" for e in EFFECTS),
            "detectable effect (power >= 0.8)",
            "seconds",
        ],
        rows,
    )
    write_report(
        args.out,
        setup,
        table,
        {"effects": list(EFFECTS), "results": found, "seconds": round(time.perf_counter() - started, 1)},
    )


if __name__ == "__main__":
    main()
