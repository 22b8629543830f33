"""The commands that make problems and train, compare, retrain and export networks, and the study."""

from __future__ import annotations

import argparse
import math
import sys

from nni_lista.base.errors import UsageError, require
from nni_lista.cli.arguments import (
    _check_memory,
    _extra_settings,
    _is_architecture_of,
    _problem_from_args,
    _problem_settings,
    _signal_files,
    _train_config,
)
from nni_lista.cli.output import _layer_table, _summary_table


def cmd_make_problem(args: argparse.Namespace) -> int:
    from nni_lista.problem import problems

    from nni_lista.base.io import remove_orphans_of
    from nni_lista.base.limits import check_output

    check_output(args.out, directory=False)
    remove_orphans_of(args.out)  # temporary files of a make-problem killed between writing and renaming
    require(
        args.matrix is not None or (args.dictionary is None and args.signals is None and args.normalise),
        "--dictionary, --signals and --no-normalise apply only with --matrix FILE",
    )
    if args.matrix is not None:
        from nni_lista.problem import own_data

        fixed = [f"--{k}" for k in ("m", "n", "kappa") if getattr(args, k) is not None]
        require(
            args.kind == "synthetic" and not fixed,
            f"{', '.join(fixed) or '--kind image-cs'} do not apply with --matrix: the matrix fixes the problem's size",
        )
        signals = None if args.signals is None else _signal_files(args.signals)
        problem = own_data.from_files(
            args.matrix,
            args.dictionary,
            signals,
            p=0.1 if args.p is None else args.p,
            snr_db=math.inf if args.snr is None else args.snr,
            seed=args.seed,
            normalise=args.normalise,
        )
        problems.save(problem, args.out)
        print(
            f"wrote {args.out}: {own_data.describe(problem)}; {problem.val.b.shape[0]} validation and "
            f"{problem.test.b.shape[0]} test samples"
        )
        return 0
    if args.kind == "synthetic":
        settings = _problem_settings(args)
        _check_memory(args, settings.m, settings.n, 1, settings.n_val + settings.n_test)
        problem = problems.make_synthetic(settings)
    else:
        unused = [f"--{k}" for k in ("n", "p", "kappa") if getattr(args, k) is not None]
        require(not unused, f"{', '.join(unused)} do not apply to --kind image-cs (use --atoms for the code length)")
        settings = _problem_settings(args, "image-cs")
        _check_memory(
            args, settings.m, settings.n_atoms, 1, settings.n_val + settings.n_test + settings.n_train_patches
        )
        print("learning the dictionary with scikit-learn (about a minute at the defaults)...", file=sys.stderr)
        problem = problems.make_image_cs(settings)
    problems.save(problem, args.out)
    print(
        f"wrote {args.out}: {problem.kind} problem, A is {problem.m}x{problem.n}, "
        f"{problem.val.b.shape[0]} validation and {problem.test.b.shape[0]} test samples"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from nni_lista.base.limits import check_output
    from nni_lista.train.runs import run_model

    check_output(args.out)
    config = _train_config(args)
    problem = _problem_from_args(args)
    result = run_model(args.model, problem, args.layers, args.lam, config, args.out, _extra_settings(args))
    from nni_lista.study.plots import plot_nmse_vs_layer

    plot_nmse_vs_layer(
        {args.model: result["nmse_db_per_layer"]},
        args.out / "nmse_vs_layer.png",
        f"{problem.kind} {problem.m}x{problem.n}, T={args.layers}, {config.protocol}",
    )
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
    require(
        names and not unknown,
        f"models {args.models!r} are not allowed: give a comma-separated subset of {', '.join(MODELS)}",
    )
    from nni_lista.base.limits import check_output

    check_output(args.out)
    config = _train_config(args)
    problem = _problem_from_args(args)
    results: dict[str, dict] = {}
    for name in names:
        print(f"[{len(results) + 1}/{len(names)}] {name}", file=sys.stderr, flush=True)
        results[name] = run_model(name, problem, args.layers, args.lam, config, args.out / name, _extra_settings(args))
    write_json(args.out / "compare.json", results)
    plot_nmse_vs_layer(
        {n: r["nmse_db_per_layer"] for n, r in results.items()},
        args.out / "nmse_vs_layer.png",
        f"{problem.kind} {problem.m}x{problem.n}, T={args.layers}, {config.protocol}",
    )
    print(_layer_table(results))
    print()
    print(_summary_table(results))
    print(f"\nwrote {args.out / 'compare.json'} and {args.out / 'nmse_vs_layer.png'}")
    return 0


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
    require(
        args.layers is None or args.layers == depth,
        f"--layers {args.layers} does not match {str(args.arch)!r}, whose architecture has {depth} layers: "
        f"leave --layers out or give {depth}",
    )
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

    summary = Study.open(
        args.config, args.out, args.device, progress=sys.stderr.isatty() and not args.no_progress
    ).run()
    print((args.out / "table.md").read_text())
    timing = summary["timing"]
    print(
        f"study took {timing['this_run_seconds']:.0f} s in this run ({timing['units_seconds']:.0f} s of work in all); "
        f"wrote {args.out / 'study.json'}, table.md and the figures"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from nni_lista.base.limits import check_output
    from nni_lista.search.export import export_search

    require(args.out.suffix == ".pt", f"--out {str(args.out)!r} is not allowed: the file name must end in .pt")
    check_output(args.out, directory=False)
    done = export_search(args.run, args.out)
    print(
        f"wrote {args.out}: {done['layers']} layers for a {done['m']}x{done['n']} problem, test NMSE "
        f"{done['test_nmse_db']:.2f} dB "
        f"(load it with nni_lista.space.spaces.LISTASpace.load_searched_model({str(args.out)!r}))"
    )
    return 0


def cmd_arch(args: argparse.Namespace) -> int:
    from nni_lista.base.limits import check_layers, check_output
    from nni_lista.search.export import save_arch
    from nni_lista.space.architectures import named_architecture

    check_layers(args.layers)
    check_output(args.out, directory=False)
    save_arch(named_architecture(args.name, args.layers), args.out)
    print(f"wrote {args.out}")
    return 0
