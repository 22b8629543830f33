"""Is the family trained to its published levels? Each anchored member on its anchor's problem.

    .venv/bin/python benchmarks/family_levels.py [--members ...] [--out DIR]

The published levels (``ANCHORS`` in ``benchmarks/discovery.py``) come from two sources with
two NMSE definitions: the NA-ALISTA authors' released logs (250x500, SNR 40 dB; ratio of sums,
``10 log10(sum ||x_hat - x||^2 / sum ||x||^2)``) and Open-L2O's figure (256x512, noiseless; the
mean over test samples of ``10 log10(||x_hat - x||^2 / ||x||^2)``, read off a plot, about
+-2 dB). Each anchored member is trained on the matching problem (p = 0.1, T = 16, the problem
seed of ``discovery.py``'s setting) by :mod:`nni_lista.train.recipe` with a longer recipe than
the discovery benchmark's: the rate chosen on validation from ``--lrs`` (default 5e-4, 1e-3),
at most ``--max-steps`` (20,000) end-to-end steps, the gradient norm clipped at 0.1, training
seed 0, and the plateau rule on validation (less than 0.1 dB of gain of the best validation
NMSE over ``--plateau-steps``, 3,000 steps): with ``--drops 0`` (the default) a cosine decay and
a stop at the first plateau; with ``--drops K`` a constant rate divided by 10 at each of the
first K plateaus and a stop at the next. The level is compared in the anchor's
definition; a member *reaches* its level when it is at most 2 dB above it.

``--from-alista lista-cpss`` adds a two-stage row for that member: it starts from the chosen
ALISTA run's best weights (:func:`nni_lista.models.family.coupled_from_alista`: ``W_k = gamma_k
W`` with ALISTA's analytic ``W``, the same function) and is trained by the same recipe; its
table row says so, beside the member's row from its own initialisation.

``--members`` and ``--settings`` pick a part, so two processes sharing ``--out`` can split the
work; every training run is kept under ``DIR/units/`` (``metrics.json`` and a checkpoint) and
read, not repeated, by a later run, which writes ``DIR/results.json`` and ``DIR/table.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from tqdm import tqdm

from discovery import ANCHORS, SETTINGS
from nni_lista.base.tables import markdown_table
from report import write_report
from nni_lista.models import family
from nni_lista.problem import problems
from nni_lista.space.spaces import named_architecture
from nni_lista.train.evaluation import layer_nmse_db
from nni_lista.train.recipe import Recipe, choose_lr
from nni_lista.train.runs import run

#: the anchors' problems: setting -> (m, n)
SIZES = {"snr40": (250, 500), "noiseless": (256, 512)}
#: how far above its published level (dB) a member may stay and still count as at its level
TOLERANCE_DB = 2.0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", choices=list(SIZES), default=["noiseless"])
    parser.add_argument(
        "--members",
        nargs="+",
        default=None,
        help="which anchored members (default: every member with a published level in the settings)",
    )
    parser.add_argument("--lrs", type=float, nargs="+", default=[5e-4, 1e-3], help="the recipe's learning-rate grid")
    parser.add_argument("--max-steps", type=int, default=20_000, help="the recipe's step cap")
    parser.add_argument("--plateau-steps", type=int, default=3000, help="the convergence rule's window (steps)")
    parser.add_argument(
        "--drops", type=int, default=0, help="plateaus that divide the rate by 10 before one stops the run"
    )
    parser.add_argument(
        "--from-alista",
        nargs="*",
        default=[],
        choices=["lista-cpss"],
        help="members also trained from the chosen ALISTA run's weights (a two-stage row)",
    )
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("results/family-levels"))
    return parser.parse_args()


def level(found: dict, definition: str) -> float:
    """A run's test NMSE in the anchor's definition."""
    return found["nmse_db"] if definition == "ratio of sums" else found["nmse_db_sample_mean"]


def coupled_start(problem, layers: int, checkpoint: Path) -> family.LISTACPSS:
    """LISTA-CPSS computing what the ALISTA run of ``checkpoint`` (the space's network, its best
    validation weights) computes."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
    alista = family.ALISTA(
        problem.A, layers
    )  # the analytic W of this problem, as the space's analytic form computes it
    with torch.no_grad():
        for k in range(layers):
            alista.gamma[k].copy_(state[f"blocks.{k}.form.gamma"].reshape(alista.gamma[k].shape))
            alista.theta[k].copy_(state[f"blocks.{k}.neuron.theta"].reshape(alista.theta[k].shape))
    return family.coupled_from_alista(alista)


def from_alista(name: str, problem, recipe: Recipe, layers: int, alista_dir: Path, out: Path) -> tuple[float, dict]:
    """The recipe's grid for ``name`` started from the ALISTA run in ``alista_dir``: (chosen rate, runs by rate)."""
    recorded = {lr: out / f"lr{lr:g}-seed0" / "metrics.json" for lr in recipe.lrs}
    if all(
        path.is_file() for path in recorded.values()
    ):  # committed runs are read (their checkpoints are not committed)
        grid = {lr: json.loads(path.read_text()) for lr, path in recorded.items()}
        config = {lr: recipe.config(lr, 0).to_dict() for lr in recipe.lrs}
        assert all(
            grid[lr]["settings"]["lr"] == lr
            and grid[lr]["settings"]["max_steps"] == config[lr]["max_steps"]
            and grid[lr]["settings"].get("plateau_drops", 0) == config[lr].get("plateau_drops", 0)
            for lr in grid
        ), f"{out} holds runs of another recipe"
        return min(grid, key=lambda lr: grid[lr]["val_nmse_db"]), grid
    grid = {}
    start = layer_nmse_db(
        coupled_start(problem, layers, alista_dir / "checkpoint.pt"), problem, problem.val, layers - 1
    )
    recorded = json.loads((alista_dir / "metrics.json").read_text())["val_nmse_db"]
    assert abs(start - recorded) < 0.01, (
        f"the start scores {start:.2f} dB on validation, the ALISTA run {recorded:.2f} dB"
    )
    for lr in recipe.lrs:
        model = coupled_start(problem, layers, alista_dir / "checkpoint.pt")
        grid[lr] = run(
            model,
            f"{name}-from-alista",
            problem,
            recipe.config(lr, 0),
            out / f"lr{lr:g}-seed0",
            {"init": f"ALISTA run {alista_dir.name}"},
            progress=False,
        )
    return min(grid, key=lambda lr: grid[lr]["val_nmse_db"]), grid


def main() -> None:
    args = arguments()
    started = time.perf_counter()
    recipe = Recipe(
        lrs=tuple(args.lrs),
        max_steps=args.max_steps,
        eval_every=250,
        plateau_steps=args.plateau_steps,
        plateau_drops=args.drops,
    )
    work = [
        (setting, name)
        for (setting, name) in ANCHORS
        if setting in args.settings and (args.members is None or name in args.members)
    ]
    rows, results = [], []
    for setting, name in tqdm(work, desc="family levels", unit="member"):
        m, n = SIZES[setting]
        settings = problems.SyntheticSettings(m=m, n=n, **SETTINGS[setting])
        problem = problems.resolve_problem(problems.problem_spec(settings))
        where = args.out / "units" / f"{setting}-{m}x{n}"
        lr, grid = choose_lr(named_architecture(name, args.layers), problem, recipe, 0, where / name)
        member_rows = [(name, lr, grid)]
        if name == "alista":
            for other in args.from_alista:
                member_rows.append(
                    (
                        f"{other} (from ALISTA)",
                        *from_alista(
                            other,
                            problem,
                            recipe,
                            args.layers,
                            where / "alista" / f"lr{lr:g}-seed0",
                            where / f"{other}-from-alista",
                        ),
                    )
                )
        for label, lr, grid in member_rows:
            _row(args, setting, m, n, label, ANCHORS[(setting, label.split()[0])], lr, grid, rows, results)
    _write(args, recipe, started, rows, results)


def _row(args, setting, m, n, name, anchor, lr, grid, rows, results) -> None:
    """One table row (and results entry): ``name``'s chosen run against its published level."""
    chosen = grid[lr]
    published, definition, source = anchor
    ours = level(chosen, definition)
    reached = ours <= published + TOLERANCE_DB
    results.append(
        {
            "setting": setting,
            "m": m,
            "n": n,
            "model": name,
            "lr": lr,
            "grid_val_nmse_db": {f"{rate:g}": found["val_nmse_db"] for rate, found in grid.items()},
            "test_db": ours,
            "definition": definition,
            "published_db": published,
            "source": source,
            "reached": reached,
            "steps": chosen["steps"],
            "seconds_chosen": chosen["seconds"],
            "seconds_grid": sum(f["seconds"] for f in grid.values()),
        }
    )
    rows.append(
        [
            setting,
            f"{m}x{n}",
            name,
            f"{lr:g}",
            f"{ours:.2f}",
            f"{published:.1f}",
            definition,
            f"{ours - published:+.2f}",
            "yes" if reached else "no",
            str(chosen["steps"]),
            f"{chosen['seconds']:.0f}",
            f"{results[-1]['seconds_grid']:.0f}",
        ]
    )


def _write(args, recipe, started, rows, results) -> None:
    schedule = (
        f"constant rate divided by 10 at each of the first {args.drops} plateaus, stop at the next; a plateau is"
        if args.drops
        else "cosine decay), stop at"
    )
    setup = (
        f"p = 0.1, T = {args.layers}; recipe: lr from {args.lrs} on validation, gradient norm clipped at "
        f"{recipe.clip_norm:g}, at most {args.max_steps} steps ({schedule} less than {recipe.plateau_db} dB of gain "
        f"per {args.plateau_steps} steps{')' if args.drops else ''}; training seed 0; reached = at most "
        f"{TOLERANCE_DB:g} dB above the level"
        + (
            "; a (from ALISTA) row starts from the chosen ALISTA run's best weights: its steps and seconds are its own "
            "stage's, the ALISTA row's come first"
            if args.from_alista
            else ""
        )
    )
    table = markdown_table(
        [
            "setting",
            "problem",
            "model",
            "lr",
            "test dB",
            "published",
            "definition",
            "ours - published",
            "reached",
            "steps",
            "seconds (chosen run)",
            "seconds (whole grid)",
        ],
        rows,
    )
    write_report(
        args.out, setup, table, {"members": results, "seconds_this_run": round(time.perf_counter() - started, 1)}
    )


if __name__ == "__main__":
    main()
