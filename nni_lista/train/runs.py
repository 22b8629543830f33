"""One run: a model (of the family, or an architecture of the space) on a problem, trained when
it learns, scored on the test set, written to ``metrics.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

from nni_lista.base.errors import UsageError, short
from nni_lista.base.limits import MAX_RECORD_BYTES, read_bounded
from nni_lista.train.evaluation import evaluate
from nni_lista.models.family import build
from nni_lista.base.io import json_safe, remove_orphans, write_json
from nni_lista.problem.problems import Problem
from nni_lista.train.training import EXECUTION, TrainConfig, train


def run(
    model,
    name: str,
    problem: Problem,
    config: TrainConfig,
    out_dir: Optional[Path],
    extra_settings: Optional[dict] = None,
    progress: Optional[bool] = None,
    on_layer: Optional[Callable[[int, float], None]] = None,
    prefixes=None,
) -> dict:
    """Train ``model`` (if it learns) and test it; returns the ``metrics.json`` content, which
    is also written to ``out_dir`` (with the training's checkpoints) unless it is ``None``.

    ``settings`` holds the problem's settings, the model's size, the whole training config
    (its seed as ``train_seed``) and ``extra_settings``; for ISTA/FISTA ``steps`` is 0.
    ``on_layer`` and ``prefixes`` go to :func:`~nni_lista.train.training.train` (an NNI trial's
    per-layer reports; a search's shared layer prefixes, whose reuse ``reused_layers`` counts).
    """
    settings = {
        "problem": problem.kind,
        **json_safe(problem.settings),
        "layers": model.layers,
        "lam": model.lam,
        **{("train_seed" if k == "seed" else k): v for k, v in config.to_dict().items()},
        **(extra_settings or {}),
    }
    if out_dir is not None:
        _check_metrics(
            Path(out_dir) / "metrics.json", name, settings, frozenset({"problem", "problem_file", *problem.settings})
        )
        remove_orphans(out_dir)  # temp files of a run killed between writing and renaming
    steps, seconds, curve, reused = 0, 0.0, None, 0
    if model.learned:
        result = train(model, problem, config, out_dir, progress, on_layer=on_layer, prefixes=prefixes)
        steps, seconds, reused = result.steps, result.seconds, result.reused_layers
        # end-to-end: validation NMSE (dB) at each evaluation, [step, value], for convergence checks
        curve = [[h["step"], round(h["val_nmse_db"], 4)] for h in result.history if "step" in h] or None
    metrics = {
        "model": name,
        "settings": settings,
        "protocol": config.protocol if model.learned else "none",
        "steps": steps,
        "seconds": round(seconds, 3),
        **evaluate(model, problem),
        "val_nmse_db": evaluate(model, problem, problem.val)["nmse_db"],  # what selection may look at
        **({"val_curve": curve} if curve else {}),
        **({"reused_layers": reused} if prefixes is not None else {}),
    }
    if out_dir is not None:
        write_json(Path(out_dir) / "metrics.json", metrics)
    return metrics


def training_config(settings: dict) -> TrainConfig:
    """The training config that a run's ``settings`` record (the inverse of :func:`run`'s
    record: the seed is ``train_seed``; the device is not part of a run's identity)."""
    fields = set(TrainConfig.__dataclass_fields__) - {"seed", "device"}
    return TrainConfig.from_dict(
        {k: v for k, v in settings.items() if k in fields} | {"seed": settings.get("train_seed", 0)}
    )


def _check_metrics(path: Path, name: str, settings: dict, problem_keys: frozenset = frozenset()) -> None:
    """Refuse to overwrite ``path`` when it holds the results of another run (another model or
    other settings; the device and compilation do not count): they would be lost. The message says what
    differs; ``problem_keys`` are the settings that describe the problem instance."""
    if not path.exists():
        return
    try:
        old = json.loads(read_bounded(path, MAX_RECORD_BYTES, "metrics.json"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        old = None
    out = str(path.parent)
    keep = "give another --out (or delete metrics.json) so its results are not overwritten"
    if not isinstance(old, dict) or not isinstance(old.get("settings"), dict):
        raise UsageError(f"{out!r} holds a metrics.json that is not an nni-lista result; {keep}")
    if old.get("model") != name:
        raise UsageError(f"{out!r} holds the results of model {short(old.get('model'))}, not {name!r}: {keep}")
    drop = lambda values: {k: v for k, v in values.items() if k not in EXECUTION}  # noqa: E731
    before, now = drop(old["settings"]), json.loads(json.dumps(drop(settings)))
    changed = [k for k in sorted(set(before) | set(now)) if k not in before or k not in now or before[k] != now[k]]
    if not changed:
        return
    value = lambda values, k: short(values[k], 80) if k in values else "(none)"  # noqa: E731
    shown = "; ".join(f"{k} was {value(before, k)}, now {value(now, k)}" for k in changed[:3])
    shown += f"; and {len(changed) - 3} more" if len(changed) > 3 else ""
    if set(changed) <= problem_keys:
        raise UsageError(
            f"{out!r} holds a run of {name!r} on a different problem instance ({shown}): give another --out "
            "for this problem, or the same problem file (or problem options) to resume that run"
        )
    raise UsageError(
        f"{out!r} holds a run of {name!r} made with other settings ({shown}): give another --out, "
        "or the same options to resume that run"
    )


def recorded_architecture_run(
    out_dir: Path, arch: dict, problem: Problem, config: TrainConfig, lam: float
) -> Optional[dict]:
    """The ``metrics.json`` that :func:`run_architecture` wrote in ``out_dir`` for this very run
    (the same architecture, problem settings, LASSO weight and training config, execution details
    aside), or None. Lets a long benchmark's committed results stand in for runs whose
    checkpoints were not kept."""
    try:
        metrics = json.loads(read_bounded(Path(out_dir) / "metrics.json", MAX_RECORD_BYTES, "metrics.json"))
        settings = metrics["settings"]
        same = (
            metrics["model"] == "arch"
            and settings["arch"] == json.loads(json.dumps(arch))
            and settings["lam"] == lam
            and settings.get("backbone", "lista") == "lista"
            and settings["problem"] == problem.kind
            and all(settings.get(k) == v for k, v in json.loads(json.dumps(json_safe(problem.settings))).items())
            and training_config(settings).identity() == config.identity()
        )
    except (OSError, ValueError, KeyError, TypeError, RecursionError, UsageError):
        return None
    return metrics if same else None


def run_model(
    name: str,
    problem: Problem,
    layers: int,
    lam: float,
    config: TrainConfig,
    out_dir: Optional[Path],
    extra_settings: Optional[dict] = None,
    progress: Optional[bool] = None,
) -> dict:
    """:func:`run` for the family model registered as ``name``."""
    return run(build(name, problem.A, layers, lam), name, problem, config, out_dir, extra_settings, progress)


def run_architecture(
    arch: dict,
    problem: Problem,
    config: TrainConfig,
    lam: float,
    out_dir: Optional[Path],
    extra_settings: Optional[dict] = None,
    progress: Optional[bool] = None,
    backbone: str = "lista",
) -> dict:
    """:func:`run` for an architecture of ``backbone``'s space (:data:`nni_lista.space.backbones.BACKBONES`),
    trained from its initialisation; ``settings`` records the label map and the backbone."""
    from nni_lista.space.backbones import BACKBONES

    model = BACKBONES[backbone].build(arch, problem.m, problem.n, problem.A, lam)
    return run(
        model,
        "arch",
        problem,
        config,
        out_dir,
        {"arch": dict(arch), "backbone": backbone, **(extra_settings or {})},
        progress,
    )
