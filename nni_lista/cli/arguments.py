"""Parsed arguments to the library's objects: the problem, the training config, the extra
settings a run records, signal files and training-service files."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any, Optional

from nni_lista.base.errors import UsageError, require, short


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
    return TrainConfig(
        protocol=args.protocol,
        max_steps=args.max_steps,
        batch=args.batch,
        lr=args.lr,
        eval_every=args.eval_every,
        patience=args.patience,
        seed=args.seed,
        device=args.device,
        lr_scale=parse_lr_scale(args.lr_scale),
        warmup_steps=args.warmup_steps,
        compile=args.compile,
    )


def parse_lr_scale(text: str) -> dict:
    """``threshold=10,step=10`` as ``{"threshold": 10.0, "step": 10.0}`` (TrainConfig checks kinds and values)."""
    scale = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, _, value = item.partition("=")
        try:
            scale[kind.strip()] = float(value)
        except ValueError:
            raise UsageError(
                f"lr-scale {item!r} is not allowed: give KIND=FACTOR pairs, e.g. threshold=10,step=10"
            ) from None
    return scale


def _extra_settings(args: argparse.Namespace) -> dict:
    return {"problem_file": None if args.problem is None else str(args.problem)}


def _signal_files(text: str) -> list[Path]:
    """``--signals``: three comma-separated files, or a directory holding train/val/test files."""
    from nni_lista.problem.own_data import ARRAY_SUFFIXES

    folder = Path(text)
    if folder.is_dir():
        found = []
        for name in ("train", "val", "test"):
            files = [folder / f"{name}{suffix}" for suffix in ARRAY_SUFFIXES if (folder / f"{name}{suffix}").is_file()]
            require(
                len(files) == 1,
                f"--signals {text!r}: the directory must hold one {name}.npy (or .npz, .pt); found {len(files)}",
            )
            found += files
        return found
    parts = [part for part in text.split(",") if part]
    require(
        len(parts) == 3, f"--signals {short(text)} is not allowed: give TRAIN,VAL,TEST (three files) or a directory"
    )
    return [Path(part) for part in parts]


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
        raise UsageError(
            f"cannot read training-service file {str(path)!r}: give an NNI experiment config such as "
            "strategies/remote.yml"
        ) from None
    service: Any = data.get("trainingService") if isinstance(data, dict) else None
    require(
        isinstance(service, dict) and isinstance(service.get("platform"), str),
        f"{str(path)!r} has no trainingService with a platform: give an NNI experiment config such as "
        "strategies/remote.yml",
    )
    ip = data.get("nniManagerIp")
    require(
        ip is None or isinstance(ip, str), f"nniManagerIp {short(ip)} in {str(path)!r} is not allowed: give an address"
    )
    from nni.experiment.config.training_service import TrainingServiceConfig
    from nni.nas.experiment import NasExperimentConfig

    config = NasExperimentConfig("ts", "simplified", training_service=service)
    require(
        isinstance(config.training_service, TrainingServiceConfig),
        f"platform {short(service.get('platform'))} in {str(path)!r} is not allowed: give one of NNI's training "
        "services (e.g. local, remote)",
    )
    config.trial_concurrency, config.max_trial_number = 1, 1
    try:
        config.validate()  # NNI's own checks: machines, ports, keys
    except (ValueError, TypeError, AttributeError) as exc:
        raise UsageError(
            f"the trainingService of {str(path)!r} is not valid: {str(exc).splitlines()[0][:200]}"
        ) from None
    return {"training_service": service, "nni_manager_ip": ip}


def _is_architecture_of(path: Path, backbone: str) -> bool:
    from nni_lista.space.architectures import VALIDATORS, load_arch

    try:
        load_arch(path, VALIDATORS[backbone])
    except UsageError:
        return False
    return True
