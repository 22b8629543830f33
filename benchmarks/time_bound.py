"""How closely `search --max-seconds` keeps its bound, for each kind of strategy: the search's
own wall time over the bound, measured in one run each on a tiny problem with a budget far
beyond what the bound allows (issue #31: within 10 %). Run on an idle machine:

    .venv/bin/python benchmarks/time_bound.py [--bound 20]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

BUDGETS = {"evolution": 10_000, "darts": 1_000_000, "shared-evolution": 1_000_000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bound", type=float, default=20.0, help="the time bound in seconds (default %(default)s)")
    args = parser.parse_args()
    print("| strategy | bound s | search s | ratio | architectures scored |\n|---|--:|--:|--:|--:|")
    with tempfile.TemporaryDirectory() as tmp:
        for strategy, budget in BUDGETS.items():
            out = Path(tmp) / strategy
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "nni_lista",
                    "search",
                    "--strategy",
                    strategy,
                    "--budget",
                    str(budget),
                    "--max-seconds",
                    str(args.bound),
                    "--m",
                    "20",
                    "--n",
                    "40",
                    "--layers",
                    "3",
                    "--max-steps",
                    "30",
                    "--eval-every",
                    "50",
                    "--batch",
                    "32",
                    "--retrain-seeds",
                    "1",
                    "--out",
                    str(out),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            top = json.loads((out / "top.json").read_text())
            seconds = top["search_seconds"]
            scored = len(top["history"]) or "(one-shot)"
            print(
                f"| {strategy} | {args.bound:g} | {seconds:.1f} | {seconds / args.bound:.3f} | {scored} |", flush=True
            )


if __name__ == "__main__":
    main()
