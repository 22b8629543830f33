"""The commands that search (in process or on NNI's manager), run NNI trials, export the
classic search spaces, measure latency, draw the Pareto front and serve the web UI."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from nni_lista.base.errors import UsageError, require, short
from nni_lista.cli.arguments import _problem_from_args, _problem_spec, _train_config, _training_service
from nni_lista.cli.output import _architecture_table, _layer_table, _replicate_table, _search_figures, _summary_table


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
        from nni_lista.search.latency_table import LatencyTable

        LatencyTable.load(args.latency_table)
    from nni_lista.search.explore import SearchRequest, run_search

    request = SearchRequest(
        strategy=args.strategy,
        problem=spec,
        layers=args.layers,
        space=args.space,
        budget=args.budget,
        training=_train_config(args),
        lam=args.lam,
        seed=args.seed,
        top_k=args.top_k,
        max_flops=args.max_flops,
        max_params=args.max_params,
        max_latency=args.max_latency,
        latency_batch=args.latency_batch,
        latency_margin=args.latency_margin,
        latency_table=None if args.latency_table is None else str(args.latency_table),
        port=args.port,
        host=args.host,
        **_training_service(args.training_service),
        reuse_prefixes=args.reuse_prefixes,
        backbone=args.backbone,
        warm_start=args.warm_start,
        mutations=args.mutations,
        dimension_prob=args.dimension_prob,
        subnets=args.subnets,
        retrain_seeds=args.retrain_seeds,
        max_seconds=args.max_seconds,
    )
    result = run_search(
        request,
        args.out,
        announce=lambda: print(
            f"searching the {args.space} space ({args.layers} layers, {problem.m}x{problem.n}) with {args.strategy}, "
            f"budget {args.budget}...",
            file=sys.stderr,
            flush=True,
        ),
    )
    print(_architecture_table(result))
    found = result.get("found")
    if found is not None:
        what = (
            "a family member: the search returned one of its starting points"
            if found["family_member"]
            else "not a family member"
        )
        print(
            f"\nfound: {found['text']} ({what}); best family member scored by the search: {found['best_family_member']}"
        )
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
        kept = (
            f"the {len(result['history'])} architectures it had scored"
            if result["kind"] != "one-shot"
            else "the supernet as trained so far, exported as usual"
        )
        print(f"\nthe time bound ({bound['max_seconds']:g} s) stopped the search before its budget; it kept {kept}")
    figures = _search_figures(result, args.out)
    print(
        f"\nsearch took {result['search_seconds']:.0f} s; wrote {args.out / 'top.json'}, {args.out / 'best_arch.json'}"
        f"{''.join(f', {path}' for path in figures)}"
    )
    if args.port is not None:
        print(f"to look at it again in NNI's web UI: nni-lista view {args.out} --port {args.port}")
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
    if params is None:
        raise UsageError("no parameters from NNI: run this as the trialCommand of an NNI experiment")
    check(params, args.layers, args.space)
    arch = complete(params, args.layers, PRESETS[args.space])
    problem = _problem_from_args(args)  # sizes checked against memory first
    spec = _problem_spec(args)
    config = _train_config(args)
    model = build(arch, problem.m, problem.n)
    metrics = train_architecture(
        model, spec, config.to_dict(), args.lam, settings={"arch": arch, "space": args.space, "backbone": "lista"}
    )
    write_json(Path(os.environ.get("NNI_OUTPUT_DIR", ".")) / "metrics.json", metrics)  # the shape every run writes
    return 0


def cmd_export_space(args: argparse.Namespace) -> int:
    from nni_lista.search.hpo import search_space, write_search_space
    from nni_lista.base.limits import check_layers, check_output

    check_layers(args.layers)
    check_output(args.out, directory=False)
    write_search_space(args.space, args.layers, args.out)
    print(
        f"wrote {args.out}: {len(search_space(args.space, args.layers))} choices ({args.space} space, {args.layers} "
        "layers)"
    )
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
    check_memory(
        f"a {args.m}x{args.n} problem with {args.layers} layers and batch {args.batch}",
        args.m,
        args.n,
        args.layers,
        args.batch,
        0,
    )
    check_output(args.out, directory=False)
    archs = [(path, load_arch(path)) for path in args.arch]  # checked before anything is measured
    for path, arch in archs:
        require(
            layers_of(arch) == args.layers,
            f"{str(path)!r} has {layers_of(arch)} layers: give --layers {layers_of(arch)}",
        )
    from nni_lista.search.latency import measure_table, predict  # after every check: it imports NNI's profilers

    device = resolve_device(args.device)
    table, measured = measure_table(
        args.m,
        args.n,
        args.layers,
        args.batch,
        device,
        args.repeats,
        progress=sys.stderr.isatty(),
        networks={str(path): arch for path, arch in archs},
    )
    table.save(args.out)
    k = min(2, args.layers)
    rows = [[f"weight form {name} (layer {k})", ms[k - 1]] for name, ms in table.forms.items()]
    rows += [[f"neuron {name} (layer {k})", ms[k - 1]] for name, ms in table.neurons.items()]
    rows += [
        [f"{dimension} {name} (layer {k})", ms[k - 1]]
        for dimension, values in table.mechanisms.items()
        for name, ms in values.items()
        if any(ms)
    ]
    rows += [["one skip on", table.skip_ms], ["B b (lista form)", table.measure_ms], ["constant", table.constant_ms]]
    rows += [
        [
            f"{name} (T = {args.layers}, predicted)",
            predict(table, named_architecture(name, args.layers), args.m, args.n),
        ]
        for name in NAMED_ARCHITECTURES
    ]
    print(markdown_table(["choice", "ms"], [[name, f"{ms:.3f}"] for name, ms in rows]))
    if archs:  # timed in the same interleaved rounds as the table
        print()
        print(
            markdown_table(
                ["architecture", "predicted ms", f"measured ms (fastest of {args.repeats}, interleaved)"],
                [
                    [str(path), f"{predict(table, arch, args.m, args.n):.3f}", f"{measured[str(path)]:.3f}"]
                    for path, arch in archs
                ],
            )
        )
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
        from nni_lista.search.latency import load_or_measure

        table = load_or_measure(
            args.latency_table, problem.m, problem.n, data["layers"], args.latency_batch, progress=sys.stderr.isatty()
        )
    points = [point for run, found in searches.items() for point in pareto.search_points(Path(run), found)]
    points += pareto.family_points(searches, points, progress=sys.stderr.isatty())
    cost = pareto.cost_function(args.cost, problem.m, problem.n, data["layers"], table)
    for point in points:
        point.cost = cost(point.arch)
    front = pareto.front(points)
    unit = {
        "flops": "FLOPs per sample",
        "params": "parameters",
        "latency": f"latency (ms, batch {args.latency_batch}, here)",
    }[args.cost]
    distinct = len(
        {json.dumps(p.arch, sort_keys=True) for p in points}
    )  # a warm-started search scores the family again
    from nni_lista.study.plots import plot_pareto

    plot_pareto(
        points,
        front,
        args.out,
        unit,
        f"{distinct} different networks, {problem.m}x{problem.n}, T = {data['layers']}: "
        f"proxy validation NMSE against {args.cost}",
    )
    from nni_lista.search.handback import name_architecture

    named = {id(p): name_architecture(p.arch, data.get("space", "full"), data["layers"])["text"] for p in points}
    write_json(
        args.out.with_suffix(".json"),
        {
            "cost": args.cost,
            "runs": list(searches),
            "points": [{**asdict(p), "what": named[id(p)]} for p in points],
            "front": [{**asdict(p), "what": named[id(p)]} for p in front],
        },
    )
    print(
        markdown_table(
            ["source", "network", "what it is", unit, "validation NMSE dB"],
            [[p.source, p.name, named[id(p)], f"{p.cost:.4g}", f"{p.nmse_db:.2f}"] for p in front],
        )
    )
    print(
        f"wrote {args.out} and {args.out.with_suffix('.json')}: {len(front)} of {len(points)} points "
        f"({distinct} different networks) on the front"
    )
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    from nni_lista.search import manager

    require(1 <= args.port <= 65535, f"port {args.port} is not allowed: it must be an integer in [1, 65535]")
    manager.check_host(args.host)
    from nni_lista.search.handback import load_top

    top = args.run / "top.json"
    data = load_top(args.run)
    run: Any = data.get("nni_experiment")
    require(run is not None, f"{str(top)!r} names no NNI experiment: only searches run with --port have one to view")
    require(
        isinstance(run, dict) and isinstance(run.get("id"), str) and isinstance(run.get("directory"), str),
        f"{str(top)!r} is damaged: its nni_experiment {short(run)} lacks an id and a directory",
    )
    try:
        pid = manager.view(run["id"], Path(run["directory"]), args.port, args.host)
    except manager.ViewFailed as exc:
        print(f"nni-lista view: {exc}", file=sys.stderr)
        return 1
    print(
        f"NNI web UI: {manager.url(args.host, args.port)} (experiment {run['id']}, manager pid {pid}); "
        f"stop it with: nnictl stop {run['id']}"
    )
    return 0
