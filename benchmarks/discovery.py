"""Does a search find networks that beat the best family member? Measured in one run.

    .venv/bin/python benchmarks/discovery.py [--quick] [--settings snr40 noiseless kappa30] [--out DIR]

For each setting (250x500, p = 0.1, T = 16: ``snr40`` at SNR 40 dB, ``noiseless``, and the
harder ``kappa30``, noiseless with condition number 30; each with its own problem seed):

1. **the family, trained to its level**: every learned named architecture of the ``full``
   space (LISTA, LISTA-CP, LISTA-CPSS, ALISTA, dense, ALISTA-AT, AGLISTA, HyperLISTA) trained by
   :mod:`nni_lista.train.recipe` (its learning rate chosen on validation from the grid
   ``--lrs``, the gradient norm clipped at 0.1, the convergence rule on validation, at most
   ``--max-steps``) with training seed
   ``seeds[0]``; the **best family member** is the one with the best validation NMSE;
2. **the search**: ``nni-lista search --strategy evolution --space full`` (warm-started from
   the family, dimension moves on, ``--budget`` architectures scored by a ``--proxy-steps``
   end-to-end training at ``--proxy-lr``), its wall time, and its best architecture named
   (:func:`nni_lista.search.handback.name_architecture`: "= ALISTA", or the nearest family
   member and the labels that differ); its ``--finalists`` best architectures by the proxy are
   then trained by the recipe with the first seed, and the one with the best validation NMSE
   is the **searched network** (a second, full-fidelity rung of successive halving: the short
   proxy ranks close architectures poorly);
3. **the comparison**: the searched network and the best family member, both trained by the
   same recipe with every training seed ``--seeds``; the paired difference of their test NMSE
   (searched minus family member, seed by seed; negative = the searched network is better) with
   its 95 % Student-t interval. A setting is *won* when the whole interval is below 0 and the
   searched network is not a family member.

``--only family --members ...``, ``--only search`` and ``--only finalists`` run one piece of each setting, so that
several processes sharing ``--out`` can split a setting; a last run without ``--only`` finds
them done and writes the tables.

Test NMSE is the ratio of sums over the test set (the definition of the NA-ALISTA authors'
released logs, the SNR 40 dB anchors); the mean of per-sample dB (Open-L2O's, the noiseless
anchors) is recorded beside it. Every finished piece is written under ``DIR/units/`` (a
training run as its ``metrics.json`` and checkpoint): running the command again resumes.
Writes ``DIR/results.json``, ``DIR/table.md``, ``DIR/family.md`` and ``DIR/discovery.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import textwrap
import math
import shutil
import time
from pathlib import Path

from tqdm import tqdm

from nni_lista.base.io import json_unit as unit, write_json, write_text
from nni_lista.base.tables import markdown_table
from nni_lista.problem import problems
from nni_lista.problem.metrics import mean_and_sd, paired_difference
from nni_lista.search.explore import SearchRequest, explore
from nni_lista.search.handback import name_architecture
from nni_lista.space.architectures import named_architecture
from nni_lista.train.recipe import Recipe, choose_lr, replicates
from nni_lista.train.training import TrainConfig

#: setting -> the problem's settings besides the size (each its own problem seed)
SETTINGS = {
    "snr40": {"snr_db": 40.0, "seed": 40},
    "noiseless": {"snr_db": math.inf, "seed": 41},
    "kappa30": {"snr_db": math.inf, "kappa": 30.0, "seed": 42},
}
#: the learned named architectures (ISTA and FISTA learn nothing)
FAMILY = ("lista", "lista-cp", "lista-cpss", "alista", "dense", "alista-at", "aglista", "hyperlista")
#: published levels: (setting, name) -> (dB, NMSE definition, source); read from the authors'
#: released logs (SNR 40 dB, 250x500) or from a figure (noiseless, 256x512, about +-2 dB)
ANCHORS = {
    ("snr40", "alista"): (-39.1, "ratio of sums", "NA-ALISTA logs"),
    ("snr40", "aglista"): (-41.3, "ratio of sums", "NA-ALISTA logs"),
    ("snr40", "alista-at"): (-42.0, "ratio of sums", "NA-ALISTA logs"),
    ("noiseless", "alista"): (-78.0, "per-sample mean", "Open-L2O figure, 256x512"),
    ("noiseless", "lista-cpss"): (-63.0, "per-sample mean", "Open-L2O figure, 256x512"),
    ("noiseless", "lista"): (-35.0, "per-sample mean", "Open-L2O figure, 256x512"),
    ("noiseless", "lista-cp"): (-30.0, "per-sample mean", "Open-L2O figure, 256x512"),
}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 64x128 problem, T = 6, tiny budgets (a few minutes)")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--m", type=int, default=250)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--lrs", type=float, nargs="+", default=[2e-3, 5e-3], help="the recipe's learning-rate grid")
    parser.add_argument("--max-steps", type=int, default=6000, help="the recipe's step cap")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds of the comparison")
    parser.add_argument("--budget", type=int, default=40, help="architectures the search scores")
    parser.add_argument("--proxy-steps", type=int, default=500, help="end-to-end steps of the search's proxy training")
    parser.add_argument("--proxy-lr", type=float, default=5e-3, help="learning rate of the proxy training")
    parser.add_argument(
        "--finalists", type=int, default=3, help="the search's best architectures trained by the recipe"
    )
    parser.add_argument(
        "--only",
        choices=["family", "search", "finalists"],
        help="run one piece and stop (to spread a setting over several processes sharing --out): the "
        "family members (--members), the search, or the search's finalists (after the search); a run "
        "without it does everything left and writes the tables",
    )
    parser.add_argument(
        "--members", nargs="+", choices=FAMILY, default=list(FAMILY), help="with --only family: which members"
    )
    parser.add_argument("--out", type=Path, default=Path("results/discovery"))
    args = parser.parse_args()
    if args.quick:
        args.m, args.n, args.layers, args.max_steps, args.budget, args.proxy_steps = 64, 128, 6, 800, 12, 200
    return args


def summary(found: dict) -> dict:
    """What the tables need of one training run's ``metrics.json``."""
    return {
        "seed": found["settings"]["train_seed"],
        "lr": found["settings"]["lr"],
        "test_nmse_db": found["nmse_db"],
        "test_nmse_db_sample_mean": found.get("nmse_db_sample_mean"),
        "val_nmse_db": found["val_nmse_db"],
        "steps": found["steps"],
        "seconds": found["seconds"],
    }


def search(args, spec: dict, setting: str, runs: Path) -> dict:
    shutil.rmtree(runs, ignore_errors=True)  # an interrupted search restarts from scratch
    proxy = TrainConfig(
        protocol="e2e",
        max_steps=args.proxy_steps,
        eval_every=max(1, args.proxy_steps // 4),
        lr=args.proxy_lr,
        clip_norm=Recipe.clip_norm,
    )
    request = SearchRequest(
        strategy="evolution",
        problem=spec,
        layers=args.layers,
        space="full",
        budget=args.budget,
        training=proxy,
        seed=SETTINGS[setting]["seed"],
        top_k=5,
    )
    found = explore(request, runs)
    top = found["top"]
    for item in top:
        item["name"] = name_architecture(item["arch"], "full", args.layers)["text"]
    return {
        "search_seconds": found["search_seconds"],
        "strategy_seed": found["strategy_seed"],
        "proxy": found["proxy"],
        "history": [{"seconds": e["seconds"], "metric": e["metric"]} for e in found["history"]],
        "top": [{"name": item["name"], "metric": item["metric"], "arch": item["arch"]} for item in top],
    }


def run_setting(args, setting: str, recipe: Recipe, bar) -> dict:
    settings = problems.SyntheticSettings(m=args.m, n=args.n, **SETTINGS[setting])
    spec = problems.problem_spec(settings)
    problem = problems.resolve_problem(spec)
    units = args.out / "units" / setting
    family = {}
    for name in args.members if args.only == "family" else FAMILY if args.only is None else ():
        bar.set_postfix_str(f"{setting}: {name}")  # step 1: every member at every rate of the grid, first seed
        lr, grid = choose_lr(named_architecture(name, args.layers), problem, recipe, args.seeds[0], units / name)
        family[name] = {"lr": lr, "grid": {f"{rate:g}": summary(found) for rate, found in grid.items()}}
        bar.update()
    if args.only != "family":
        bar.set_postfix_str(f"{setting}: search")
        found = unit(units / "search.json", lambda: search(args, spec, setting, args.out / "runs" / setting))
        bar.update()
    if args.only in ("family", "search"):
        return {}
    finalists = []  # step 2b: the proxy's best few, trained by the recipe (first seed); the best on validation is kept
    for rank, item in enumerate(found["top"][: args.finalists]):
        bar.set_postfix_str(f"{setting}: finalist {rank + 1}")
        described = name_architecture(item["arch"], "full", args.layers)  # a family member's runs are its family unit's
        where = units / (described["nearest"] if described["family_member"] else f"finalist{rank + 1}")
        lr, grid = choose_lr(item["arch"], problem, recipe, args.seeds[0], where)
        finalists.append(
            {
                "rank": rank + 1,
                "name": item["name"],
                "proxy_metric": item["metric"],
                "lr": lr,
                "val_nmse_db": grid[lr]["val_nmse_db"],
                "arch": item["arch"],
                "units": where.name,
            }
        )
    if args.only == "finalists":
        return {}
    best = min(family, key=lambda name: family[name]["grid"][f"{family[name]['lr']:g}"]["val_nmse_db"])
    searched = min(finalists, key=lambda item: item["val_nmse_db"])
    bar.set_postfix_str(f"{setting}: retraining")
    compared = {
        "searched": replicates(searched["arch"], problem, recipe, args.seeds, units / searched["units"]),
        best: replicates(named_architecture(best, args.layers), problem, recipe, args.seeds, units / best),
    }
    bar.update()
    tests = {key: [run["nmse_db"] for run in value["runs"]] for key, value in compared.items()}
    difference = paired_difference(tests["searched"], tests[best])
    description = name_architecture(searched["arch"], "full", args.layers)
    won = difference["high"] is not None and difference["high"] < 0 and not description["family_member"]
    return {
        "problem": settings.__dict__ | {"snr_db": str(settings.snr_db)},
        "family": family,
        "best_family_member": best,
        "search": found,
        "finalists": finalists,
        "searched": description,
        "compared": {
            key: {"lr": value["lr"], "grid_val_nmse_db": value["grid"], "runs": [summary(r) for r in value["runs"]]}
            for key, value in compared.items()
        },
        "paired_difference_db": difference,
        "won": won,
    }


def _mean_sd(values: list[float]) -> str:
    mean, sd = mean_and_sd(values)
    return f"{mean:.2f}" if sd is None else f"{mean:.2f} +- {sd:.2f}"


def tables(results: dict, args) -> tuple[str, str]:
    rows = []
    for setting, found in results["settings"].items():
        best, d = found["best_family_member"], found["paired_difference_db"]
        tests = {key: [r["test_nmse_db"] for r in value["runs"]] for key, value in found["compared"].items()}
        interval = "" if d["low"] is None else f" [{d['low']:+.2f}, {d['high']:+.2f}]"
        rows.append(
            [
                setting,
                best,
                _mean_sd(tests[best]),
                _mean_sd(tests["searched"]),
                f"{d['mean']:+.2f}{interval}",
                "yes" if found["won"] else "no",
                f"{found['search']['search_seconds']:.0f}",
                found["searched"]["text"],
            ]
        )
    main = markdown_table(
        [
            "setting",
            "best family member",
            "its test dB",
            "searched test dB",
            "searched - member, dB [95% CI]",
            "won",
            "search s",
            "the searched network",
        ],
        rows,
    )
    rows = []
    for setting, found in results["settings"].items():
        for name, member in found["family"].items():
            chosen = member["grid"][f"{member['lr']:g}"]
            anchor = ANCHORS.get((setting, name)) if (args.m, args.n, args.layers) == (250, 500, 16) else None
            shown = "" if anchor is None else f"{anchor[0]:.1f} ({anchor[1]}, {anchor[2]})"
            per_sample = chosen["test_nmse_db_sample_mean"]
            rows.append(
                [
                    setting,
                    name,
                    f"{member['lr']:g}",
                    f"{chosen['val_nmse_db']:.2f}",
                    f"{chosen['test_nmse_db']:.2f}",
                    "" if per_sample is None else f"{per_sample:.2f}",
                    shown,
                    str(chosen["steps"]),
                    f"{chosen['seconds']:.0f}",
                ]
            )
    family = markdown_table(
        [
            "setting",
            "model",
            "lr",
            "val dB",
            "test dB (ratio of sums)",
            "test dB (per-sample mean)",
            "published level",
            "steps",
            "seconds",
        ],
        rows,
    )
    return main, family


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = list(results["settings"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for index, setting in enumerate(settings):
        found = results["settings"][setting]
        members = found["family"]
        for k, (name, member) in enumerate(members.items()):
            value = member["grid"][f"{member['lr']:g}"]["test_nmse_db"]
            axes[0].plot(index, value, "o", color="grey", alpha=0.6)
            axes[0].annotate(name, (index, value), xytext=(6, 0), textcoords="offset points", fontsize=6, va="center")
        tests = [r["test_nmse_db"] for r in found["compared"]["searched"]["runs"]]
        axes[0].plot(
            [index] * len(tests),
            tests,
            "*",
            color="tab:red",
            markersize=10,
            label="searched (each seed)" if index == 0 else None,
        )
        d = found["paired_difference_db"]
        if d["low"] is not None:
            axes[1].errorbar(
                index,
                d["mean"],
                yerr=[[d["mean"] - d["low"]], [d["high"] - d["mean"]]],
                fmt="o",
                capsize=5,
                color="tab:red" if found["won"] else "tab:grey",
            )
        else:
            axes[1].plot(index, d["mean"], "o", color="tab:grey")
    axes[0].set_ylabel("test NMSE (dB, ratio of sums)")
    axes[0].set_title("family members (grey, first seed) and the searched network")
    axes[0].legend(fontsize=8)
    axes[1].axhline(0.0, color="black", linewidth=1)
    axes[1].set_ylabel("searched - best family member (dB)")
    axes[1].set_title("paired difference over training seeds, 95% CI")
    for ax in axes:
        ax.set_xticks(range(len(settings)), settings)
        ax.grid(alpha=0.3)
    fig.suptitle(textwrap.fill(results["setup"], 150), fontsize=8)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def main() -> None:
    args = arguments()
    logging.getLogger("nni").setLevel(logging.WARNING)  # NNI's per-trial INFO lines print whole label maps
    started = time.perf_counter()
    identity = {k: v for k, v in vars(args).items() if k not in ("out", "settings", "quick", "only", "members")}
    kept = args.out / "settings.json"
    if kept.is_file() and json.loads(kept.read_text()) != json.loads(json.dumps(identity, default=str)):
        raise SystemExit(f"{args.out} holds a benchmark run with other settings ({kept}): give another --out")
    write_json(kept, json.loads(json.dumps(identity, default=str)))
    recipe = Recipe(lrs=tuple(args.lrs), max_steps=args.max_steps, eval_every=min(250, max(1, args.max_steps // 8)))
    results = {"settings": {}}
    pieces = {"family": len(args.members), "search": 1, "finalists": 1, None: len(FAMILY) + 2}[args.only]
    with tqdm(total=len(args.settings) * pieces, desc="discovery", unit="piece") as bar:
        for setting in args.settings:
            results["settings"][setting] = run_setting(args, setting, recipe, bar)
    if args.only is not None:
        return
    results["setup"] = (
        f"{args.m}x{args.n}, p = 0.1, T = {args.layers}; recipe: lr from {args.lrs} on validation, "
        f"gradient norm clipped at {recipe.clip_norm:g}, at most {args.max_steps} steps, "
        f"stop below {recipe.plateau_db} dB per {recipe.plateau_steps} steps; "
        f"search: warm-started evolution on the full space, {args.budget} architectures x {args.proxy_steps}-step "
        f"proxy at lr {args.proxy_lr:g}; training seeds {args.seeds}"
    )
    results["seconds_this_run"] = round(time.perf_counter() - started, 1)
    main_table, family_table = tables(results, args)
    write_json(args.out / "results.json", results)
    for name, text in (("table.md", main_table), ("family.md", family_table)):
        write_text(args.out / name, f"{results['setup']}\n\n{text}\n")
    plot(results, args.out / "discovery.png")
    print(results["setup"])
    print(main_table)
    print()
    print(family_table)
    print(
        f"\nwrote {args.out}/results.json, table.md, family.md, discovery.png ({results['seconds_this_run']:.0f} s "
        "this run)"
    )


if __name__ == "__main__":
    main()
