"""How fast does each NNI strategy find a network better than LISTA? Measured in one run.

    .venv/bin/python benchmarks/search_efficiency.py [--quick] [--out DIR]

For every strategy (NNI's random search, regularized evolution, TPE, policy-based RL, DARTS,
the weight-sharing ``shared-evolution``, and evolution / random search without the family
warm start, marked ``-cold``; random, evolution, TPE and shared-evolution start from the family
members the space can express, RL and DARTS have no such start) on each space (``connectivity``, ``paper``) of one
synthetic
problem (default 250x500, T=16, noiseless):

- the **anytime curve**: the best validation NMSE the strategy has found by its own proxy,
  against architectures evaluated and against wall seconds of the search (read from the
  search's ``history`` in ``top.json``, :mod:`nni_lista.search.chronicle`). Multi-trial strategies
  score by short end-to-end training (``--proxy-steps``); ``shared-evolution`` by inherited
  supernet weights (a different scale: its curve is drawn dashed); DARTS by its one export,
  trained with the multi-trial proxy (one point, its cost added). LISTA trained with the
  multi-trial proxy is the horizontal line;
- the **retrained result**: each strategy's best architecture and LISTA retrained from scratch
  (``--retrain-steps`` end-to-end steps) with the same training seeds (``--seeds``), test NMSE
  as mean +- sample standard deviation, and the gain over LISTA beside the larger spread; and,
  for reference, the best family members LISTA-CPSS and ALISTA retrained the same way (they are
  points of the ``full`` space, not of ``connectivity`` or ``paper``).

Every finished piece (a search, a retraining) is written atomically under ``DIR/units/``;
running the command again resumes, keeping what is done. Writes ``DIR/results.json``,
``DIR/table.md`` and ``DIR/anytime.png``; prints the table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import textwrap
import time
from pathlib import Path

from tqdm import tqdm

from nni_lista.problem import problems
from nni_lista.search.chronicle import anytime
from nni_lista.models.family import DEFAULT_LAM
from nni_lista.base.io import json_unit as unit, write_json
from nni_lista.problem.metrics import mean_and_sd
from nni_lista.train.runs import run_architecture
from nni_lista.search.explore import SearchRequest, explore
from nni_lista.space.architectures import named_architecture
from nni_lista.base.tables import markdown_table
from nni_lista.train.training import TrainConfig

# family members retrained beside LISTA: the best of the family on this problem (points of the full space)
FAMILY = ("lista-cpss", "alista")

# name shown -> (NNI strategy of nni-lista search, warm start from the family)
STRATEGIES = {
    "random": ("random", True),
    "random-cold": ("random", False),
    "evolution": ("evolution", True),
    "evolution-cold": ("evolution", False),
    "tpe": ("tpe", True),
    "rl": ("rl", False),
    "darts": ("darts", False),
    "shared-evolution": ("shared-evolution", True),
}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 64x128 problem, T=6, tiny budgets (a few minutes)")
    parser.add_argument("--m", type=int, default=250)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--spaces", nargs="+", default=["connectivity", "paper"])
    parser.add_argument(
        "--strategies",
        nargs="+",
        choices=list(STRATEGIES),
        default=[name for name in STRATEGIES if name != "random-cold"],
    )
    parser.add_argument(
        "--budget", type=int, default=8, help="architectures each multi-trial strategy tries (default 8)"
    )
    parser.add_argument(
        "--proxy-steps", type=int, default=500, help="end-to-end steps of each multi-trial proxy training"
    )
    parser.add_argument("--one-shot-steps", type=int, default=1000, help="supernet batches of DARTS")
    parser.add_argument("--supernet-steps", type=int, default=3000, help="supernet batches of shared-evolution")
    parser.add_argument(
        "--subnets", type=int, default=200, help="subnets shared-evolution scores with inherited weights"
    )
    parser.add_argument("--retrain-steps", type=int, default=1000, help="end-to-end steps of every retraining")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds of the retraining")
    parser.add_argument("--seed", type=int, default=0, help="problem and search seed")
    parser.add_argument("--out", type=Path, default=Path("results/search-efficiency"))
    args = parser.parse_args()
    if args.quick:
        args.m, args.n, args.layers, args.budget, args.proxy_steps = 64, 128, 6, 4, 100
        args.one_shot_steps, args.supernet_steps, args.subnets, args.retrain_steps = 100, 200, 20, 200
    return args


def config(steps: int, seed: int) -> TrainConfig:
    return TrainConfig(protocol="e2e", max_steps=steps, eval_every=max(1, steps // 4), seed=seed)


def search(args, spec: dict, problem, space: str, name: str) -> dict:
    """One search: its anytime record (seconds, -NMSE_dB by its proxy) and its best architecture."""
    strategy, warm = STRATEGIES[name]
    runs = args.out / "runs" / space / name
    shutil.rmtree(runs, ignore_errors=True)  # an interrupted search restarts from scratch
    kind_budget = {"darts": args.one_shot_steps, "shared-evolution": args.supernet_steps}.get(name, args.budget)
    request = SearchRequest(
        strategy=strategy,
        problem=spec,
        layers=args.layers,
        space=space,
        budget=kind_budget,
        training=config(args.proxy_steps, args.seed),
        seed=args.seed,
        warm_start=warm,
        subnets=args.subnets,
        top_k=1,
    )
    found = explore(request, runs)
    best = found["top"][0]["arch"]
    history = [{"seconds": e["seconds"], "metric": e["metric"]} for e in found["history"]]
    if not history:  # a one-shot export: scored like a multi-trial trial, its cost added
        scored = run_architecture(best, problem, config(args.proxy_steps, args.seed), DEFAULT_LAM, None, progress=False)
        history = [{"seconds": round(found["search_seconds"] + scored["seconds"], 3), "metric": -scored["val_nmse_db"]}]
    return {
        "strategy": strategy,
        "warm_start": warm,
        "proxy": found["proxy"],
        "budget": kind_budget,
        "search_seconds": found["search_seconds"],
        "strategy_seed": found["strategy_seed"],
        "history": history,
        "best_arch": best,
    }


def retrain(args, problem, arch: dict, seed: int) -> dict:
    found = run_architecture(arch, problem, config(args.retrain_steps, seed), DEFAULT_LAM, None, progress=False)
    return {
        "seed": seed,
        "test_nmse_db": found["nmse_db"],
        "val_nmse_db": found["val_nmse_db"],
        "seconds": found["seconds"],
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spaces = list(results["spaces"])
    fig, axes = plt.subplots(len(spaces), 2, figsize=(11, 4 * len(spaces)), squeeze=False)
    colours = plt.get_cmap("tab10")
    for row, space in enumerate(spaces):
        for column, axis_name in enumerate(("evaluated", "seconds")):
            ax = axes[row][column]
            for k, (name, found) in enumerate(results["spaces"][space].items()):
                curve = [p for p in anytime(found["history"]) if p["best_metric"] is not None]
                if not curve:
                    continue
                x = [p[axis_name] for p in curve]
                y = [-p["best_metric"] for p in curve]
                style = dict(
                    color=colours(k % 10), label=name + (" (inherited weights)" if name == "shared-evolution" else "")
                )
                if len(curve) == 1:
                    ax.plot(x, y, "o", **style)
                else:
                    ax.step(x, y, where="post", linestyle="--" if name == "shared-evolution" else "-", **style)
            ax.axhline(results["lista_proxy_val_db"], color="black", linewidth=1, label="LISTA (proxy)")
            ax.set_xlabel("architectures evaluated" if axis_name == "evaluated" else "wall seconds of the search")
            ax.set_ylabel("best validation NMSE found (dB)")
            ax.set_title(f"{space} space")
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # decades only: no crowded labels
            ax.grid(alpha=0.3)
    axes[0][1].legend(fontsize=8, loc="upper right")
    fig.suptitle(textwrap.fill(results["setting"], 150), fontsize=8)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def main() -> None:
    args = arguments()
    started = time.perf_counter()
    # units carry no setting in their names: refuse to mix runs of other settings in one --out
    identity = {k: v for k, v in vars(args).items() if k not in ("out", "spaces", "strategies", "quick")}
    kept = args.out / "settings.json"
    if kept.is_file() and json.loads(kept.read_text()) != json.loads(json.dumps(identity)):
        raise SystemExit(f"{args.out} holds a benchmark run with other settings ({kept}): give another --out")
    write_json(kept, identity)
    settings = problems.SyntheticSettings(m=args.m, n=args.n, seed=args.seed)
    spec = problems.problem_spec(settings)
    problem = problems.resolve_problem(spec)
    units = args.out / "units"
    lista = named_architecture("lista", args.layers)
    lista_proxy = unit(
        units / "lista-proxy.json",
        lambda: run_architecture(
            lista, problem, config(args.proxy_steps, args.seed), DEFAULT_LAM, None, progress=False
        )["val_nmse_db"],
    )
    lista_runs = [
        unit(units / f"lista-seed{seed}.json", lambda seed=seed: retrain(args, problem, lista, seed))
        for seed in args.seeds
    ]
    family = {
        name: [
            unit(
                units / f"{name}-seed{seed}.json",
                lambda name=name, seed=seed: retrain(args, problem, named_architecture(name, args.layers), seed),
            )
            for seed in args.seeds
        ]
        for name in FAMILY
    }
    jobs = [(space, name) for space in args.spaces for name in args.strategies]
    results = {"spaces": {space: {} for space in args.spaces}}
    for space, name in tqdm(jobs, desc="searches"):
        found = unit(units / space / f"{name}.json", lambda: search(args, spec, problem, space, name))
        digest = hashlib.sha256(json.dumps(found["best_arch"], sort_keys=True).encode()).hexdigest()[:16]
        found["retrained"] = [
            unit(
                units / "retrain" / f"{digest}-seed{seed}.json",  # one per architecture and seed
                lambda seed=seed: retrain(args, problem, found["best_arch"], seed),
            )
            for seed in args.seeds
        ]
        results["spaces"][space][name] = found

    lista_mean, lista_std = mean_and_sd([r["test_nmse_db"] for r in lista_runs])
    rows = [
        [
            "LISTA",
            "any",
            "1",
            "",
            f"{lista_proxy:.2f}",
            f"{lista_mean:.2f} +- {lista_std:.2f}" if lista_std is not None else f"{lista_mean:.2f}",
            "",
        ]
    ]
    for name, runs in family.items():  # the best family members, retrained like everything else
        mean, std = mean_and_sd([r["test_nmse_db"] for r in runs])
        rows.append(
            [
                name.upper(),
                "full",
                "",
                "",
                "",
                f"{mean:.2f} +- {std:.2f}" if std is not None else f"{mean:.2f}",
                f"{lista_mean - mean:+.2f}",
            ]
        )
        family[name] = {"runs": runs, "mean": mean, "std": std}
    for space, found_by_name in results["spaces"].items():
        for name, found in found_by_name.items():
            mean, std = mean_and_sd([r["test_nmse_db"] for r in found["retrained"]])
            larger = max(s for s in (std, lista_std) if s is not None) if len(args.seeds) > 1 else None
            best_proxy = max(e["metric"] for e in found["history"] if e["metric"] is not None)
            found["test_nmse_db"] = {
                "mean": mean,
                "std": std,
                "gain_over_lista_db": lista_mean - mean,
                "larger_spread_db": larger,
            }
            rows.append(
                [
                    name,
                    space,
                    str(len(found["history"])),
                    f"{found['search_seconds']:.0f}",
                    f"{-best_proxy:.2f}" + (" (inherited)" if name == "shared-evolution" else ""),
                    f"{mean:.2f} +- {std:.2f}" if std is not None else f"{mean:.2f}",
                    f"{lista_mean - mean:+.2f}" + (f" (spread {larger:.2f})" if larger is not None else ""),
                ]
            )
    setting = (
        f"{args.m}x{args.n}, T={args.layers}, noiseless, problem seed {args.seed}; multi-trial budget {args.budget} "
        f"x {args.proxy_steps}-step proxy; DARTS {args.one_shot_steps} supernet batches; shared-evolution "
        f"{args.supernet_steps} supernet batches + {args.subnets} subnets; retraining {args.retrain_steps} steps, "
        f"training seeds {args.seeds}"
    )
    header = [
        "strategy",
        "space",
        "archs scored",
        "search s",
        "best proxy val dB",
        "retrained test dB",
        "gain vs LISTA dB",
    ]
    table = markdown_table(header, rows)
    results.update(
        {
            "setting": setting,
            "lista_proxy_val_db": lista_proxy,
            "lista": lista_runs,
            "family": family,
            "lista_test_nmse_db": {"mean": lista_mean, "std": lista_std},
            "seconds_this_run": round(time.perf_counter() - started, 1),
        }
    )
    write_json(args.out / "results.json", results)
    (args.out / "table.md.tmp").write_text(f"{setting}\n\n{table}\n")
    (args.out / "table.md.tmp").replace(args.out / "table.md")
    plot(results, args.out / "anytime.png")
    print(setting)
    print(table)
    print(
        f"\nwrote {args.out / 'results.json'}, {args.out / 'table.md'}, {args.out / 'anytime.png'} "
        f"({results['seconds_this_run']:.0f} s this run)"
    )


if __name__ == "__main__":
    main()
