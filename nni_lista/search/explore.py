"""Search the design space with NNI's own strategies, unmodified (one registry entry each).

:data:`STRATEGIES` maps the command-line name to NNI's strategy and says what the budget
counts: architectures tried (multi-trial: each trained by the multi-trial evaluator for the
trial budget) or supernet training batches (one-shot). Every strategy maximises the same
metric, ``-NMSE_dB`` on the validation set; NNI's TPE minimises unless told, so it is built
with ``optimize_mode='maximize'``.

Constraints (``max_flops``, ``max_params``, ``max_latency``: the measured latency model of
:mod:`nni_lista.search.latency`) use NNI's profilers on the space: a ``Filter``
middleware for multi-trial strategies (rejected samples do not use the budget), a
``RangeProfilerFilter`` for RandomOneShot, and a profiler penalty for DARTS, GumbelDARTS,
Proxyless and ENAS; a one-shot export that still exceeds a limit is projected onto it
one choice at a time, guided by the strategy's choice probabilities where it has them
(:meth:`Limits.project`), so that every returned architecture obeys it.

:func:`run_search` ends by retraining the best architecture and LISTA from scratch with the
same protocol and budget, and scoring both on the test set.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

import torch

from nni_lista.search import compat  # noqa: F401
import nni.nas.strategy as nas_strategy
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperiment, NasExperimentConfig
from nni.nas.oneshot.pytorch.profiler import ExpectationProfilerPenalty, RangeProfilerFilter, SampleProfilerPenalty
from nni.nas.profiler.pytorch.flops import FlopsProfiler, NumParamsProfiler
from nni.nas.strategy.middleware import Chain, Filter

from nni_lista.base.errors import UsageError, require, short
from nni_lista.base.signals import interruptible
from nni_lista.base.limits import MAX_BATCHES, MAX_RECORD_BYTES, MAX_SECONDS, MAX_TRIALS, check_count, read_bounded
from nni_lista.search.evaluators import multi_trial_evaluator, one_shot_evaluator
from nni_lista.problem.problems import instance_digest, resolve_problem, seed_from
from nni_lista.models.family import DEFAULT_LAM
from nni_lista.base.io import remove_orphans, write_json
from nni_lista.problem.metrics import mean_and_sd, paired_difference
from nni_lista.search import handback, manager, weight_sharing
from nni_lista.search.chronicle import Chronicle
from nni_lista.search.deadline import SUPERNET_SHARE, Deadline
from nni_lista.space.backbones import BACKBONES, backbone as get_backbone
from nni_lista.search.latency import LatencyProfiler, load_or_measure
from nni_lista.search.latency_table import LatencyTable
from nni_lista.train.runs import run_architecture
from nni_lista.space.architectures import named_architecture
from nni_lista.space.spaces import LISTASpace
from nni_lista.search.strategy_names import STRATEGY_INFO
from nni_lista.train.training import TrainConfig
from nni_lista.search.warm_start import WarmStartEvolution, WarmStartRandom, WarmStartTPE, family_seeds

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StrategyEntry:
    """One NNI strategy: its kind and a factory ``make(budget, seed, constraint)``; strategies
    that can start from known architectures take ``seeds`` and ``mutations`` too."""

    kind: str  # "multi-trial" or "one-shot"
    make: Callable
    summary: str


def _evolution(
    budget: int, seed: int, constraint, seeds: list = (), mutations: int = 3, dimension_prob: float = 0.5
) -> nas_strategy.Strategy:
    """NNI's regularized evolution, its first individuals the family members of the space
    (:mod:`nni_lista.search.warm_start`), each child 1..``mutations`` labels away from its parent
    or, with probability ``dimension_prob``, moved along a whole dimension (a sweep or a graft)."""
    population = max(2, len(seeds), min(20, budget // 2))
    return WarmStartEvolution(
        seeds=seeds,
        max_mutations=mutations,
        dimension_prob=dimension_prob,
        population_size=population,
        sample_size=max(2, population // 3),
        seed=seed,
    )


def _random(
    budget: int, seed: int, constraint, seeds: list = (), mutations: int = 3, dimension_prob: float = 0.5
) -> nas_strategy.Strategy:
    """NNI's random search, the family members of the space tried first (:mod:`nni_lista.search.warm_start`)."""
    return WarmStartRandom(seeds=seeds, seed=seed)


def _tpe(
    budget: int, seed: int, constraint, seeds: list = (), mutations: int = 3, dimension_prob: float = 0.5
) -> nas_strategy.Strategy:
    """NNI's TPE (maximising), the family members of the space its first trials (:mod:`nni_lista.search.warm_start`)."""
    return WarmStartTPE(seeds=seeds, optimize_mode="maximize", seed=seed)


_WARM_STARTED = (_evolution, _random, _tpe)  # makers that take the family seeds


def strategy_seed(seed: int, problem: dict, strategy: str, backbone: str = "lista") -> int:
    """The strategy's random seed: ``--seed`` (a study's replicate), the problem (its setting),
    the strategy and the backbone together, so that no two searches that differ in any of them
    draw the same samples (evolution and random search with ``--seed 0`` on one problem used to
    share one). A problem file counts by its content
    (:func:`~nni_lista.problem.problems.instance_digest`), not its path: the same instance anywhere gives the same
    seed."""
    identity = problem
    if "file" in problem:
        identity = {"instance": instance_digest(resolve_problem(problem))}
    return seed_from([seed, identity, strategy, backbone])


def _rl(budget: int, seed: int, constraint) -> nas_strategy.Strategy:
    torch.manual_seed(seed)  # PolicyBasedRL draws from torch's global generator
    return nas_strategy.PolicyBasedRL(samples_per_update=max(1, min(20, budget // 4)))


def _penalty(kind: type, constraint):
    if constraint is None:
        return None
    profiler, limit = constraint
    return kind(profiler, baseline=limit, scale=-1.0 if kind is SampleProfilerPenalty else 1.0, nonlinear="positive")


#: NNI's strategy of each command-line name (:data:`~nni_lista.search.strategy_names.STRATEGY_INFO`)
_FACTORIES: dict[str, Callable] = {
    "random": _random,
    "grid": lambda b, s, c: nas_strategy.GridSearch(seed=s),
    "evolution": _evolution,
    "tpe": _tpe,
    "rl": _rl,
    "darts": lambda b, s, c: nas_strategy.DARTS(penalty=_penalty(ExpectationProfilerPenalty, c)),
    "gumbel-darts": lambda b, s, c: nas_strategy.GumbelDARTS(penalty=_penalty(ExpectationProfilerPenalty, c)),
    "enas": lambda b, s, c: compat.ENAS(penalty=_penalty(SampleProfilerPenalty, c)),
    "proxyless": lambda b, s, c: nas_strategy.Proxyless(penalty=_penalty(ExpectationProfilerPenalty, c)),
    "shared-evolution": _evolution,
    "random-one-shot": lambda b, s, c: nas_strategy.RandomOneShot(
        filter=None if c is None else RangeProfilerFilter(c[0], max=c[1])
    ),
}
STRATEGIES: dict[str, StrategyEntry] = {
    name: StrategyEntry(info.kind, _FACTORIES[name], info.summary) for name, info in STRATEGY_INFO.items()
}


@dataclass
class SearchRequest:
    """Everything a search needs; all small values."""

    strategy: str
    problem: dict  # a problem handle (problems.problem_spec): resolved once per process
    layers: int = 16
    space: str = "full"
    budget: int = 10
    training: TrainConfig = field(default_factory=TrainConfig)
    lam: float = DEFAULT_LAM
    seed: int = 0
    top_k: int = 5
    max_flops: Optional[float] = None
    max_params: Optional[float] = None
    max_latency: Optional[float] = None  # ms, the measured latency model (nni_lista.search.latency)
    latency_batch: int = 1  # the batch the latency limit is for
    latency_margin: float = (
        0.15  # the table's predictions must stay this fraction under max_latency (its error, README)
    )
    latency_table: Optional[str] = (
        None  # a table file (measured and written there when missing); default OUT/latency-table.json
    )
    one_shot_lr: float = 1e-3
    reuse_prefixes: bool = True  # stage-wise multi-trial: share trained layer prefixes (exact)
    port: Optional[int] = None  # multi-trial on NNI's manager (one process per trial), web UI on host:port
    host: str = "127.0.0.1"
    training_service: Optional[dict] = (
        None  # with port: NNI's trainingService section (e.g. remote machines); default local
    )
    nni_manager_ip: Optional[str] = None  # with a remote training service: this machine's address as the workers see it
    backbone: str = "lista"  # nni_lista.space.backbones.BACKBONES: lista or dladmm
    warm_start: bool = True  # evolution: the family members of the space are its first individuals
    mutations: int = 3  # evolution: a child changes 1..mutations labels of its parent
    dimension_prob: float = (
        0.5  # evolution: the share of children moved along a whole dimension (warm_start.dimension_move)
    )
    subnets: int = 200  # weight-sharing: subnets scored with inherited weights
    retrain_seeds: int = 2  # the best architecture and the plain network are retrained with this many training seeds
    max_seconds: Optional[float] = None  # a wall-time bound on the search (not the retraining after it)

    def __post_init__(self) -> None:
        require(
            self.strategy in STRATEGIES,
            f"strategy {self.strategy!r} is not allowed: choose one of {', '.join(STRATEGIES)}",
        )
        get_backbone(self.backbone).check_preset(self.space)
        require(
            self.backbone == "lista"
            or (self.max_flops is None and self.max_params is None and self.max_latency is None),
            f"max-flops / max-params / max-latency are not available for the {self.backbone} backbone "
            "(its layers have no profiler formulas); use lista",
        )
        require(
            isinstance(self.latency_margin, (int, float)) and 0 <= self.latency_margin < 1,
            f"latency-margin {self.latency_margin} is not allowed: it must be a fraction in [0, 1)",
        )
        require(
            isinstance(self.latency_batch, int) and 1 <= self.latency_batch <= 65536,
            f"latency-batch {self.latency_batch} is not allowed: it must be an integer in 1..65536",
        )
        if STRATEGIES[self.strategy].kind == "multi-trial":
            check_count(self.budget, "budget", MAX_TRIALS, f" architectures for {self.strategy}")
        else:
            check_count(self.budget, "budget", MAX_BATCHES, f" supernet training batches for {self.strategy}")
        require(
            self.max_seconds is None
            or (
                isinstance(self.max_seconds, (int, float))
                and not isinstance(self.max_seconds, bool)
                and 1 <= self.max_seconds <= MAX_SECONDS
            ),
            f"max-seconds {short(self.max_seconds)} is not allowed: it must be a number of seconds in [1, "
            f"{MAX_SECONDS:,}]",
        )
        require(self.top_k >= 1, f"top-k {self.top_k} is not allowed: it must be an integer >= 1")
        require(
            isinstance(self.retrain_seeds, int) and 1 <= self.retrain_seeds <= 100,
            f"retrain-seeds {self.retrain_seeds} is not allowed: it must be an integer in 1..100",
        )
        require(
            isinstance(self.subnets, int) and 1 <= self.subnets <= 100_000,
            f"subnets {self.subnets} is not allowed: it must be an integer in 1..100000",
        )
        require(
            STRATEGIES[self.strategy].kind != "weight-sharing" or self.backbone == "lista",
            f"{self.strategy} is available for the lista backbone only",
        )
        require(
            isinstance(self.mutations, int) and 1 <= self.mutations <= 1000,
            f"mutations {self.mutations} is not allowed: it must be an integer in 1..1000",
        )
        require(
            isinstance(self.dimension_prob, (int, float))
            and not isinstance(self.dimension_prob, bool)
            and 0.0 <= self.dimension_prob <= 1.0,
            f"dimension-prob {self.dimension_prob} is not allowed: it must be a probability in [0, 1]",
        )
        for name in ("max_flops", "max_params", "max_latency"):
            value = getattr(self, name)
            require(
                value is None or value > 0, f"{name.replace('_', '-')} {value} is not allowed: it must be a number > 0"
            )
        if self.port is not None:
            require(1 <= self.port <= 65535, f"port {self.port} is not allowed: it must be in 1..65535")
            require(
                STRATEGIES[self.strategy].kind == "multi-trial",
                f"port is not allowed with {self.strategy}: NNI runs one-shot strategies in-process, without the "
                "manager "
                "and web UI; use a multi-trial strategy "
                f"({', '.join(k for k, e in STRATEGIES.items() if e.kind == 'multi-trial')})",
            )
        require(
            self.training_service is None or self.port is not None,
            "a training service needs --port: trials run under NNI's manager only then",
        )
        manager.check_host(self.host)

    @property
    def m(self) -> int:
        """Measurements of the problem (its handle resolved, once per process)."""
        return resolve_problem(self.problem).m

    @property
    def n(self) -> int:
        """Code length of the problem."""
        return resolve_problem(self.problem).n


class Limits:
    """The FLOPs / parameter / latency limits of a search, checked with NNI's profilers on the space."""

    def __init__(
        self,
        space: LISTASpace,
        m: int,
        max_flops: Optional[float],
        max_params: Optional[float],
        latency: Optional[tuple[LatencyTable, float, float]] = None,
    ):
        """``latency`` is ``(table, max_ms, margin)``: the table's prediction must stay under
        ``max_ms * (1 - margin)``, since single networks were mispredicted by up to 11 to 16% (the README)."""
        dummy = torch.zeros(1, m)
        self.checks = []
        self.rejected = 0  # proposed architectures a multi-trial search refused before training (:meth:`admits`)
        if max_flops is not None:
            self.checks.append(("FLOPs", FlopsProfiler(space, dummy), max_flops))
        if max_params is not None:
            self.checks.append(("parameters", NumParamsProfiler(space, dummy), max_params))
        if latency is not None:
            table, max_ms, margin = latency
            self.checks.append(
                (
                    f"ms of predicted latency (max-latency {max_ms:g} less the latency margin of {margin:.0%})",
                    LatencyProfiler(space, table),
                    max_ms * (1 - margin),
                )
            )

    def __bool__(self) -> bool:
        return bool(self.checks)

    def excess(self, sample: dict) -> float:
        """How far ``sample`` is over its limits (relative, summed); 0 when it obeys them."""
        return sum(max(0.0, float(profiler.profile(sample)) / limit - 1.0) for _, profiler, limit in self.checks)

    def fits(self, sample: dict) -> bool:
        return self.excess(sample) == 0.0

    def over(self, sample: dict) -> list[str]:
        """Which limits ``sample`` breaks, each as "1.2e+06 FLOPs > 1e+06" ([] when it fits)."""
        values = ((name, float(profiler.profile(sample)), limit) for name, profiler, limit in self.checks)
        return [f"{value:.4g} {name} > {limit:.4g}" for name, value, limit in values if value > limit]

    def admits(self, sample: dict, report: Callable[[str], None], shown: int = 5) -> bool:
        """:meth:`fits`, counting what each limit rejects (``rejected``) and reporting the first
        ``shown`` rejections with the limit that rejected them."""
        broken = self.over(sample)
        if broken:
            self.rejected += 1
            if self.rejected <= shown:
                more = "; later ones are counted, not shown" if self.rejected == shown else ""
                report(f"rejected a proposed architecture before training it: {'; '.join(broken)}{more}")
        return not broken

    def constraint(self):
        """``(profiler, limit)`` of the first limit, for the one-shot penalties and filters."""
        return None if not self.checks else self.checks[0][1:]

    def check_reachable(self, values: dict, space_name: str) -> None:
        """Refuse, before any search, limits that no architecture of the space meets. FLOPs and
        parameters are sums of one term per choice, so the cheapest architecture takes each
        label's cheapest value."""
        for name, profiler, limit in self.checks:
            sample = {label: options[0] for label, options in values.items()}
            for label, options in values.items():
                sample[label] = min(options, key=lambda v: float(profiler.profile({**sample, label: v})))
            least = float(profiler.profile(sample))
            require(
                least <= limit,
                f"no architecture of the {space_name} space meets the limit of {limit:g} {name}: "
                f"the smallest has {least:g}",
            )

    def project(self, sample: dict, values: dict, probs: Optional[dict] = None) -> dict:
        """Change one choice at a time until ``sample`` fits. With ``probs`` (label -> value ->
        probability, a one-shot strategy's ``export_probs``), each step takes the change that
        lowers the excess most per unit of log-probability given up, so the result is a likely
        architecture under the limit; without them, the change that lowers the excess most."""
        sample = dict(sample)

        def given_up(label, value) -> float:
            if not probs or label not in probs:
                return 1.0
            p = probs[label]
            return max(math.log(max(p.get(sample[label], 0.0), 1e-12)) - math.log(max(p.get(value, 0.0), 1e-12)), 1e-6)

        while not self.fits(sample):
            now = self.excess(sample)
            moves = [
                ((now - self.excess({**sample, label: value})) / given_up(label, value), label, value)
                for label, options in values.items()
                for value in options
                if value != sample[label]
            ]
            best = max((move for move in moves if move[0] > 0), default=None)
            require(best is not None, "no architecture of this space meets the limits")
            sample[best[1]] = best[2]
        return sample


def _trials(request: SearchRequest) -> int:
    """Architectures the strategy proposes: the budget, or the subnets of a weight-sharing search."""
    return request.subnets if STRATEGIES[request.strategy].kind == "weight-sharing" else request.budget


def _experiment_config(request: SearchRequest, out: Path) -> NasExperimentConfig:
    # Multi-trial strategies use the "simplified" model format: the "raw" format keeps a
    # reference to the sample it was frozen with, which NNI's grid generator then mutates
    # (every model would end up with the last grid point's sample). One-shot strategies need "raw".
    # With a port, trials run as processes under NNI's manager ("ts" engine), which serves the web UI.
    multi = STRATEGIES[request.strategy].kind != "one-shot"
    if request.port is None:
        config = NasExperimentConfig("sequential", "simplified" if multi else "raw")
    elif request.training_service is None:
        config = NasExperimentConfig("ts", "simplified", "local")
        config.trial_concurrency = 1
        # NNI's trial entry behind ours, which vets the parameter before NNI decodes it (nni_lista/search/nas_trial.py)
        config._trial_command_params = {"python": f"{sys.executable} -m nni_lista.search.nas_trial"}
    else:  # NNI's own training-service config (e.g. remote machines over SSH, each with nni-lista in its pythonPath)
        config = NasExperimentConfig(
            "ts",
            "simplified",
            training_service=request.training_service,
            **({"nni_manager_ip": request.nni_manager_ip} if request.nni_manager_ip else {}),
        )
        config.trial_concurrency = 1
        # the worker's own installation (on its pythonPath, where a bare `python` may be another interpreter);
        # NNI uploads the current directory to every worker (it allows no other)
        config._trial_command_params = {"python": "nni-lista-nas-trial"}
    config.experiment_working_directory = str((out / "nni-experiments").resolve())
    # what the web UI shows as the experiment's name: the search, not a random ID
    config.experiment_name = (
        f"nni-lista {request.strategy} on {request.space}, {request.m}x{request.n}, "
        f"T={request.layers} (metric: -NMSE dB on validation, higher is better)"
    )
    if multi:
        config.max_trial_number = _trials(request)
    return config


def _explore(experiment: NasExperiment, request: SearchRequest) -> None:
    """Run the strategy: in-process, or on NNI's manager bound to ``request.host``."""
    if request.port is None:
        experiment.run()
        return
    with manager.bound_to(request.host):
        print(
            f"NNI web UI: {manager.url(request.host, request.port)} (experiment {experiment.id})",
            file=sys.stderr,
            flush=True,
        )
        experiment.run(port=request.port)


def explore(request: SearchRequest, out: Path, announce: Optional[Callable[[], None]] = None) -> dict:
    """Run the strategy on the space; returns ``{"top": [...], "search_seconds", "history", "nni_experiment", ...}``
    where ``history`` lists every architecture the strategy scored, in finishing order, as
    ``{"seconds", "metric", "arch"}`` (the sample) (:mod:`nni_lista.search.chronicle`; empty for one-shot
    strategies) and each top item holds a complete architecture (``arch``), its search ``metric``
    (``-NMSE_dB`` on validation; ``None`` for one-shot exports) and per-layer intermediates.
    ``announce()`` is called once the request has passed every check, before the search starts.

    The phases: checks and limits (:func:`_limits`), the strategy (:func:`_strategy`), the
    evaluator of the strategy's kind (:data:`EVALUATORS`), the experiment, what it found
    (:func:`_found`), the record (:func:`_record`)."""
    out = Path(out)
    entry = STRATEGIES[request.strategy]
    family = BACKBONES[request.backbone]
    space = family.make_space(request.space, request.m, request.n, request.layers)
    values = {label: list(mutable.values) for label, mutable in space.simplify().items()}
    limits = _limits(request, out, space, values)
    if announce is not None:
        announce()
    resolve_problem(request.problem)  # fail early on a bad problem file
    strategy, seeds, seed = _strategy(request, entry, limits)
    started = time.perf_counter()
    starts_over = (
        f"run the same command again: a {entry.kind} search starts over"  # what a rerun does after an interrupt
    )
    run = EVALUATORS[entry.kind](request, out, family, starts_over)
    chronicle = deadline = None
    if entry.kind != "one-shot":  # the anytime record; proposed architectures over a limit are never trained or scored
        say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731  (progress and rejections)
        chronicle = Chronicle(started, _trials(request), report=say)
        deadline = None if request.max_seconds is None else Deadline(request.max_seconds, started)
        strategy = Chain(
            strategy,
            *([deadline] if deadline else []),
            *([Filter(lambda model: limits.admits(model.sample, say))] if limits else []),
            chronicle,
        )
    experiment = NasExperiment(space, run.evaluator, strategy, _experiment_config(request, out))
    resume = (
        "run the same command again to resume: the architectures already trained are replayed from "
        f"{out / 'trials'}, not trained again"
        if entry.kind == "multi-trial" and request.training_service is None
        else starts_over
    )
    with interruptible(resume):  # NNI returns from an interrupted experiment as if it had finished
        _explore(experiment, request)
    if chronicle is not None:  # trials whose events the engine had not passed on when the strategy stopped
        chronicle.complete(experiment.strategy.list_models(sort=False, limit=None))
    found = _found(experiment, entry, request, limits, values, family)
    experiment.stop()
    run.release()
    time_bound = None
    if request.max_seconds is not None:
        stopped = run.stopped_early(request) if entry.kind != "multi-trial" else False
        stopped = stopped or (deadline is not None and deadline.expired)
        time_bound = {"max_seconds": request.max_seconds, "stopped_the_search": bool(stopped)}
    return _record(
        request,
        entry,
        found,
        time.perf_counter() - started,
        chronicle,
        seed,
        time_bound,
        limits,
        seeds,
        run,
        experiment,
    )


def _limits(request: SearchRequest, out: Path, space, values: dict) -> "Limits":
    """The request's FLOPs, parameter and latency limits, checked reachable in the space; the run
    directory claimed for this request and cleared of temporary files."""
    limits = Limits(space, request.m, request.max_flops, request.max_params)
    limits.check_reachable(values, request.space)
    _claim(out, request)
    if request.max_latency is not None:  # measured here, or read from a table measured for this machine and size
        limits = Limits(
            space,
            request.m,
            request.max_flops,
            request.max_params,
            (latency_table(request, out), request.max_latency, request.latency_margin),
        )
        limits.check_reachable(values, request.space)
    remove_orphans(
        out, recursive=True
    )  # temporary files of a search killed between writing and renaming (prefix cache too)
    return limits


def _strategy(request: SearchRequest, entry, limits: "Limits") -> tuple:
    """The NNI strategy of the request, seeded (:func:`strategy_seed`), warm-started from the family
    where it takes seeds: ``(strategy, family seeds, strategy seed)``."""
    seeds = []
    if request.warm_start and request.backbone == "lista":
        from nni_lista.space.architectures import PRESETS

        seeds = family_seeds(PRESETS[request.space], request.layers)
    seed = strategy_seed(request.seed, request.problem, request.strategy, request.backbone)
    if entry.kind == "one-shot":  # the supernet's architecture weights and its samples draw from the global generators
        _seed_global_generators(seed)
    if entry.make in _WARM_STARTED:
        return (
            entry.make(_trials(request), seed, limits.constraint(), seeds, request.mutations, request.dimension_prob),
            seeds,
            seed,
        )
    return entry.make(request.budget, seed, limits.constraint()), seeds, seed


@dataclass
class _Evaluation:
    """What scores the strategy's architectures, for one kind of strategy: the NNI evaluator and,
    for weight sharing, the trained supernet (released after the search)."""

    evaluator: object
    supernet_key: Optional[str] = None
    trained: Optional[dict] = None

    def release(self) -> None:
        if self.supernet_key is not None:
            weight_sharing.release(self.supernet_key)

    def stopped_early(self, request: SearchRequest) -> bool:
        """Whether the time bound ended the training before its budget (one-shot, weight sharing)."""
        if self.trained is not None:
            return self.trained["steps"] < request.budget
        return self.evaluator.trainer.global_step < request.budget


def _weight_sharing(request: SearchRequest, out: Path, family, starts_over: str) -> _Evaluation:
    """A supernet trained once; each subnet scored with its inherited weights."""
    P = resolve_problem(request.problem)
    supernet = family.make_space(request.space, request.m, request.n, request.layers).initialise(P.A, request.lam)
    with interruptible(starts_over):
        trained = weight_sharing.train_supernet(
            supernet,
            P,
            request.budget,
            request.training.batch,
            request.training.lr,
            request.seed,
            progress=sys.stderr.isatty(),
            max_seconds=None if request.max_seconds is None else SUPERNET_SHARE * request.max_seconds,
        )
    key = f"supernet-{id(supernet)}"
    weight_sharing.register(key, supernet, P)
    return _Evaluation(FunctionalEvaluator(weight_sharing.score_with_inherited_weights, supernet=key), key, trained)


def _multi_trial(request: SearchRequest, out: Path, family, starts_over: str) -> _Evaluation:
    """Each architecture trained by the proxy recipe (prefix cache and trial records under ``out``)."""
    cache = (out / "prefix-cache").resolve() if request.reuse_prefixes else None
    records = (out / "trials").resolve() if request.training_service is None else None  # remote workers: not shared
    return _Evaluation(multi_trial_evaluator(request.problem, request.training, request.lam, cache, records))


def _one_shot(request: SearchRequest, out: Path, family, starts_over: str) -> _Evaluation:
    """NNI's one-shot training of the supernet (Lightning), the strategy's own export."""
    epochs = max(1, request.budget // 50) if request.strategy == "enas" else 1
    return _Evaluation(
        one_shot_evaluator(
            request.problem,
            request.budget,
            request.training.batch,
            request.seed,
            request.lam,
            request.one_shot_lr,
            epochs=epochs,
            device=request.training.device,
            max_seconds=request.max_seconds,
        )
    )


#: strategy kind -> the function that makes its evaluation
EVALUATORS: dict[str, Callable[..., _Evaluation]] = {
    "weight-sharing": _weight_sharing,
    "multi-trial": _multi_trial,
    "one-shot": _one_shot,
}


def _found(experiment, entry, request: SearchRequest, limits: "Limits", values: dict, family) -> list[dict]:
    """The top architectures (multi-trial, weight sharing) or the strategy's export (one-shot),
    projected under the limits where needed and completed to every label of the space."""
    found, probs = [], None
    if entry.kind != "one-shot":
        for model in experiment.strategy.list_models(limit=min(request.top_k, _trials(request))):
            metrics = model.metrics
            found.append(
                {"arch": dict(model.sample), "metric": metrics.final, "intermediates": list(metrics.intermediates)}
            )
    else:
        sample = experiment.export_top_models(top_k=1, formatter="dict")[0]
        found.append({"arch": dict(sample), "metric": None})
        if limits and not limits.fits(sample):  # the strategy's choice probabilities guide the projection
            probs = _choice_probabilities(experiment.strategy)
    for item in found:
        if limits and not limits.fits(item["arch"]):
            item["arch"] = limits.project(item["arch"], values, probs)
            item["projected"] = True
        item["arch"] = family.complete(item["arch"], request.space, request.layers)
    if not found and limits:
        named = ", ".join(
            f"{name} {value:g}"
            for name, value in (
                ("max-flops", request.max_flops),
                ("max-params", request.max_params),
                ("max-latency", request.max_latency),
            )
            if value is not None
        )
        raise UsageError(
            f"no architecture of the {request.space} space meets the limits ({named}) among the samples tried: "
            f"raise the limits or the budget"
        )
    require(found, f"the search found no architecture that trained (budget {request.budget})")
    return found


def _record(
    request: SearchRequest,
    entry,
    found: list,
    search_seconds: float,
    chronicle,
    seed: int,
    time_bound,
    limits: "Limits",
    seeds: list,
    run: _Evaluation,
    experiment,
) -> dict:
    """The search's record (the part of ``top.json`` :func:`explore` writes)."""
    return {
        "top": found,
        "search_seconds": round(search_seconds, 3),
        "history": [] if chronicle is None else chronicle.events,
        "strategy_seed": seed,
        "time_bound": time_bound,
        "rejected_by_limits": limits.rejected if limits else None,
        "warm_start": (
            {"seeds": seeds, "mutations": request.mutations, "dimension_prob": request.dimension_prob}
            if entry.make is _evolution
            else {"seeds": seeds}
            if entry.make in (_random, _tpe)
            else None
        ),
        "proxy": {
            "multi-trial": f"{request.training.protocol} training, {request.training.max_steps} steps",
            "weight-sharing": f"inherited weights of a supernet trained for {request.budget} steps "
            f"({run.trained['seconds']:.0f} s), no training per subnet"
            if run.trained is not None
            else None,
            "one-shot": "the strategy's own export",
        }[entry.kind],
        "nni_experiment": None
        if request.port is None
        else {"id": experiment.id, "directory": str(Path(experiment.config.experiment_working_directory))},
    }


def _seed_global_generators(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators: NNI's one-shot strategies draw their
    architecture weights (DARTS's alphas, ``randn * 1e-3``), Gumbel noise and sampled paths from
    them, so without this the same search command returned different architectures."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    compat.seed_fresh_random_states(seed)  # RandomOneShot's paths (shim 4)


def _choice_probabilities(strategy) -> Optional[dict]:
    """Label -> value -> probability from a one-shot strategy's supernet (NNI's ``export_probs``:
    softmaxed architecture weights for DARTS and its kin, the controller's for ENAS); None where
    the strategy has none (RandomOneShot samples uniformly)."""
    try:
        probs = strategy.oneshot_module.export_probs()
    except (AttributeError, NotImplementedError, RuntimeError):
        return None
    return {
        label: {value: float(p) for value, p in choice.items()}
        for label, choice in probs.items()
        if isinstance(choice, dict)
    } or None


def latency_table(request: SearchRequest, out: Path) -> LatencyTable:
    """The latency table of the search's problem size, depth, latency batch and device: read
    from ``request.latency_table`` (default ``out/latency-table.json``) when it was measured
    for them (a table of another machine or size is refused), else measured now and written there."""
    path = Path(request.latency_table) if request.latency_table else out / "latency-table.json"
    if not path.is_file():
        print(
            f"measuring the latency table ({request.m}x{request.n}, {request.layers} layers, batch "
            f"{request.latency_batch}) into {path}",
            file=sys.stderr,
            flush=True,
        )
    return load_or_measure(
        path,
        request.m,
        request.n,
        request.layers,
        request.latency_batch,
        request.training.device,
        progress=sys.stderr.isatty(),
    )


def _claim(out: Path, request: SearchRequest) -> None:
    """Record the search's options in ``out/search.json``; refuse, before any work, a directory
    that holds a search made with other options (its results would be mixed)."""
    options = {
        "strategy": request.strategy,
        "problem": request.problem,
        "layers": request.layers,
        "space": request.space,
        "budget": request.budget,
        "training": request.training.identity(),
        "lam": request.lam,
        "seed": request.seed,
        "top_k": request.top_k,
        "max_flops": request.max_flops,
        "max_params": request.max_params,
        "max_latency": request.max_latency,
        "latency_batch": request.latency_batch,
        "backbone": request.backbone,
        "warm_start": request.warm_start,
        "mutations": request.mutations,
        "dimension_prob": request.dimension_prob,
        "reuse_prefixes": request.reuse_prefixes,
        "subnets": request.subnets,
        "retrain_seeds": request.retrain_seeds,
    }
    if request.max_latency is not None:
        options["latency_margin"] = request.latency_margin
    options = json.loads(json.dumps(options, default=str))
    kept = out / "search.json"
    if kept.is_file():
        try:
            previous = json.loads(read_bounded(kept, MAX_RECORD_BYTES, "search.json"))
        except (OSError, ValueError, RecursionError):
            previous = None
        require(
            previous == options,
            f"{str(out)!r} holds a search made with other options ({kept}): give another --out, "
            "or the same options to run it again",
        )
    else:
        write_json(kept, options)


def replicate_summary(runs: dict[str, list[dict]], seeds: list[int]) -> dict:
    """Test NMSE of each retrained model over its training seeds: the values, their mean and
    sample standard deviation, and the gap of the searched network's mean to each other model's
    with the larger of the two spreads beside it."""
    summary = {"training_seeds": seeds, "models": {}}
    for name, found in runs.items():
        values = [r["nmse_db"] for r in found]
        mean, spread = mean_and_sd(values)
        summary["models"][name] = {"nmse_db": values, "mean": mean, "std": spread}
    searched = summary["models"]["searched"]
    for name, row in summary["models"].items():
        if name != "searched":
            spreads = [v for v in (row["std"], searched["std"]) if v is not None]
            row["searched_gain_db"] = row["mean"] - searched["mean"]
            row["larger_spread_db"] = max(spreads) if spreads else None
            # the same training seeds on both sides: the paired gain and its 95 % t-interval
            paired = paired_difference(row["nmse_db"], searched["nmse_db"])
            row["paired_gain_db"] = {"mean": paired["mean"], "low": paired["low"], "high": paired["high"]}
    return summary


def run_search(request: SearchRequest, out: Path, announce: Optional[Callable[[], None]] = None) -> dict:
    """Run the search, retrain the best architecture and the backbone's plain network (LISTA,
    D-LADMM) from scratch, write ``out/top.json`` and ``out/best_arch.json``."""
    out = Path(out)
    entry = STRATEGIES[request.strategy]
    explored = explore(request, out, announce)
    P = resolve_problem(request.problem)
    best = explored["top"][0]["arch"]
    archs = {"searched": best, request.backbone: BACKBONES[request.backbone].plain(request.layers)}
    found = None
    if request.backbone == "lista":  # the named architectures are points of the LISTA space
        handback.name_architectures(explored["top"], request.space, request.layers)
        found = dict(explored["top"][0]["description"])
        family = handback.best_family_member([*explored["history"], *explored["top"]], request.space, request.layers)
        found["best_family_member"] = family
        if family is not None and family != "lista" and not (found["family_member"] and found["nearest"] == family):
            archs[family] = named_architecture(family, request.layers)
    seeds = [request.training.seed + k for k in range(request.retrain_seeds)]
    runs = {
        name: [
            run_architecture(
                arch,
                P,
                replace(request.training, seed=seed),
                request.lam,
                out / "retrain" / (name if k == 0 else f"{name}-seed{seed}"),
                backbone=request.backbone,
            )
            for k, seed in enumerate(seeds)
        ]
        for name, arch in archs.items()
    }
    compared = {name: found[0] for name, found in runs.items()}
    result = {
        "strategy": request.strategy,
        "kind": entry.kind,
        "backbone": request.backbone,
        "space": request.space,
        "budget": request.budget,
        "budget_counts": "architectures tried" if entry.kind == "multi-trial" else "supernet training batches",
        "problem": request.problem,
        "layers": request.layers,
        "training": compared[request.backbone]["settings"],
        "seed": request.seed,
        "limits": {
            "max_flops": request.max_flops,
            "max_params": request.max_params,
            "max_latency": request.max_latency,
            "latency_batch": request.latency_batch,
            "latency_margin": request.latency_margin,
        },
        **explored,
        "found": found,
        "retrained": compared,
        "replicates": replicate_summary(runs, seeds),
    }
    write_json(out / "top.json", result)
    write_json(out / "best_arch.json", best)
    if found is not None:
        write_json(out / "best_arch.name.json", found)  # best_arch.json's companion: what it is
    return result
