"""Inference of trained unrolled networks against FISTA run to the same accuracy (issue #14).

Trains each model of ``--models`` on the default problem (250x500, p = 0.1, noiseless, T = 16)
with the study's recipe (end to end, Adam, batch 256, lr 2e-3 cosine over ``--max-steps``), and
takes its test NMSE (ratio of sums). Then runs FISTA on the same test set,
``x_{k+1} = eta_{lam/L}(y_k + (b - y_k A^T) A / L)``, ``y_k = x_k + (t_{k-1} - 1) / t_k (x_k - x_{k-1})``
(Beck and Teboulle 2009), for each LASSO weight of ``--lams`` until its test NMSE is at least as
good as the model's (at most ``--max-iterations``), and keeps the weight that needs the fewest
iterations. Both are then timed on this machine, interleaved (the fastest of ``--repeats``
rounds, ``nni_lista.search.latency.fastest_ms``), on the whole test set (1,000 samples) and on
one sample. Prints the speed-up at equal accuracy. Run it on an otherwise idle machine:

    .venv/bin/python benchmarks/inference_vs_fista.py --out results/inference/cpu.json
    .venv/bin/python benchmarks/inference_vs_fista.py --quick   # 300 training steps: the pipeline only

``--from-study DIR`` trains nothing: it takes the networks that ``nni-lista study --out DIR``
trained on its ``--setting`` (default ``noiseless``, the paper's problem) with training seed
``--seed`` (every baseline of the family and the search's retrained best), on that setting's
problem instance (``DIR/problems/SETTING.pt``). Each checkpoint must be a finished run whose
fingerprint matches the model, problem and recipe its ``metrics.json`` records, and the model must
score that file's test NMSE again; otherwise the script stops with a one-line error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

from nni_lista.base.errors import UsageError, require
from nni_lista.base.io import write_json
from nni_lista.base.tables import markdown_table
from nni_lista.models import family
from nni_lista.problem import problems
from nni_lista.problem.metrics import nmse_db, nmse_db_sample_mean
from nni_lista.search.latency import fastest_ms
from nni_lista.train.evaluation import evaluate
from nni_lista.train.runs import training_config
from nni_lista.train.training import CheckpointStore, TrainConfig, fingerprint, train


def fista(
    A: torch.Tensor,
    b: torch.Tensor,
    lam: float,
    iterations: int,
    L: float,
    target: torch.Tensor | None = None,
    goal_db: float | None = None,
    check_every: int = 10,
    stall_db: float = 0.01,
    stall_window: int = 500,
) -> tuple[torch.Tensor, int]:
    """FISTA from x = 0 for ``iterations`` steps; with ``target`` and ``goal_db``, stops at the
    first multiple of ``check_every`` whose NMSE against ``target`` is at or below the goal, or
    gives up once the NMSE improved by less than ``stall_db`` over the last ``stall_window``
    iterations (converged to the LASSO solution's bias, above the goal). Returns the estimate and
    the iterations run."""
    x_prev = x = torch.zeros(b.shape[0], A.shape[1], dtype=b.dtype)
    t = 1.0
    step, threshold = 1.0 / L, lam / L
    checks: list[float] = []
    for k in range(1, iterations + 1):
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        y = x + ((t - 1.0) / t_next) * (x - x_prev)
        z = y + (b - y @ A.T) @ A * step
        x_prev, x = x, torch.sign(z) * torch.clamp(z.abs() - threshold, min=0.0)
        t = t_next
        if goal_db is not None and k % check_every == 0:
            checks.append(nmse_db(x, target))
            if checks[-1] <= goal_db:
                return x, k
            window = stall_window // check_every
            if len(checks) > window and min(checks[:-window]) - min(checks) < stall_db:
                return x, k
    return x, iterations


def trained_here(names: list[str], problem, steps: int):
    """``(name, steps, model)`` for each family model of ``names``, trained here on ``problem``."""
    for name in names:
        model = family.build(name, problem.A, 16)
        train(
            model,
            problem,
            TrainConfig(
                protocol="e2e", max_steps=steps, batch=256, lr=2e-3, eval_every=max(steps // 10, 1), patience=steps
            ),
            progress=None,
        )
        yield name, steps, model


def trained_by_study(study: Path, setting: str, seed: int, problem):
    """``(name, steps, model)`` for each learned network that ``nni-lista study --out study``
    trained on ``setting`` with training seed ``seed``: the baselines, then the retrained searched
    architectures (``searched (top1)``, ...), restored from their finished checkpoints."""
    from nni_lista.space.backbones import BACKBONES

    work = study / "work"
    runs = sorted((work / "baseline" / setting).glob(f"*/seed{seed}")) + sorted(
        (work / "retrain" / setting).glob(f"top*/seed{seed}")
    )
    require(
        bool(runs),
        f"--from-study {str(study)!r} has no trained runs of setting {setting!r} with seed {seed} under {str(work)!r}",
    )
    for directory in runs:
        metrics_path = directory / "metrics.json"
        if not metrics_path.exists():
            print(f"skipping {directory}: not finished (no metrics.json)", file=sys.stderr)
            continue
        metrics = json.loads(metrics_path.read_text())
        settings = metrics["settings"]
        if metrics["model"] == "arch":
            name = f"searched ({directory.parent.name})"
            model = BACKBONES[settings["backbone"]].build(
                settings["arch"], problem.m, problem.n, problem.A, settings["lam"]
            )
        else:
            name = metrics["model"]
            model = family.build(name, problem.A, settings["layers"], settings["lam"])
        if not model.learned:
            continue
        state = CheckpointStore(directory, fingerprint(model, problem, training_config(settings))).load()
        require(state is not None and bool(state.get("finished")), f"{str(directory)!r} holds no finished training run")
        model.load_state_dict(state["model"])
        again = evaluate(model, problem)["nmse_db"]
        require(
            abs(again - metrics["nmse_db"]) < 1e-3,
            f"{str(directory)!r}: the restored model scores {again:.4f} dB, its metrics.json "
            f"{metrics['nmse_db']:.4f} dB",
        )
        yield name, metrics["steps"], model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lista,lista-cp,lista-cpss,alista")
    parser.add_argument("--max-steps", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="300 training steps per model")
    parser.add_argument(
        "--from-study", type=Path, metavar="DIR", help="the networks a study trained (no training here)"
    )
    parser.add_argument("--setting", default="noiseless", help="with --from-study: the study's setting")
    parser.add_argument("--seed", type=int, default=0, help="with --from-study: the training seed")
    parser.add_argument(
        "--lams", type=float, nargs="+", default=[0.4, 0.1, 0.025, 0.00625, 0.0015625, 0.000390625, 0.00009765625]
    )
    parser.add_argument("--max-iterations", type=int, default=20_000)
    parser.add_argument(
        "--repeats", type=int, default=5, help="timing rounds (a FISTA call on 1,000 samples lasts seconds)"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    try:
        if args.from_study is not None:
            problem_file = args.from_study / "problems" / f"{args.setting}.pt"
            require(
                problem_file.is_file(),
                f"--from-study {str(args.from_study)!r} holds no problem of setting {args.setting!r} "
                f"({str(problem_file)!r}): give the --out of an `nni-lista study` run and one of its settings",
            )
            problem = problems.load(problem_file)
            require(
                problem.kind == "synthetic",
                f"--setting {args.setting!r} is an image problem; FISTA here solves synthetic ones",
            )
            models = trained_by_study(args.from_study, args.setting, args.seed, problem)
            source = f"trained by the study in {args.from_study} (setting {args.setting}, seed {args.seed})"
        else:
            problem = problems.make_synthetic(problems.SyntheticSettings())
            steps = 300 if args.quick else args.max_steps
            models = trained_here(args.models.split(","), problem, steps)
            source = f"trained here for {steps} steps"
        rows, records = compare(models, problem, args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    settings = problem.settings
    print(
        f"{settings.get('m')}x{settings.get('n')}, p = {settings.get('p')}, SNR {settings.get('snr_db', 'inf')}; "
        f"models {source}; "
        f"{torch.get_num_threads()} threads; NMSE as a ratio of sums over the test set (sample mean of per-sample "
        "dB in brackets)"
    )
    print(
        markdown_table(
            [
                "model",
                "test NMSE dB",
                "FISTA lam, iterations to match",
                "FISTA NMSE dB",
                "ms, 1000 samples (model / FISTA)",
                "speed-up",
                "ms, 1 sample (model / FISTA)",
                "speed-up",
            ],
            rows,
        )
    )
    if args.out is not None:
        write_json(
            args.out,
            {
                "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
                "source": source,
                "models": records,
            },
        )
        print(f"wrote {args.out}")
    return 0


def compare(models, problem, args) -> tuple[list, list]:
    """For each ``(name, steps, model)``: its test NMSE, the LASSO weight of ``args.lams`` with
    which FISTA matches it in the fewest iterations, and both timed, interleaved."""
    A, test = problem.A, problem.test
    L = float(torch.linalg.matrix_norm(A, ord=2) ** 2)
    one = test.b[:1]
    rows, records = [], []
    for name, steps, model in models:
        model.eval()
        scores = evaluate(model, problem)
        goal = scores["nmse_db"]
        best = None
        for lam in args.lams:  # a weight that needs more iterations than the best so far is not run further
            x, used = fista(A, test.b, lam, args.max_iterations if best is None else best[1], L, test.s, goal)
            reached = nmse_db(x, test.s) <= goal  # also when the cap, not a check, ended the run
            if reached and (best is None or used < best[1]):
                best = (lam, used, nmse_db(x, test.s), nmse_db_sample_mean(x, test.s))
        record = {
            "model": name,
            "steps": steps,
            "test_nmse_db": goal,
            "test_nmse_db_sample_mean": scores["nmse_db_sample_mean"],
            "fista": None,
        }
        model_nmse = f"{goal:.2f} ({scores['nmse_db_sample_mean']:.2f})"
        if best is None:
            rows.append([name, model_nmse, f"not reached in {args.max_iterations} iterations", "", "", "", "", ""])
        else:
            lam, iterations, fista_db, fista_sample_db = best
            ms = fastest_ms(
                {
                    "model 1000": lambda: model(test.b),
                    "fista 1000": lambda: fista(A, test.b, lam, iterations, L),
                    "model 1": lambda: model(one),
                    "fista 1": lambda: fista(A, one, lam, iterations, L),
                },
                args.repeats,
            )
            record["fista"] = {
                "lam": lam,
                "iterations": iterations,
                "test_nmse_db": fista_db,
                "test_nmse_db_sample_mean": fista_sample_db,
                "ms": ms,
            }
            rows.append(
                [
                    name,
                    model_nmse,
                    f"{lam:g}, {iterations}",
                    f"{fista_db:.2f} ({fista_sample_db:.2f})",
                    f"{ms['model 1000']:.2f} / {ms['fista 1000']:.1f}",
                    f"{ms['fista 1000'] / ms['model 1000']:.3g}x",
                    f"{ms['model 1']:.3f} / {ms['fista 1']:.2f}",
                    f"{ms['fista 1'] / ms['model 1']:.3g}x",
                ]
            )
        records.append(record)
        print(f"{name}: {rows[-1]}", file=sys.stderr, flush=True)
    return rows, records


if __name__ == "__main__":
    sys.exit(main())
