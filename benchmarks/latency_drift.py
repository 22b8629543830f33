"""How much this machine's speed drifts, and what interleaved timing does about it (issue #15).

Times three named networks (LISTA, ALISTA, dense; 100x200, T = 8, batch 1) ``--trials`` times
each, two ways: back to back (the fastest of ``--repeats`` consecutive calls of one network, as a
naive timer does) and interleaved (``nni_lista.search.latency.fastest_ms``, the networks' calls
in shuffled rounds, as the latency table is measured). Prints, per network and way, the trials'
fastest times and their spread (largest / smallest), and the spread of the ALISTA / LISTA ratio.
Run it on an otherwise idle machine:

    .venv/bin/python benchmarks/latency_drift.py
"""

from __future__ import annotations

import argparse
import sys

import torch

from nni_lista.base.tables import markdown_table
from nni_lista.problem import problems
from nni_lista.search.latency import fastest_ms
from nni_lista.space.architectures import named_architecture
from nni_lista.space.spaces import build


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    m, n, layers = 100, 200, 8
    A = problems.make_synthetic(problems.SyntheticSettings(m=m, n=n, n_val=8, n_test=8)).A
    b = torch.randn(1, m, generator=torch.Generator().manual_seed(0))
    calls = {
        name: (lambda model: lambda: model(b))(build(named_architecture(name, layers), m, n, A))
        for name in ("lista", "alista", "dense")
    }
    times = {("back to back", name): [] for name in calls} | {("interleaved", name): [] for name in calls}
    for trial in range(args.trials):
        for name, call in calls.items():
            times[("back to back", name)].append(fastest_ms({name: call}, args.repeats, seed=trial)[name])
        for name, ms in fastest_ms(calls, args.repeats, seed=trial).items():
            times[("interleaved", name)].append(ms)
    rows = [
        [way, name, " ".join(f"{t:.3f}" for t in ts), f"{max(ts) / min(ts):.2f}"] for (way, name), ts in times.items()
    ]
    for way in ("back to back", "interleaved"):
        ratio = [a / b for a, b in zip(times[(way, "alista")], times[(way, "lista")])]
        rows.append([way, "alista / lista", " ".join(f"{r:.2f}" for r in ratio), f"{max(ratio) / min(ratio):.2f}"])
    print(
        markdown_table(
            ["timing", "network", f"fastest of {args.repeats} calls (ms), per trial", "spread (max / min)"], rows
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
