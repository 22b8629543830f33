"""The ``nni-lista`` argument parser: every subcommand, its options and defaults, the search's
config files, and the checks that run before the full parser (and torch and NNI) are loaded."""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Optional, Sequence

from nni_lista.base.errors import UsageError, require, short


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
        group.add_argument(
            "--problem",
            type=Path,
            metavar="FILE",
            help=(
                "solve the instance saved in FILE by `nni-lista make-problem` (then --m/--n/--p/--snr/--kappa are "
                "not allowed)"
            ),
        )


def _add_training_options(parser: argparse.ArgumentParser, with_layers: bool = True) -> None:
    from nni_lista.models.family import DEFAULT_LAM
    from nni_lista.train.training import PROTOCOLS, TrainConfig

    default = TrainConfig()

    group = parser.add_argument_group("model and training (docs/problem-and-family.md, docs/training.md)")
    if with_layers:
        group.add_argument(
            "--layers", type=int, default=16, help="layers T; for ista/fista the iteration count (default 16)"
        )
    else:
        parser.set_defaults(layers=None)
    group.add_argument(
        "--lam",
        type=float,
        default=DEFAULT_LAM,
        help=f"LASSO weight of ista/fista and of the ISTA initialisation (default {DEFAULT_LAM})",
    )
    group.add_argument(
        "--protocol",
        choices=list(PROTOCOLS),
        default=default.protocol,
        help="stagewise (the literature's) or e2e (fast) (default %(default)s)",
    )
    group.add_argument(
        "--max-steps",
        type=int,
        default=default.max_steps,
        help="Adam steps for the whole run; stagewise splits them evenly over its 3T stages (default %(default)s)",
    )
    group.add_argument("--batch", type=int, default=default.batch, help="training batch size (default %(default)s)")
    group.add_argument(
        "--lr",
        type=float,
        default=default.lr,
        help="e2e: Adam's initial learning rate, cosine-decayed to 1%% (default %(default)s)",
    )
    group.add_argument(
        "--eval-every",
        type=int,
        default=default.eval_every,
        help="validate every this many steps (default %(default)s)",
    )
    group.add_argument(
        "--patience",
        type=int,
        default=default.patience,
        help="end a stage after this many steps without improvement (default %(default)s)",
    )
    group.add_argument(
        "--device", default="auto", help="auto (CUDA when present, else cpu), cpu, cuda or cuda:N (default %(default)s)"
    )
    group.add_argument(
        "--lr-scale",
        default="",
        metavar="KIND=FACTOR,...",
        help="e2e: learning-rate factor per parameter kind (matrix, threshold, step, gain), e.g. threshold=10,step=10 "
        "(default: 1 for every kind)",
    )
    group.add_argument(
        "--warmup-steps", type=int, default=0, help="e2e: linear learning-rate warm-up over this many steps (default 0)"
    )
    group.add_argument(
        "--compile",
        action="store_true",
        help="e2e only: torch.compile the loss, forward and backward (faster steps after 22-35 s of compilation "
        "per network, 2.6-3.9 s cached; pays from a few thousand steps, docs/training.md)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``nni-lista`` parser: one sub-parser per command, added by the functions below in the
    order ``--help`` lists them."""
    parser = _Parser(
        prog="nni-lista", description="LISTA design-space study on NNI: problems, the LISTA family, training."
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also show NNI's and Lightning's info lines and Lightning's "
        "warnings, held back by default (docs/cli.md); taken anywhere on the command line",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    for add in (
        _add_make_problem,
        _add_train_and_compare,
        _add_search,
        _add_retrain_and_trial,
        _add_tools,
        _add_study_arch_export,
    ):
        add(commands, parser)
    return parser


def _add_make_problem(commands, parser=None) -> None:
    """``make-problem``: a synthetic, image or user-matrix problem saved to one file."""
    from nni_lista.problem.problems import ImageCSSettings

    make = commands.add_parser("make-problem", help="generate a problem instance and save it to one file")
    make.add_argument(
        "--kind",
        choices=PROBLEM_KINDS,
        default="synthetic",
        help="synthetic sparse coding or natural-image CS (default synthetic)",
    )
    _add_problem_options(make, with_file=False)
    make.add_argument(
        "--patch", type=int, default=ImageCSSettings.patch, help="image-cs: patch side in pixels (default %(default)s)"
    )
    make.add_argument(
        "--atoms",
        type=int,
        default=ImageCSSettings.n_atoms,
        help="image-cs: dictionary atoms, the code length n (default %(default)s)",
    )
    own = make.add_argument_group("your own matrix (docs/problem-and-family.md#your-own-matrix-and-data)")
    own.add_argument(
        "--matrix",
        type=Path,
        metavar="FILE",
        help="the m x n operator A as a .npy, .npz (one array) or .pt "
        "(one tensor) file; or, with --dictionary, the m x d sensing matrix; m, n come from it",
    )
    own.add_argument(
        "--dictionary", type=Path, metavar="FILE", help="with --matrix: a d x n dictionary D, so that A = matrix D"
    )
    own.add_argument(
        "--signals",
        metavar="TRAIN,VAL,TEST",
        help="with --matrix: your own training, validation and test "
        "sets (three files, or a directory holding train.npy, val.npy, test.npy): rows of codes (length n), or of "
        "signals (length d) with --dictionary; default: Bernoulli(--p)-Gaussian codes drawn from --seed",
    )
    own.add_argument(
        "--normalise",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --matrix: scale the operator's columns to unit norm (default on)",
    )
    make.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the problem file")


def _add_train_and_compare(commands, parser=None) -> None:
    """``train`` one model and ``compare`` several."""
    from nni_lista.models.family import MODELS

    train = commands.add_parser("train", help="train and test one model; writes DIR/metrics.json")
    train.add_argument("--model", choices=list(MODELS), required=True)
    _add_problem_options(train, with_file=True)
    _add_training_options(train)
    train.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="output directory (metrics.json, nmse_vs_layer.png, checkpoints)",
    )

    compare = commands.add_parser("compare", help="several models on one problem instance, one table")
    compare.add_argument(
        "--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)} (default all)"
    )
    _add_problem_options(compare, with_file=True)
    _add_training_options(compare)
    compare.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="output directory: DIR/MODEL/metrics.json, DIR/compare.json, DIR/nmse_vs_layer.png",
    )


def _add_search(commands, parser=None) -> None:
    """``search``: what to search and how (strategy, space, budget, warm start), then its limits."""
    from nni_lista.search.strategy_names import STRATEGY_INFO
    from nni_lista.space.architectures import BACKBONE_NAMES

    search = parser.search_parser = commands.add_parser(
        "search", help="search the design space with an NNI strategy; writes DIR/top.json"
    )
    search.add_argument(
        "--config", type=Path, metavar="FILE", help="a strategies/*.search.yml file; options given here override it"
    )
    search.add_argument(
        "--strategy",
        choices=list(STRATEGY_INFO),
        help="; ".join(f"{name}: {e.summary} ({e.kind})" for name, e in STRATEGY_INFO.items()),
    )
    search.add_argument(
        "--space",
        default=None,
        help="lista (nothing to choose), connectivity (skips), neurons, paper (skips + neurons), full (+ weight forms: "
        "every family member is a point of it); the dladmm backbone has plain, connectivity, neurons, paper "
        "(default full; paper for dladmm)",
    )
    search.add_argument(
        "--backbone",
        choices=list(BACKBONE_NAMES),
        default="lista",
        help=(
            "the unrolled model whose space is searched: lista, or dladmm (D-LADMM, docs/design-space.md) (default "
            "%(default)s)"
        ),
    )
    search.add_argument(
        "--budget",
        type=int,
        default=10,
        help="multi-trial strategies: architectures tried, each trained for --max-steps; "
        "one-shot and weight-sharing strategies: supernet training batches (default 10)",
    )
    search.add_argument(
        "--max-seconds",
        type=float,
        metavar="SECONDS",
        help="stop the search after SECONDS of wall time and keep what it found (the architecture "
        "training then finishes; the retraining after the search is not counted) (default: no bound)",
    )
    search.add_argument(
        "--warm-start",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="evolution, random and shared-evolution: the family members of the space (LISTA, LISTA-CP, LISTA-CPSS, "
        "ALISTA, dense, ALISTA-AT, AGLISTA, HyperLISTA) are tried first, so the search never ends worse than "
        "the best of them on the proxy "
        "(default on)",
    )
    search.add_argument(
        "--subnets",
        type=int,
        default=200,
        help="weight-sharing strategies: subnets scored with the supernet's weights (default %(default)s)",
    )
    search.add_argument(
        "--retrain-seeds",
        type=int,
        default=2,
        help="retrain the best architecture and LISTA with this many training seeds (--seed, --seed+1, ...) and "
        "report mean and spread (default %(default)s)",
    )
    search.add_argument(
        "--mutations",
        type=int,
        default=3,
        help="evolution: a child changes 1..MUTATIONS labels of its parent (default %(default)s)",
    )
    search.add_argument(
        "--dimension-prob",
        type=float,
        default=0.5,
        metavar="PROB",
        help="evolution: the share of children moved along a whole dimension instead, a sweep of one value over "
        "a run of layers or a graft of one dimension from another parent (default %(default)s)",
    )
    _add_search_limits(search)


def _add_search_limits(search: argparse.ArgumentParser) -> None:
    """``search``: what it reports, its cost limits, where it runs, the problem, training and output."""
    from nni_lista.train.training import TRAINING_PRESETS

    search.add_argument(
        "--top-k", type=int, default=5, help="architectures listed in top.json (multi-trial) (default 5)"
    )
    search.add_argument(
        "--max-flops", type=float, help="only architectures with at most this many FLOPs per sample (NNI FlopsProfiler)"
    )
    search.add_argument(
        "--max-params", type=float, help="only architectures with at most this many parameters (NNI NumParamsProfiler)"
    )
    search.add_argument(
        "--max-latency",
        type=float,
        metavar="MS",
        help=(
            "only architectures whose forward pass takes at most MS milliseconds here (the measured latency model, "
            "docs/searching.md)"
        ),
    )
    search.add_argument(
        "--latency-batch", type=int, default=1, help="the batch size --max-latency is for (default %(default)s)"
    )
    search.add_argument(
        "--latency-margin",
        type=float,
        default=0.15,
        metavar="FRACTION",
        help=(
            "keep the table's predicted latency this fraction under --max-latency, for its error (default %(default)s)"
        ),
    )
    search.add_argument(
        "--latency-table",
        type=Path,
        metavar="FILE",
        help="the latency table to use (measured and written there when missing; default OUT/latency-table.json)",
    )
    search.add_argument(
        "--reuse-prefixes",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stage-wise multi-trial searches: start each architecture after the longest prefix of layers "
        "trained before (same numbers as from scratch, less work) (default on)",
    )
    search.add_argument(
        "--port",
        type=int,
        help="multi-trial strategies: run each architecture as a trial of NNI's manager "
        "and serve NNI's web UI on this port (default: no manager, in-process)",
    )
    search.add_argument(
        "--training-service",
        type=Path,
        metavar="FILE",
        help="with --port: run the trials on NNI's training service of this NNI experiment config "
        "(its trainingService and nniManagerIp, e.g. strategies/remote.yml); default local",
    )
    search.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the manager and web UI listen on with --port (default %(default)s; 0.0.0.0 for all interfaces)",
    )
    _add_problem_options(search, with_file=True)
    _add_training_options(search)
    search.set_defaults(**TRAINING_PRESETS["search-proxy"])
    search.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output directory: top.json, best_arch.json, nmse_vs_layer.png, best_arch.png, retrain/",
    )


def _add_retrain_and_trial(commands, parser=None) -> None:
    """``retrain`` an architecture file, and ``trial`` (nnictl's trial command)."""
    from nni_lista.space.architectures import BACKBONE_NAMES, PRESETS
    from nni_lista.train.training import TRAINING_PRESETS

    retrain = commands.add_parser(
        "retrain", help="train an architecture file from scratch; writes DIR/metrics.json like train"
    )
    retrain.add_argument(
        "--arch",
        type=Path,
        required=True,
        metavar="FILE",
        help="a JSON label map (best_arch.json, or `nni-lista arch`)",
    )
    _add_problem_options(retrain, with_file=True)
    _add_training_options(retrain, with_layers=False)  # the architecture file fixes T
    retrain.add_argument(
        "--layers",
        type=int,
        default=None,
        help="optional: the architecture file fixes T; given, it must equal the file's depth",
    )
    retrain.add_argument(
        "--backbone",
        choices=list(BACKBONE_NAMES),
        default="lista",
        help="the space the architecture belongs to: lista, or dladmm for a best_arch.json of "
        "`search --backbone dladmm` (default %(default)s)",
    )
    retrain.add_argument("--out", type=Path, required=True, metavar="DIR")

    trial = commands.add_parser(
        "trial", help="one NNI trial: read the architecture from NNI, train, report (nnictl's trialCommand)"
    )
    trial.add_argument(
        "--space",
        choices=list(PRESETS),
        default="paper",
        help="the preset the search space file was made from (default %(default)s)",
    )
    _add_problem_options(trial, with_file=True)
    _add_training_options(trial)
    trial.set_defaults(**TRAINING_PRESETS["search-proxy"])


def _add_tools(commands, parser=None) -> None:
    """``export-space``, ``latency``, ``pareto`` and ``view``."""
    from nni_lista.space.architectures import PRESETS

    export = commands.add_parser("export-space", help="write the space as a classic NNI HPO search space (for nnictl)")
    export.add_argument("--space", choices=list(PRESETS), default="paper", help="the preset (default paper)")
    export.add_argument("--layers", type=int, default=16, help="layers T (default 16)")
    export.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="JSON file; search_spaces/ holds PRESET-T.json files"
    )

    latency = commands.add_parser(
        "latency", help="measure the space's latency table here, for --max-latency (docs/searching.md)"
    )
    latency.add_argument("--m", type=int, default=250, help="measurements (default %(default)s)")
    latency.add_argument("--n", type=int, default=500, help="code length (default %(default)s)")
    latency.add_argument("--layers", type=int, default=16, help="layers T (default %(default)s)")
    latency.add_argument("--batch", type=int, default=1, help="batch size of the forward pass (default %(default)s)")
    latency.add_argument(
        "--repeats",
        type=int,
        default=100,
        help="interleaved rounds: timed calls per choice, the fastest counts (default %(default)s)",
    )
    latency.add_argument(
        "--device", default="auto", help="auto (CUDA when present, else cpu), cpu, cuda or cuda:N (default %(default)s)"
    )
    latency.add_argument(
        "--arch",
        type=Path,
        nargs="+",
        metavar="FILE",
        default=[],
        help="architecture files (best_arch.json): print their predicted and measured latency too",
    )
    latency.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="the table (JSON), for `search --latency-table`"
    )

    pareto = commands.add_parser(
        "pareto", help="NMSE against FLOPs, parameters or latency over finished searches, with the Pareto front"
    )
    pareto.add_argument(
        "runs",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="--out directories of finished `nni-lista search` runs (same problem)",
    )
    pareto.add_argument(
        "--cost", choices=("flops", "params", "latency"), default="flops", help="the cost axis (default %(default)s)"
    )
    pareto.add_argument(
        "--latency-table",
        type=Path,
        metavar="FILE",
        help="--cost latency: a table from `nni-lista latency` (else measured now)",
    )
    pareto.add_argument(
        "--latency-batch", type=int, default=1, help="--cost latency: the batch size (default %(default)s)"
    )
    pareto.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE",
        help="the figure (PNG); the points and the front go to FILE.json",
    )

    view = commands.add_parser(
        "view", help="serve NNI's web UI for a finished `search --port` run (in the background; nnictl stop ID ends it)"
    )
    view.add_argument("run", type=Path, metavar="DIR", help="the search's output directory (holds top.json)")
    view.add_argument("--port", type=int, default=8080, help="web UI port (default %(default)s)")
    view.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s; 0.0.0.0 for all interfaces)"
    )


def _add_study_arch_export(commands, parser=None) -> None:
    """``study``, ``arch`` (a named architecture) and ``export`` (a searched network with its weights)."""
    from nni_lista.space.architectures import NAMED_ARCHITECTURES

    study = commands.add_parser(
        "study", help="the design-space study: searches, retraining, baselines, analysis (resumable)"
    )
    study.add_argument(
        "--config", type=Path, required=True, metavar="FILE", help="a study config (examples/study-*.yml)"
    )
    study.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="output directory: study.json, table.md, *.png; run the same command again to resume",
    )
    study.add_argument(
        "--device", default="auto", help="auto (CUDA when present, else cpu), cpu, cuda or cuda:N (default %(default)s)"
    )
    study.add_argument(
        "--no-progress", action="store_true", help="no progress bar (there is none unless stderr is a terminal)"
    )

    arch = commands.add_parser("arch", help="write a named architecture of the space as a JSON label map")
    arch.add_argument("--name", choices=NAMED_ARCHITECTURES, required=True)
    arch.add_argument("--layers", type=int, default=16)
    arch.add_argument("--out", type=Path, required=True, metavar="FILE")

    export = commands.add_parser(
        "export",
        help="the network a search found, with its retrained weights, in one .pt file "
        "(LISTASpace.load_searched_model(FILE) loads it)",
    )
    export.add_argument(
        "--from", dest="run", type=Path, required=True, metavar="DIR", help="the --out directory of a finished search"
    )
    export.add_argument("--out", type=Path, required=True, metavar="FILE.pt")


def _config_keys(actions: dict) -> list[str]:
    """The config-file keys of the search parser's options (``--max-steps`` -> ``max_steps``, ``--no-x`` -> ``x``)."""
    return [
        (k[5:] if isinstance(a, argparse.BooleanOptionalAction) else k[2:]).replace("-", "_")
        for k, a in actions.items()
    ]


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
        raise UsageError(
            f"config file {str(path)!r} is not a text file: give a YAML file such as strategies/evolution.search.yml"
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read config file {str(path)!r}: {exc.strerror}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"cannot read config file {str(path)!r}: {str(exc).splitlines()[0]}") from None
    require(isinstance(loaded, dict), f"config file {str(path)!r} must hold a mapping of option: value")
    actions = {
        a.option_strings[-1] if isinstance(a, argparse.BooleanOptionalAction) else a.option_strings[0]: a
        for a in getattr(parser, "search_parser")._actions  # set by build_parser
        if a.option_strings and a.dest not in ("help", "config")
    }
    argv: list[str] = []
    for key, value in loaded.items():
        require(
            not (isinstance(key, str) and "-" in key),
            f"key {short(key)} in {str(path)!r} is not allowed: write {short(str(key).replace('-', '_'))} "
            "(config files use the field names, as study configs do; the command line uses --max-steps)",
        )
        flag = "--" + str(key).replace("_", "-")
        flag = flag if flag in actions else f"--no-{flag[2:]}" if f"--no-{flag[2:]}" in actions else flag
        require(
            flag in actions,
            f"unknown key {short(key)} in {str(path)!r}: allowed are {', '.join(sorted(_config_keys(actions)))}",
        )
        if value is None:
            continue
        if isinstance(actions[flag], argparse.BooleanOptionalAction):
            require(
                isinstance(value, bool), f"{key} {short(value)} in {str(path)!r} is not allowed: give true or false"
            )
            argv.append(f"--{flag[5:]}" if value else flag)
        else:
            require(
                isinstance(value, (str, int, float)) and not isinstance(value, bool),
                f"{key} {short(value)} in {str(path)!r} is not allowed: give one value, as on the command line",
            )
            argv += [flag, str(value)]
    return argv


def _search_config(
    parser: argparse.ArgumentParser, argv: Optional[Sequence[str]], args: argparse.Namespace
) -> argparse.Namespace:
    """``--config FILE`` read as options placed before those of the command line (which win)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return parser.parse_args([argv[0], *_config_argv(parser, args.config), *argv[1:]])


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
        (
            "budget",
            known.budget,
            MAX_BATCHES,
            f"multi-trial strategies try at most {MAX_TRIALS:,} architectures, "
            f"one-shot and weight-sharing ones train at most {MAX_BATCHES:,} supernet batches",
        ),
        ("max-steps", known.max_steps, MAX_STEPS, f"a training run takes at most {MAX_STEPS:,} steps"),
    ):
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
