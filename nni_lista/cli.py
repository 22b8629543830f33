"""The ``nni-lista`` command line: argument parsing, messages and tables, nothing else.

Bad input ends with one line ``nni-lista <command>: error: ...`` and exit code 2; a
diverged training run with exit code 1 (its last good checkpoint stays); an interrupted
one with 130, or 143 on SIGTERM (run the same command again to resume).
"""

from __future__ import annotations

import argparse
import json
import os
import logging
import math
import re
import sys
import warnings
from pathlib import Path
from typing import Optional, Sequence

from nni_lista.base.errors import TrainingDiverged, UsageError, require, short
from nni_lista.base.signals import Interrupted, interruptible

PROBLEM_KINDS = ("synthetic", "image-cs")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def _snr(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value) or value == -math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: give a number of dB or 'inf' for noiseless")
    return value


def _kappa(text: str) -> Optional[float]:
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 1.0):
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: give a condition number >= 1, or 'none'")
    return value


def _add_problem_options(parser: argparse.ArgumentParser, with_file: bool) -> None:
    group = parser.add_argument_group("problem (docs/problem-and-family.md); defaults 250x500, p=0.1, noiseless")
    group.add_argument("--m", type=int, help="measurements (default 250; 128 for image-cs)")
    group.add_argument("--n", type=int, help="code length (default 500)")
    group.add_argument("--p", type=float, help="sparsity: probability of a non-zero (default 0.1)")
    group.add_argument("--snr", type=_snr, help="measurement SNR in dB, or 'inf' for noiseless (default inf)")
    group.add_argument("--kappa", type=_kappa, help="condition number of A, or 'none' (default none)")
    group.add_argument("--seed", type=int, default=0, help="seeds the problem and the training (default 0)")
    if with_file:
        group.add_argument("--problem", type=Path, metavar="FILE",
                           help="solve the instance saved in FILE by `nni-lista make-problem` (then --m/--n/--p/--snr/--kappa are not allowed)")


def _add_training_options(parser: argparse.ArgumentParser, with_layers: bool = True) -> None:
    from nni_lista.models.family import DEFAULT_LAM
    from nni_lista.train.training import PROTOCOLS, TrainConfig

    default = TrainConfig()

    group = parser.add_argument_group("model and training (docs/problem-and-family.md, docs/training.md)")
    if with_layers:
        group.add_argument("--layers", type=int, default=16, help="layers T; for ista/fista the iteration count (default 16)")
    else:
        parser.set_defaults(layers=None)
    group.add_argument("--lam", type=float, default=DEFAULT_LAM, help=f"LASSO weight of ista/fista and of the ISTA initialisation (default {DEFAULT_LAM})")
    group.add_argument("--protocol", choices=list(PROTOCOLS), default=default.protocol, help="stagewise (the literature's) or e2e (fast) (default %(default)s)")
    group.add_argument("--max-steps", type=int, default=default.max_steps, help="Adam steps for the whole run; stagewise splits them evenly over its 3T stages (default %(default)s)")
    group.add_argument("--batch", type=int, default=default.batch, help="training batch size (default %(default)s)")
    group.add_argument("--lr", type=float, default=default.lr, help="e2e: Adam's initial learning rate, cosine-decayed to 1%% (default %(default)s)")
    group.add_argument("--eval-every", type=int, default=default.eval_every, help="validate every this many steps (default %(default)s)")
    group.add_argument("--patience", type=int, default=default.patience, help="end a stage after this many steps without improvement (default %(default)s)")
    group.add_argument("--device", default="auto", help="auto (CUDA when present, else cpu), cpu, cuda or cuda:N (default %(default)s)")
    group.add_argument("--lr-scale", default="", metavar="KIND=FACTOR,...",
                       help="e2e: learning-rate factor per parameter kind (matrix, threshold, step, gain), e.g. threshold=10,step=10 "
                            "(default: 1 for every kind)")
    group.add_argument("--warmup-steps", type=int, default=0, help="e2e: linear learning-rate warm-up over this many steps (default 0)")
    group.add_argument("--compile", action="store_true",
                       help="e2e only: torch.compile the loss, forward and backward (faster steps after 22-35 s of compilation "
                            "per network, 2.6-3.9 s cached; pays from a few thousand steps, docs/training.md)")


def build_parser() -> argparse.ArgumentParser:
    from nni_lista.models.family import MODELS
    from nni_lista.problem.problems import ImageCSSettings
    from nni_lista.train.training import TRAINING_PRESETS

    parser = _Parser(prog="nni-lista", description="LISTA design-space study on NNI: problems, the LISTA family, training.")
    parser.add_argument("--verbose", action="store_true", help="also show NNI's and Lightning's info lines and Lightning's "
                        "warnings, held back by default (docs/cli.md); taken anywhere on the command line")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    make = commands.add_parser("make-problem", help="generate a problem instance and save it to one file")
    make.add_argument("--kind", choices=PROBLEM_KINDS, default="synthetic", help="synthetic sparse coding or natural-image CS (default synthetic)")
    _add_problem_options(make, with_file=False)
    make.add_argument("--patch", type=int, default=ImageCSSettings.patch, help="image-cs: patch side in pixels (default %(default)s)")
    make.add_argument("--atoms", type=int, default=ImageCSSettings.n_atoms, help="image-cs: dictionary atoms, the code length n (default %(default)s)")
    own = make.add_argument_group("your own matrix (docs/problem-and-family.md#your-own-matrix-and-data)")
    own.add_argument("--matrix", type=Path, metavar="FILE", help="the m x n operator A as a .npy, .npz (one array) or .pt "
                     "(one tensor) file; or, with --dictionary, the m x d sensing matrix; m, n come from it")
    own.add_argument("--dictionary", type=Path, metavar="FILE", help="with --matrix: a d x n dictionary D, so that A = matrix D")
    own.add_argument("--signals", metavar="TRAIN,VAL,TEST", help="with --matrix: your own training, validation and test "
                     "sets (three files, or a directory holding train.npy, val.npy, test.npy): rows of codes (length n), or of "
                     "signals (length d) with --dictionary; default: Bernoulli(--p)-Gaussian codes drawn from --seed")
    own.add_argument("--normalise", action=argparse.BooleanOptionalAction, default=True,
                     help="with --matrix: scale the operator's columns to unit norm (default on)")
    make.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the problem file")

    train = commands.add_parser("train", help="train and test one model; writes DIR/metrics.json")
    train.add_argument("--model", choices=list(MODELS), required=True)
    _add_problem_options(train, with_file=True)
    _add_training_options(train)
    train.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory (metrics.json, nmse_vs_layer.png, checkpoints)")

    compare = commands.add_parser("compare", help="several models on one problem instance, one table")
    compare.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)} (default all)")
    _add_problem_options(compare, with_file=True)
    _add_training_options(compare)
    compare.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory: DIR/MODEL/metrics.json, DIR/compare.json, DIR/nmse_vs_layer.png")

    from nni_lista.search.strategy_names import STRATEGY_INFO
    from nni_lista.space.architectures import BACKBONE_NAMES, NAMED_ARCHITECTURES, PRESETS

    search = parser.search_parser = commands.add_parser("search", help="search the design space with an NNI strategy; writes DIR/top.json")
    search.add_argument("--config", type=Path, metavar="FILE", help="a strategies/*.search.yml file; options given here override it")
    search.add_argument("--strategy", choices=list(STRATEGY_INFO),
                        help="; ".join(f"{name}: {e.summary} ({e.kind})" for name, e in STRATEGY_INFO.items()))
    search.add_argument("--space", default=None,
                        help="lista (nothing to choose), connectivity (skips), neurons, paper (skips + neurons), full (+ weight forms: "
                             "every family member is a point of it); the dladmm backbone has plain, connectivity, neurons, paper "
                             "(default full; paper for dladmm)")
    search.add_argument("--backbone", choices=list(BACKBONE_NAMES), default="lista",
                        help="the unrolled model whose space is searched: lista, or dladmm (D-LADMM, docs/design-space.md) (default %(default)s)")
    search.add_argument("--budget", type=int, default=10,
                        help="multi-trial strategies: architectures tried, each trained for --max-steps; "
                             "one-shot and weight-sharing strategies: supernet training batches (default 10)")
    search.add_argument("--max-seconds", type=float, metavar="SECONDS",
                        help="stop the search after SECONDS of wall time and keep what it found (the architecture "
                             "training then finishes; the retraining after the search is not counted) (default: no bound)")
    search.add_argument("--warm-start", action=argparse.BooleanOptionalAction, default=True,
                        help="evolution, random and shared-evolution: the family members of the space (LISTA, LISTA-CP, LISTA-CPSS, "
                             "ALISTA, dense, ALISTA-AT, AGLISTA, HyperLISTA) are tried first, so the search never ends worse than "
                             "the best of them on the proxy "
                             "(default on)")
    search.add_argument("--subnets", type=int, default=200,
                        help="weight-sharing strategies: subnets scored with the supernet's weights (default %(default)s)")
    search.add_argument("--retrain-seeds", type=int, default=2,
                        help="retrain the best architecture and LISTA with this many training seeds (--seed, --seed+1, ...) and "
                             "report mean and spread (default %(default)s)")
    search.add_argument("--mutations", type=int, default=3,
                        help="evolution: a child changes 1..MUTATIONS labels of its parent (default %(default)s)")
    search.add_argument("--dimension-prob", type=float, default=0.5, metavar="PROB",
                        help="evolution: the share of children moved along a whole dimension instead, a sweep of one value over "
                             "a run of layers or a graft of one dimension from another parent (default %(default)s)")
    search.add_argument("--top-k", type=int, default=5, help="architectures listed in top.json (multi-trial) (default 5)")
    search.add_argument("--max-flops", type=float, help="only architectures with at most this many FLOPs per sample (NNI FlopsProfiler)")
    search.add_argument("--max-params", type=float, help="only architectures with at most this many parameters (NNI NumParamsProfiler)")
    search.add_argument("--max-latency", type=float, metavar="MS",
                        help="only architectures whose forward pass takes at most MS milliseconds here (the measured latency model, docs/searching.md)")
    search.add_argument("--latency-batch", type=int, default=1, help="the batch size --max-latency is for (default %(default)s)")
    search.add_argument("--latency-margin", type=float, default=0.15, metavar="FRACTION",
                        help="keep the table's predicted latency this fraction under --max-latency, for its error (default %(default)s)")
    search.add_argument("--latency-table", type=Path, metavar="FILE",
                        help="the latency table to use (measured and written there when missing; default OUT/latency-table.json)")
    search.add_argument("--reuse-prefixes", action=argparse.BooleanOptionalAction, default=True,
                        help="stage-wise multi-trial searches: start each architecture after the longest prefix of layers "
                             "trained before (same numbers as from scratch, less work) (default on)")
    search.add_argument("--port", type=int, help="multi-trial strategies: run each architecture as a trial of NNI's manager "
                                                 "and serve NNI's web UI on this port (default: no manager, in-process)")
    search.add_argument("--training-service", type=Path, metavar="FILE",
                        help="with --port: run the trials on NNI's training service of this NNI experiment config "
                             "(its trainingService and nniManagerIp, e.g. strategies/remote.yml); default local")
    search.add_argument("--host", default="127.0.0.1", help="address the manager and web UI listen on with --port "
                                                           "(default %(default)s; 0.0.0.0 for all interfaces)")
    _add_problem_options(search, with_file=True)
    _add_training_options(search)
    search.set_defaults(**TRAINING_PRESETS["search-proxy"])
    search.add_argument("--out", type=Path, metavar="DIR", help="output directory: top.json, best_arch.json, nmse_vs_layer.png, best_arch.png, retrain/")

    retrain = commands.add_parser("retrain", help="train an architecture file from scratch; writes DIR/metrics.json like train")
    retrain.add_argument("--arch", type=Path, required=True, metavar="FILE", help="a JSON label map (best_arch.json, or `nni-lista arch`)")
    _add_problem_options(retrain, with_file=True)
    _add_training_options(retrain, with_layers=False)  # the architecture file fixes T
    retrain.add_argument("--layers", type=int, default=None,
                         help="optional: the architecture file fixes T; given, it must equal the file's depth")
    retrain.add_argument("--backbone", choices=list(BACKBONE_NAMES), default="lista",
                         help="the space the architecture belongs to: lista, or dladmm for a best_arch.json of "
                              "`search --backbone dladmm` (default %(default)s)")
    retrain.add_argument("--out", type=Path, required=True, metavar="DIR")

    trial = commands.add_parser("trial", help="one NNI trial: read the architecture from NNI, train, report (nnictl's trialCommand)")
    trial.add_argument("--space", choices=list(PRESETS), default="paper", help="the preset the search space file was made from (default %(default)s)")
    _add_problem_options(trial, with_file=True)
    _add_training_options(trial)
    trial.set_defaults(**TRAINING_PRESETS["search-proxy"])

    export = commands.add_parser("export-space", help="write the space as a classic NNI HPO search space (for nnictl)")
    export.add_argument("--space", choices=list(PRESETS), default="paper", help="the preset (default paper)")
    export.add_argument("--layers", type=int, default=16, help="layers T (default 16)")
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="JSON file; search_spaces/ holds PRESET-T.json files")

    latency = commands.add_parser("latency", help="measure the space's latency table here, for --max-latency (docs/searching.md)")
    latency.add_argument("--m", type=int, default=250, help="measurements (default %(default)s)")
    latency.add_argument("--n", type=int, default=500, help="code length (default %(default)s)")
    latency.add_argument("--layers", type=int, default=16, help="layers T (default %(default)s)")
    latency.add_argument("--batch", type=int, default=1, help="batch size of the forward pass (default %(default)s)")
    latency.add_argument("--repeats", type=int, default=100, help="interleaved rounds: timed calls per choice, the fastest counts (default %(default)s)")
    latency.add_argument("--device", default="auto", help="auto (CUDA when present, else cpu), cpu, cuda or cuda:N (default %(default)s)")
    latency.add_argument("--arch", type=Path, nargs="+", metavar="FILE", default=[],
                         help="architecture files (best_arch.json): print their predicted and measured latency too")
    latency.add_argument("--out", type=Path, required=True, metavar="FILE", help="the table (JSON), for `search --latency-table`")

    pareto = commands.add_parser("pareto", help="NMSE against FLOPs, parameters or latency over finished searches, with the Pareto front")
    pareto.add_argument("runs", type=Path, nargs="+", metavar="DIR", help="--out directories of finished `nni-lista search` runs (same problem)")
    pareto.add_argument("--cost", choices=("flops", "params", "latency"), default="flops", help="the cost axis (default %(default)s)")
    pareto.add_argument("--latency-table", type=Path, metavar="FILE", help="--cost latency: a table from `nni-lista latency` (else measured now)")
    pareto.add_argument("--latency-batch", type=int, default=1, help="--cost latency: the batch size (default %(default)s)")
    pareto.add_argument("--out", type=Path, required=True, metavar="FILE", help="the figure (PNG); the points and the front go to FILE.json")

    view = commands.add_parser("view", help="serve NNI's web UI for a finished `search --port` run (in the background; nnictl stop ID ends it)")
    view.add_argument("run", type=Path, metavar="DIR", help="the search's output directory (holds top.json)")
    view.add_argument("--port", type=int, default=8080, help="web UI port (default %(default)s)")
    view.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s; 0.0.0.0 for all interfaces)")

    study = commands.add_parser("study", help="the design-space study: searches, retraining, baselines, analysis (resumable)")
    study.add_argument("--config", type=Path, required=True, metavar="FILE", help="a study config (examples/study-*.yml)")
    study.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory: study.json, table.md, *.png; "
                                                                              "run the same command again to resume")
    study.add_argument("--device", default="auto", help="auto (CUDA when present, else cpu), cpu, cuda or cuda:N (default %(default)s)")
    study.add_argument("--no-progress", action="store_true", help="no progress bar (there is none unless stderr is a terminal)")

    arch = commands.add_parser("arch", help="write a named architecture of the space as a JSON label map")
    arch.add_argument("--name", choices=NAMED_ARCHITECTURES, required=True)
    arch.add_argument("--layers", type=int, default=16)
    arch.add_argument("--out", type=Path, required=True, metavar="FILE")

    export = commands.add_parser("export", help="the network a search found, with its retrained weights, in one .pt file "
                                                "(LISTASpace.load_searched_model(FILE) loads it)")
    export.add_argument("--from", dest="run", type=Path, required=True, metavar="DIR", help="the --out directory of a finished search")
    export.add_argument("--out", type=Path, required=True, metavar="FILE.pt")
    return parser


def _problem_settings(args: argparse.Namespace, kind: str = "synthetic"):
    """The problem options given, mapped onto a problem's settings as a study config's are."""
    from nni_lista.problem.problems import PROBLEM_FIELDS, problem_settings

    given = {k: getattr(args, k) for k in PROBLEM_FIELDS[kind] if getattr(args, k, None) is not None}
    return problem_settings(kind, given)


def _problem_spec(args: argparse.Namespace) -> dict:
    from nni_lista.problem.problems import problem_spec

    if args.problem is None:
        return problem_spec(_problem_settings(args))
    clashing = [f"--{k}" for k in ("m", "n", "p", "snr", "kappa") if getattr(args, k) is not None]
    require(not clashing, f"{', '.join(clashing)} cannot be combined with --problem: the file fixes the problem")
    return problem_spec(file=str(args.problem.resolve()))


def _problem_from_args(args: argparse.Namespace, layers: Optional[int] = None):
    """The problem of the options, its sizes checked against memory before it is made (and
    again, with the file's sizes, after a ``--problem`` file is read)."""
    from nni_lista.problem.problems import resolve_problem

    layers = args.layers if layers is None else layers
    spec = _problem_spec(args)
    if args.problem is None:
        settings = spec["synthetic"]
        _check_memory(args, settings["m"], settings["n"], layers, settings["n_val"] + settings["n_test"])
    problem = resolve_problem(spec)
    if args.problem is not None:
        _check_memory(args, problem.m, problem.n, layers, problem.val.b.shape[0] + problem.test.b.shape[0])
    return problem


def _check_memory(args: argparse.Namespace, m: int, n: int, layers: Optional[int], n_fixed: int) -> None:
    from nni_lista.base.limits import check_memory

    layers = layers or 1
    batch = getattr(args, "batch", 0) or 0
    what = f"a {m}x{n} problem" + (f" with {layers} layers and batch {batch}" if batch else "")
    check_memory(what, m, n, layers, batch, n_fixed)


def _train_config(args: argparse.Namespace):
    from nni_lista.train.training import TrainConfig

    from nni_lista.base.limits import check_layers

    if args.layers is not None:
        check_layers(args.layers)
    require(math.isfinite(args.lam) and args.lam >= 0, f"lam {args.lam} is not allowed: it must be a number >= 0")
    return TrainConfig(protocol=args.protocol, max_steps=args.max_steps, batch=args.batch, lr=args.lr,
                       eval_every=args.eval_every, patience=args.patience, seed=args.seed, device=args.device,
                       lr_scale=parse_lr_scale(args.lr_scale), warmup_steps=args.warmup_steps, compile=args.compile)


def parse_lr_scale(text: str) -> dict:
    """``threshold=10,step=10`` as ``{"threshold": 10.0, "step": 10.0}`` (TrainConfig checks kinds and values)."""
    scale = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, _, value = item.partition("=")
        try:
            scale[kind.strip()] = float(value)
        except ValueError:
            raise UsageError(f"lr-scale {item!r} is not allowed: give KIND=FACTOR pairs, e.g. threshold=10,step=10") from None
    return scale


def _extra_settings(args: argparse.Namespace) -> dict:
    return {"problem_file": None if args.problem is None else str(args.problem)}


def _layer_table(results: dict) -> str:
    from nni_lista.base.tables import markdown_table

    names = list(results)
    depth = max(len(r["nmse_db_per_layer"]) for r in results.values())
    rows = []
    for k in range(depth):
        per_layer = [results[name]["nmse_db_per_layer"] for name in names]
        rows.append([k + 1, *(v[k] if k < len(v) else "" for v in per_layer)])
    return markdown_table(["layer", *names], rows)


def _summary_table(results: dict) -> str:
    from nni_lista.base.tables import markdown_table

    with_psnr = any("psnr_db" in r for r in results.values())
    headers = ["model", "protocol", "steps", "seconds", "NMSE dB", *(["PSNR dB"] if with_psnr else [])]
    rows = [[name, r["protocol"], r["steps"], r["seconds"], r["nmse_db"], *([r["psnr_db"]] if with_psnr else [])]
            for name, r in results.items()]
    return markdown_table(headers, rows)


def cmd_make_problem(args: argparse.Namespace) -> int:
    from nni_lista.problem import problems

    from nni_lista.base.io import remove_orphans_of
    from nni_lista.base.limits import check_output

    check_output(args.out, directory=False)
    remove_orphans_of(args.out)  # temporary files of a make-problem killed between writing and renaming
    require(args.matrix is not None or (args.dictionary is None and args.signals is None and args.normalise),
            "--dictionary, --signals and --no-normalise apply only with --matrix FILE")
    if args.matrix is not None:
        from nni_lista.problem import own_data

        fixed = [f"--{k}" for k in ("m", "n", "kappa") if getattr(args, k) is not None]
        require(args.kind == "synthetic" and not fixed,
                f"{', '.join(fixed) or '--kind image-cs'} do not apply with --matrix: the matrix fixes the problem's size")
        signals = None if args.signals is None else _signal_files(args.signals)
        problem = own_data.from_files(args.matrix, args.dictionary, signals, p=0.1 if args.p is None else args.p,
                                      snr_db=math.inf if args.snr is None else args.snr, seed=args.seed, normalise=args.normalise)
        problems.save(problem, args.out)
        print(f"wrote {args.out}: {own_data.describe(problem)}; {problem.val.b.shape[0]} validation and "
              f"{problem.test.b.shape[0]} test samples")
        return 0
    if args.kind == "synthetic":
        settings = _problem_settings(args)
        _check_memory(args, settings.m, settings.n, 1, settings.n_val + settings.n_test)
        problem = problems.make_synthetic(settings)
    else:
        unused = [f"--{k}" for k in ("n", "p", "kappa") if getattr(args, k) is not None]
        require(not unused, f"{', '.join(unused)} do not apply to --kind image-cs (use --atoms for the code length)")
        settings = _problem_settings(args, "image-cs")
        _check_memory(args, settings.m, settings.n_atoms, 1, settings.n_val + settings.n_test + settings.n_train_patches)
        print("learning the dictionary with scikit-learn (about a minute at the defaults)...", file=sys.stderr)
        problem = problems.make_image_cs(settings)
    problems.save(problem, args.out)
    print(f"wrote {args.out}: {problem.kind} problem, A is {problem.m}x{problem.n}, "
          f"{problem.val.b.shape[0]} validation and {problem.test.b.shape[0]} test samples")
    return 0


def _signal_files(text: str) -> list[Path]:
    """``--signals``: three comma-separated files, or a directory holding train/val/test files."""
    from nni_lista.problem.own_data import ARRAY_SUFFIXES

    folder = Path(text)
    if folder.is_dir():
        found = []
        for name in ("train", "val", "test"):
            files = [folder / f"{name}{suffix}" for suffix in ARRAY_SUFFIXES if (folder / f"{name}{suffix}").is_file()]
            require(len(files) == 1, f"--signals {text!r}: the directory must hold one {name}.npy (or .npz, .pt); found {len(files)}")
            found += files
        return found
    parts = [part for part in text.split(",") if part]
    require(len(parts) == 3, f"--signals {short(text)} is not allowed: give TRAIN,VAL,TEST (three files) or a directory")
    return [Path(part) for part in parts]


def cmd_train(args: argparse.Namespace) -> int:
    from nni_lista.base.limits import check_output
    from nni_lista.train.runs import run_model

    check_output(args.out)
    config = _train_config(args)
    problem = _problem_from_args(args)
    result = run_model(args.model, problem, args.layers, args.lam, config, args.out, _extra_settings(args))
    from nni_lista.study.plots import plot_nmse_vs_layer

    plot_nmse_vs_layer({args.model: result["nmse_db_per_layer"]}, args.out / "nmse_vs_layer.png",
                       f"{problem.kind} {problem.m}x{problem.n}, T={args.layers}, {config.protocol}")
    print(_layer_table({args.model: result}))
    print()
    print(_summary_table({args.model: result}))
    print(f"\nwrote {args.out / 'metrics.json'} and {args.out / 'nmse_vs_layer.png'}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from nni_lista.models.family import MODELS
    from nni_lista.base.io import write_json
    from nni_lista.study.plots import plot_nmse_vs_layer
    from nni_lista.train.runs import run_model

    names = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODELS]
    require(names and not unknown, f"models {args.models!r} are not allowed: give a comma-separated subset of {', '.join(MODELS)}")
    from nni_lista.base.limits import check_output

    check_output(args.out)
    config = _train_config(args)
    problem = _problem_from_args(args)
    results = {}
    for name in names:
        print(f"[{len(results) + 1}/{len(names)}] {name}", file=sys.stderr, flush=True)
        results[name] = run_model(name, problem, args.layers, args.lam, config, args.out / name, _extra_settings(args))
    write_json(args.out / "compare.json", results)
    plot_nmse_vs_layer({n: r["nmse_db_per_layer"] for n, r in results.items()}, args.out / "nmse_vs_layer.png",
                       f"{problem.kind} {problem.m}x{problem.n}, T={args.layers}, {config.protocol}")
    print(_layer_table(results))
    print()
    print(_summary_table(results))
    print(f"\nwrote {args.out / 'compare.json'} and {args.out / 'nmse_vs_layer.png'}")
    return 0


def _config_argv(parser: argparse.ArgumentParser, path: Path) -> list[str]:
    """A search YAML file (``field: value``, with the field names of the options: ``max_steps``
    for ``--max-steps``, the vocabulary of study configs) as the command-line options it stands
    for, so argparse checks every value as it checks flags."""
    import yaml

    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"config file {str(path)!r} does not exist") from None
    except UnicodeDecodeError:
        raise UsageError(f"config file {str(path)!r} is not a text file: give a YAML file such as strategies/evolution.search.yml") from None
    except OSError as exc:
        raise UsageError(f"cannot read config file {str(path)!r}: {exc.strerror}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"cannot read config file {str(path)!r}: {str(exc).splitlines()[0]}") from None
    require(isinstance(loaded, dict), f"config file {str(path)!r} must hold a mapping of option: value")
    actions = {a.option_strings[-1] if isinstance(a, argparse.BooleanOptionalAction) else a.option_strings[0]: a
               for a in parser.search_parser._actions if a.option_strings and a.dest not in ("help", "config")}
    argv: list[str] = []
    for key, value in loaded.items():
        require(not (isinstance(key, str) and "-" in key),
                f"key {short(key)} in {str(path)!r} is not allowed: write {short(str(key).replace('-', '_'))} "
                "(config files use the field names, as study configs do; the command line uses --max-steps)")
        flag = "--" + str(key).replace("_", "-")
        flag = flag if flag in actions else f"--no-{flag[2:]}" if f"--no-{flag[2:]}" in actions else flag
        require(flag in actions, f"unknown key {short(key)} in {str(path)!r}: allowed are {', '.join(sorted((k[5:] if isinstance(a, argparse.BooleanOptionalAction) else k[2:]).replace('-', '_') for k, a in actions.items()))}")
        if value is None:
            continue
        if isinstance(actions[flag], argparse.BooleanOptionalAction):
            require(isinstance(value, bool), f"{key} {short(value)} in {str(path)!r} is not allowed: give true or false")
            argv.append(f"--{flag[5:]}" if value else flag)
        else:
            require(isinstance(value, (str, int, float)) and not isinstance(value, bool),
                    f"{key} {short(value)} in {str(path)!r} is not allowed: give one value, as on the command line")
            argv += [flag, str(value)]
    return argv


def _search_config(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]], args: argparse.Namespace) -> argparse.Namespace:
    """``--config FILE`` read as options placed before those of the command line (which win)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return parser.parse_args([argv[0], *_config_argv(parser, args.config), *argv[1:]])


def _architecture_table(result: dict) -> str:
    from nni_lista.base.tables import markdown_table

    def most_common(arch: dict, dimension: str) -> str:
        values = [v for k, v in arch.items() if k.endswith(f"/{dimension}")]
        if not values:
            return ""
        common = max(sorted(set(values)), key=values.count)
        return f"{common} ({values.count(common)}/{len(values)})"

    rows = []
    for rank, item in enumerate(result["top"], start=1):
        arch = item["arch"]
        skips = sum(1 for k, v in arch.items() if "skip_from" in k and v == "on")
        metric = "one-shot: none" if item.get("metric") is None else -float(item["metric"])
        rows.append([rank, metric, item.get("name", ""), most_common(arch, "weight_form"), most_common(arch, "neuron"), skips])
    return markdown_table(["rank", "val NMSE dB (search)", "architecture", "weight form", "neuron", "skips on"], rows)


def _replicate_table(replicates: dict) -> str:
    from nni_lista.base.tables import markdown_table

    rows = []
    for name, row in replicates["models"].items():
        paired = row.get("paired_gain_db")
        gain = ("" if paired is None else f"{paired['mean']:+.2f}" if paired["low"] is None
                else f"{paired['mean']:+.2f} [{paired['low']:+.2f}, {paired['high']:+.2f}]")
        rows.append([name, f"{row['mean']:.2f} +- {row['std']:.2f}", ", ".join(f"{v:.2f}" for v in row["nmse_db"]), gain])
    seeds = ", ".join(map(str, replicates["training_seeds"]))
    return markdown_table(["model", f"test NMSE dB, mean +- std over seeds {seeds}", "per seed",
                           "searched better by dB, paired [95 % CI]"], rows)


def cmd_search(args: argparse.Namespace) -> int:
    require(args.strategy is not None, "--strategy is required (or a --config file that names one)")
    require(args.out is not None, "--out is required (or a --config file that names one)")
    from nni_lista.base.limits import check_layers, check_output

    check_output(args.out)
    check_layers(args.layers)
    if args.space is None:
        args.space = "full" if args.backbone == "lista" else "paper"
    problem = _problem_from_args(args)  # sizes checked against memory first
    spec = _problem_spec(args)
    if args.latency_table is not None and args.latency_table.exists():  # its content, before NNI is imported
        from nni_lista.space.latency_table import LatencyTable

        LatencyTable.load(args.latency_table)
    from nni_lista.search.explore import SearchRequest, run_search

    request = SearchRequest(
        strategy=args.strategy, problem=spec, layers=args.layers, space=args.space,
        budget=args.budget, training=_train_config(args), lam=args.lam, seed=args.seed, top_k=args.top_k,
        max_flops=args.max_flops, max_params=args.max_params, max_latency=args.max_latency, latency_batch=args.latency_batch,
        latency_margin=args.latency_margin,
        latency_table=None if args.latency_table is None else str(args.latency_table), port=args.port, host=args.host,
        **_training_service(args.training_service),
        reuse_prefixes=args.reuse_prefixes, backbone=args.backbone, warm_start=args.warm_start, mutations=args.mutations,
        dimension_prob=args.dimension_prob, subnets=args.subnets, retrain_seeds=args.retrain_seeds, max_seconds=args.max_seconds,
    )
    result = run_search(request, args.out, announce=lambda: print(
        f"searching the {args.space} space ({args.layers} layers, {problem.m}x{problem.n}) with {args.strategy}, "
        f"budget {args.budget}...", file=sys.stderr, flush=True))
    print(_architecture_table(result))
    found = result.get("found")
    if found is not None:
        what = "a family member: the search returned one of its starting points" if found["family_member"] else "not a family member"
        print(f"\nfound: {found['text']} ({what}); best family member scored by the search: {found['best_family_member']}")
    print()
    retrained = result["retrained"]
    print(_layer_table(retrained))
    print()
    print(_summary_table(retrained))
    if len(result["replicates"]["training_seeds"]) > 1:
        print()
        print(_replicate_table(result["replicates"]))
    bound = result.get("time_bound")
    if bound is not None and bound["stopped_the_search"]:
        kept = (f"the {len(result['history'])} architectures it had scored" if result["kind"] != "one-shot"
                else "the supernet as trained so far, exported as usual")
        print(f"\nthe time bound ({bound['max_seconds']:g} s) stopped the search before its budget; it kept {kept}")
    figures = _search_figures(result, args.out)
    print(f"\nsearch took {result['search_seconds']:.0f} s; wrote {args.out / 'top.json'}, {args.out / 'best_arch.json'}"
          f"{''.join(f', {path}' for path in figures)}")
    if args.port is not None:
        print(f"to look at it again in NNI's web UI: nni-lista view {args.out} --port {args.port}")
    return 0


def _search_figures(result: dict, out: Path) -> list[Path]:
    """``out/nmse_vs_layer.png`` (each retrained network's test NMSE per layer, its first training
    seed) and ``out/best_arch.png`` (the found architecture drawn, named as the search named it)."""
    from nni_lista.study.plots import plot_architecture, plot_nmse_vs_layer

    curves = {name: run["nmse_db_per_layer"] for name, run in result["retrained"].items()}
    found = result.get("found")
    return [plot_nmse_vs_layer(curves, out / "nmse_vs_layer.png", f"retrained after the {result['strategy']} search, T={result['layers']}"),
            plot_architecture(result["top"][0]["arch"], out / "best_arch.png",
                              f"found: {found['text']}" if found is not None else f"best architecture ({result['backbone']})")]


def _training_service(path: Optional[Path]) -> dict:
    """``training_service`` and ``nni_manager_ip`` of a search from an NNI experiment config file
    (NNI's own format, e.g. strategies/remote.yml); nothing without a file."""
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"training-service file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise UsageError(f"cannot read training-service file {str(path)!r}: give an NNI experiment config such as strategies/remote.yml") from None
    service = data.get("trainingService") if isinstance(data, dict) else None
    require(isinstance(service, dict) and isinstance(service.get("platform"), str),
            f"{str(path)!r} has no trainingService with a platform: give an NNI experiment config such as strategies/remote.yml")
    ip = data.get("nniManagerIp")
    require(ip is None or isinstance(ip, str), f"nniManagerIp {short(ip)} in {str(path)!r} is not allowed: give an address")
    from nni.experiment.config.training_service import TrainingServiceConfig
    from nni.nas.experiment import NasExperimentConfig

    config = NasExperimentConfig("ts", "simplified", training_service=service)
    require(isinstance(config.training_service, TrainingServiceConfig),
            f"platform {short(service.get('platform'))} in {str(path)!r} is not allowed: give one of NNI's training services (e.g. local, remote)")
    config.trial_concurrency, config.max_trial_number = 1, 1
    try:
        config.validate()  # NNI's own checks: machines, ports, keys
    except (ValueError, TypeError, AttributeError) as exc:
        raise UsageError(f"the trainingService of {str(path)!r} is not valid: {str(exc).splitlines()[0][:200]}") from None
    return {"training_service": service, "nni_manager_ip": ip}


def _is_architecture_of(path: Path, backbone: str) -> bool:
    from nni_lista.space.architectures import VALIDATORS, load_arch

    try:
        load_arch(path, VALIDATORS[backbone])
    except UsageError:
        return False
    return True


def cmd_retrain(args: argparse.Namespace) -> int:
    from nni_lista.base.limits import check_output
    from nni_lista.space.architectures import VALIDATORS, layers_of, load_arch

    check_output(args.out)
    try:
        arch = load_arch(args.arch, VALIDATORS[args.backbone])
    except UsageError as exc:
        if args.backbone == "lista" and _is_architecture_of(args.arch, "dladmm"):
            raise UsageError(f"{exc} (it is an architecture of the dladmm backbone: add --backbone dladmm)") from None
        raise
    depth = layers_of(arch)
    require(args.layers is None or args.layers == depth,
            f"--layers {args.layers} does not match {str(args.arch)!r}, whose architecture has {depth} layers: "
            f"leave --layers out or give {depth}")
    args.layers = None  # the file fixes T (and _train_config checks a given one only)
    config = _train_config(args)
    problem = _problem_from_args(args, layers=depth)
    from nni_lista.train.runs import run_architecture  # after every check: it imports NNI's model space

    result = run_architecture(arch, problem, config, args.lam, args.out, _extra_settings(args), backbone=args.backbone)
    print(_layer_table({"arch": result}))
    print()
    print(_summary_table({"arch": result}))
    print(f"\nwrote {args.out / 'metrics.json'}")
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    from nni_lista.study.plan import Study

    summary = Study.open(args.config, args.out, args.device, progress=sys.stderr.isatty() and not args.no_progress).run()
    print((args.out / "table.md").read_text())
    timing = summary["timing"]
    print(f"study took {timing['this_run_seconds']:.0f} s in this run ({timing['units_seconds']:.0f} s of work in all); "
          f"wrote {args.out / 'study.json'}, table.md and the figures")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from nni_lista.base.limits import check_output
    from nni_lista.search.export import export_search

    require(args.out.suffix == ".pt", f"--out {str(args.out)!r} is not allowed: the file name must end in .pt")
    check_output(args.out, directory=False)
    done = export_search(args.run, args.out)
    print(f"wrote {args.out}: {done['layers']} layers for a {done['m']}x{done['n']} problem, test NMSE {done['test_nmse_db']:.2f} dB "
          f"(load it with nni_lista.space.spaces.LISTASpace.load_searched_model({str(args.out)!r}))")
    return 0


def cmd_arch(args: argparse.Namespace) -> int:
    from nni_lista.base.limits import check_layers, check_output
    from nni_lista.space.architectures import named_architecture, save_arch

    check_layers(args.layers)
    check_output(args.out, directory=False)
    save_arch(named_architecture(args.name, args.layers), args.out)
    print(f"wrote {args.out}")
    return 0


def _trial_signals() -> None:
    """How NNI reads a trial's end: exit code 0 succeeded, any other code failed, killed by a
    signal cancelled (EARLY_STOPPED when its assessor asked). NNI stops trials with SIGINT, so
    SIGINT must kill us (not end in our exit 130); SIGTERM (``kill PID``, a scheduler's
    preemption) is a failure: exit 143."""
    import signal

    def terminated(signum, frame):
        print("nni-lista trial: terminated (SIGTERM); the trial fails", file=sys.stderr, flush=True)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, terminated)


def cmd_trial(args: argparse.Namespace) -> int:
    _trial_signals()
    from nni_lista.search import trial_parameters
    from nni_lista.search.evaluators import train_architecture
    from nni_lista.base.io import write_json
    from nni_lista.base.limits import check_layers
    from nni_lista.space.architectures import PRESETS, check, complete
    from nni_lista.space.spaces import build

    check_layers(args.layers)  # bounds the label table the parameters are checked against
    trial_parameters.refuse_exposed_manager()
    params = trial_parameters.receive()  # plain JSON: never NNI's unpickling decoder
    require(params is not None, "no parameters from NNI: run this as the trialCommand of an NNI experiment")
    check(params, args.layers, args.space)
    arch = complete(params, args.layers, PRESETS[args.space])
    problem = _problem_from_args(args)  # sizes checked against memory first
    spec = _problem_spec(args)
    config = _train_config(args)
    model = build(arch, problem.m, problem.n)
    metrics = train_architecture(model, spec, config.to_dict(), args.lam, settings={"arch": arch, "space": args.space, "backbone": "lista"})
    write_json(Path(os.environ.get("NNI_OUTPUT_DIR", ".")) / "metrics.json", metrics)  # the shape every run writes
    return 0


def cmd_export_space(args: argparse.Namespace) -> int:
    from nni_lista.space.hpo import search_space, write_search_space
    from nni_lista.base.limits import check_layers, check_output

    check_layers(args.layers)
    check_output(args.out, directory=False)
    write_search_space(args.space, args.layers, args.out)
    print(f"wrote {args.out}: {len(search_space(args.space, args.layers))} choices ({args.space} space, {args.layers} layers)")
    return 0


def cmd_latency(args: argparse.Namespace) -> int:
    from nni_lista.base.device import resolve_device
    from nni_lista.base.limits import check_layers, check_memory, check_output
    from nni_lista.base.tables import markdown_table
    from nni_lista.space.architectures import NAMED_ARCHITECTURES, layers_of, load_arch, named_architecture

    check_layers(args.layers)
    require(1 <= args.n and 1 <= args.m <= args.n, f"--m {args.m} and --n {args.n} are not allowed: give 1 <= m <= n")
    require(1 <= args.batch <= 65536, f"--batch {args.batch} is not allowed: it must be an integer in 1..65536")
    require(1 <= args.repeats <= 10_000, f"--repeats {args.repeats} is not allowed: it must be an integer in 1..10000")
    check_memory(f"a {args.m}x{args.n} problem with {args.layers} layers and batch {args.batch}", args.m, args.n, args.layers, args.batch, 0)
    check_output(args.out, directory=False)
    archs = [(path, load_arch(path)) for path in args.arch]  # checked before anything is measured
    for path, arch in archs:
        require(layers_of(arch) == args.layers, f"{str(path)!r} has {layers_of(arch)} layers: give --layers {layers_of(arch)}")
    from nni_lista.space.latency import measure_table, predict  # after every check: it imports NNI's profilers

    device = resolve_device(args.device)
    table, measured = measure_table(args.m, args.n, args.layers, args.batch, device, args.repeats, progress=sys.stderr.isatty(),
                                    networks={str(path): arch for path, arch in archs})
    table.save(args.out)
    k = min(2, args.layers)
    rows = [[f"weight form {name} (layer {k})", ms[k - 1]] for name, ms in table.forms.items()]
    rows += [[f"neuron {name} (layer {k})", ms[k - 1]] for name, ms in table.neurons.items()]
    rows += [[f"{dimension} {name} (layer {k})", ms[k - 1]] for dimension, values in table.mechanisms.items()
             for name, ms in values.items() if any(ms)]
    rows += [["one skip on", table.skip_ms], ["B b (lista form)", table.measure_ms], ["constant", table.constant_ms]]
    rows += [[f"{name} (T = {args.layers}, predicted)", predict(table, named_architecture(name, args.layers), args.m, args.n)]
             for name in NAMED_ARCHITECTURES]
    print(markdown_table(["choice", "ms"], [[name, f"{ms:.3f}"] for name, ms in rows]))
    if archs:  # timed in the same interleaved rounds as the table
        print()
        print(markdown_table(["architecture", "predicted ms", f"measured ms (fastest of {args.repeats}, interleaved)"],
                             [[str(path), f"{predict(table, arch, args.m, args.n):.3f}", f"{measured[str(path)]:.3f}"]
                              for path, arch in archs]))
    print(f"wrote {args.out}: measured on {table.key['device']}, {args.m}x{args.n}, batch {args.batch}")
    return 0


def cmd_pareto(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from nni_lista.base.io import write_json
    from nni_lista.base.limits import check_output
    from nni_lista.base.tables import markdown_table
    from nni_lista.problem.problems import resolve_problem
    from nni_lista.search import pareto

    check_output(args.out, directory=False)
    require(args.out.suffix.lower() == ".png", f"--out {str(args.out)!r} is not allowed: give a .png file")
    searches = {str(run): pareto.load_search(run) for run in dict.fromkeys(args.runs)}
    pareto.check_comparable(searches)
    data = next(iter(searches.values()))
    problem = resolve_problem(data["problem"])
    table = None
    if args.cost == "latency":
        from nni_lista.space.latency import load_or_measure

        table = load_or_measure(args.latency_table, problem.m, problem.n, data["layers"], args.latency_batch,
                                progress=sys.stderr.isatty())
    points = [point for run, found in searches.items() for point in pareto.search_points(Path(run), found)]
    points += pareto.family_points(searches, points, progress=sys.stderr.isatty())
    cost = pareto.cost_function(args.cost, problem.m, problem.n, data["layers"], table)
    for point in points:
        point.cost = cost(point.arch)
    front = pareto.front(points)
    unit = {"flops": "FLOPs per sample", "params": "parameters", "latency": f"latency (ms, batch {args.latency_batch}, here)"}[args.cost]
    distinct = len({json.dumps(p.arch, sort_keys=True) for p in points})  # a warm-started search scores the family again
    from nni_lista.study.plots import plot_pareto

    plot_pareto(points, front, args.out, unit, f"{distinct} different networks, {problem.m}x{problem.n}, T = {data['layers']}: "
                                                f"proxy validation NMSE against {args.cost}")
    from nni_lista.search.handback import name_architecture

    named = {id(p): name_architecture(p.arch, data.get("space", "full"), data["layers"])["text"] for p in points}
    write_json(args.out.with_suffix(".json"), {"cost": args.cost, "runs": list(searches),
                                               "points": [{**asdict(p), "what": named[id(p)]} for p in points],
                                               "front": [{**asdict(p), "what": named[id(p)]} for p in front]})
    print(markdown_table(["source", "network", "what it is", unit, "validation NMSE dB"],
                         [[p.source, p.name, named[id(p)], f"{p.cost:.4g}", f"{p.nmse_db:.2f}"] for p in front]))
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}: {len(front)} of {len(points)} points "
          f"({distinct} different networks) on the front")
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    from nni_lista.search import manager

    require(1 <= args.port <= 65535, f"port {args.port} is not allowed: it must be an integer in [1, 65535]")
    manager.check_host(args.host)
    from nni_lista.search.handback import load_top

    top = args.run / "top.json"
    data = load_top(args.run)
    run = data.get("nni_experiment")
    require(run is not None, f"{str(top)!r} names no NNI experiment: only searches run with --port have one to view")
    require(isinstance(run, dict) and isinstance(run.get("id"), str) and isinstance(run.get("directory"), str),
            f"{str(top)!r} is damaged: its nni_experiment {short(run)} lacks an id and a directory")
    try:
        pid = manager.view(run["id"], Path(run["directory"]), args.port, args.host)
    except manager.ViewFailed as exc:
        print(f"nni-lista view: {exc}", file=sys.stderr)
        return 1
    print(f"NNI web UI: {manager.url(args.host, args.port)} (experiment {run['id']}, manager pid {pid}); "
          f"stop it with: nnictl stop {run['id']}")
    return 0


# what running the same command again does after an interrupt (docs/cli.md, "Exit codes")
_RESUME = {
    "train": "run the same command again to resume from the last checkpoint",
    "compare": "run the same command again to resume (finished models are kept, the others resume from their checkpoints)",
    "retrain": "run the same command again to resume from the last checkpoint",
    "study": "run the same command again to resume (finished units are kept)",
    "make-problem": "nothing was written; run the same command again",
    "search": "run the same command again to resume",
    "latency": "nothing was written; run the same command again (it measures from the start)",
    "pareto": "nothing was written; run the same command again (it starts over)",
    "export-space": "nothing was written; run the same command again",
    "arch": "nothing was written; run the same command again",
    "export": "nothing was written; run the same command again",
}


COMMANDS = {"export": cmd_export, "make-problem": cmd_make_problem, "export-space": cmd_export_space, "trial": cmd_trial, "train": cmd_train, "compare": cmd_compare, "search": cmd_search,
            "retrain": cmd_retrain, "arch": cmd_arch, "view": cmd_view, "study": cmd_study, "latency": cmd_latency, "pareto": cmd_pareto}


def _refuse_past_every_bound(argv: Sequence[str]) -> Optional[str]:
    """The message for a ``--budget`` or ``--max-steps`` past every bound, found before the full
    parser imports torch and NNI (a budget of 10^11 is refused in well under a second); ``None``
    when none is. The per-strategy bounds are checked with everything else afterwards."""
    from nni_lista.base.limits import MAX_BATCHES, MAX_STEPS, MAX_TRIALS

    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--budget")
    early.add_argument("--max-steps")
    known, _ = early.parse_known_args(list(argv))
    for name, value, bound, what in (
            ("budget", known.budget, MAX_BATCHES, f"multi-trial strategies try at most {MAX_TRIALS:,} architectures, "
                                                  f"one-shot and weight-sharing ones train at most {MAX_BATCHES:,} supernet batches"),
            ("max-steps", known.max_steps, MAX_STEPS, f"a training run takes at most {MAX_STEPS:,} steps")):
        try:
            number = int(value) if value is not None else None
        except ValueError:
            continue  # not an integer: the full parser says so
        if number is not None and number > bound:
            return f"{name} {short(number)} is not allowed: {what}"
    return None


_NEGATIVE_WORD = re.compile(r"^-(inf|infinity|nan)$", re.IGNORECASE)


def _join_negative_words(argv: list[str]) -> list[str]:
    """``--snr -inf`` as ``--snr=-inf``: argparse reads ``-inf`` as an option, not a value, and
    would answer "expected one argument" instead of saying what is wrong with the value."""
    joined: list[str] = []
    for token in argv:
        if joined and _NEGATIVE_WORD.match(token) and joined[-1].startswith("--") and "=" not in joined[-1]:
            joined[-1] = f"{joined[-1]}={token}"
        else:
            joined.append(token)
    return joined


#: loggers whose records carry nothing for a user at their INFO level (NNI's engine and experiment
#: chatter, Lightning's trainer setup and advice); ``--verbose`` shows them
QUIET_LOGGERS = ("nni", "pytorch_lightning", "lightning.pytorch", "lightning_fabric")


def _nni_loggers() -> list[str]:
    """The loggers of NNI's sub-packages (``nni.nas``, ``nni.experiment``, ...), found without
    importing NNI: importing it sets the ``nni`` logger's own level to INFO, which a level set on
    ``nni`` before would not survive, while one set on its sub-packages' loggers does."""
    import importlib.util

    spec = importlib.util.find_spec("nni")
    folders = [Path(folder) for folder in (spec.submodule_search_locations or [])] if spec else []
    return [f"nni.{path.stem}" for folder in folders for path in folder.iterdir()
            if path.stem.isidentifier() and (path.is_dir() or path.suffix == ".py")]


#: NNI warnings about how a one-shot search uses it on purpose (logger -> the message's start): its
#: evaluator has no checkpoint callback and no validation loader (the strategy's choice is exported)
EXPECTED_NNI_WARNINGS = {"nni.nas.oneshot.pytorch.strategy": "Checkpoint callback is found to be None",
                         "nni.nas.evaluator.pytorch.lightning": "Validation dataloaders are missing"}


class _Expected(logging.Filter):
    """Drops one expected warning (:data:`EXPECTED_NNI_WARNINGS`)."""

    def __init__(self, start: str):
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


def _set_verbosity(verbose: bool) -> None:
    """Hold back NNI's and Lightning's info lines, Lightning's warnings and NNI's expected
    warnings (they would bury our tables and one-line errors), or, with ``--verbose``, show all."""
    for name in (*QUIET_LOGGERS, *_nni_loggers()):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    for name, start in EXPECTED_NNI_WARNINGS.items():  # set on the logger before NNI makes it: NNI keeps it
        log = logging.getLogger(name)
        for old in [f for f in log.filters if isinstance(f, _Expected)]:
            log.removeFilter(old)
        if not verbose:
            log.addFilter(_Expected(start))
    if not verbose:
        warnings.filterwarnings("ignore", module=r"pytorch_lightning(\..*)?$")


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = _join_negative_words(sys.argv[1:] if argv is None else list(argv))
    verbose = "--verbose" in argv  # taken anywhere on the line, before or after the command
    argv = [a for a in argv if a != "--verbose"]
    command = next((a for a in argv if not a.startswith("-")), None)
    refused = _refuse_past_every_bound(argv) if command in _RESUME else None
    if refused is not None:
        print(f"nni-lista {command}: error: {refused}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"nni-lista {args.command}"
    _set_verbosity(verbose)
    try:
        if args.command == "search" and args.config is not None:
            args = _search_config(parser, argv, args)
        if args.command not in _RESUME:  # trial: NNI's own signal protocol (_trial_signals); view: quick
            return COMMANDS[args.command](args)
        with interruptible(_RESUME[args.command]):
            return COMMANDS[args.command](args)
    except Interrupted as exc:
        print(f"{prog}: interrupted ({exc.name}); {exc.resume}", file=sys.stderr, flush=True)
        return exc.exit_code
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except TrainingDiverged as exc:
        print(f"{prog}: training diverged: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before the handlers were set
        print(f"{prog}: interrupted (SIGINT)", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
