"""Accuracy against cost over finished searches: every architecture a search scored, the LISTA
family on the same problem, and the Pareto front of (cost, NMSE) (both lower is better).

A point's NMSE is what the search measured for it: the validation NMSE (dB) after the search's
proxy training (``-metric`` of the search's ``history``). The family members (LISTA, LISTA-CP,
LISTA-CPSS, ALISTA, dense) are taken from the histories when a warm-started search scored them,
and otherwise trained here with the search's own recipe on its problem, so that every point is
measured the same way. The cost is FLOPs per sample or parameters (NNI's profilers count the
same), or the latency model of :mod:`nni_lista.search.latency`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nni_lista.base.errors import require, short


@dataclass
class Point:
    source: str  # the search's directory, or "family"
    name: str  # a family member's name, or "#k" (the k-th architecture the search scored)
    arch: dict
    nmse_db: float
    cost: float = 0.0


def load_search(run: Path) -> dict:
    """``run/top.json`` of a finished ``nni-lista search``, checked (one-line errors)."""
    from nni_lista.search.handback import read_top

    data = read_top(run)
    top = Path(run) / "top.json"
    require(
        data.get("backbone", "lista") == "lista",
        f"{str(top)!r} is a {short(data.get('backbone'))} search: pareto reads lista searches",
    )
    return data


def search_points(run: Path, data: dict) -> list[Point]:
    """Every architecture the search scored (its history; its top-k for one-shot searches that keep none)."""
    from nni_lista.space.architectures import PRESETS, complete

    events = [e for e in data.get("history") or [] if isinstance(e, dict) and isinstance(e.get("metric"), (int, float))]
    if not events:
        events = [e for e in data["top"] if isinstance(e.get("metric"), (int, float))]
    preset = PRESETS.get(data.get("space", "full"), PRESETS["full"])
    return [
        Point(str(run), f"#{k + 1}", complete(e["arch"], data["layers"], preset), -float(e["metric"]))
        for k, e in enumerate(events)
    ]


def family_points(searches: dict[str, dict], points: list[Point], progress: bool = False) -> list[Point]:
    """The five named networks: scored by a search already (the first score found), else
    trained here with the first search's recipe on its problem."""
    from nni_lista.models.family import DEFAULT_LAM
    from nni_lista.problem.problems import resolve_problem
    from nni_lista.space.architectures import NAMED_ARCHITECTURES, named_architecture
    from nni_lista.train.runs import run_architecture, training_config

    data = next(iter(searches.values()))
    settings = data["training"]  # the settings of the search's own runs: its recipe, seed and lam
    training = training_config(settings)
    found = []
    for name in NAMED_ARCHITECTURES:
        arch = named_architecture(name, data["layers"])
        scored = next((p for p in points if p.arch == arch), None)
        if scored is None:
            metrics = run_architecture(
                arch,
                resolve_problem(data["problem"]),
                training,
                settings.get("lam", DEFAULT_LAM),
                None,
                progress=progress,
            )
            found.append(Point("family (trained here)", name, arch, metrics["val_nmse_db"]))
        else:
            found.append(Point("family", name, arch, scored.nmse_db))
    return found


def cost_function(kind: str, m: int, n: int, layers: int, table=None) -> Callable[[dict], float]:
    """``arch -> cost`` for ``layers``-layer architectures: ``flops`` (per sample), ``params`` or
    ``latency`` (ms, from ``table``; its profiler is built once)."""
    from nni_lista.space.layers import analytic_flops
    from nni_lista.space.spaces import build

    if kind == "flops":
        return lambda arch: float(analytic_flops(build(arch, m, n)))
    if kind == "params":
        return lambda arch: float(sum(p.numel() for p in build(arch, m, n).parameters()))
    require(
        kind == "latency" and table is not None, f"cost {short(kind)} is not allowed: choose flops, params or latency"
    )
    from nni_lista.search.latency import LatencyProfiler
    from nni_lista.space.spaces import LISTASpace

    profiler = LatencyProfiler(LISTASpace.from_preset("full", m, n, layers), table)
    return lambda arch: float(profiler.profile(arch))


def front(points: list[Point]) -> list[Point]:
    """The points no other point beats on both cost and NMSE (ties kept once), by cost."""
    ordered = sorted(points, key=lambda p: (p.cost, p.nmse_db))
    kept: list[Point] = []
    for point in ordered:
        if not kept or point.nmse_db < kept[-1].nmse_db:
            kept.append(point)
    return kept


def check_comparable(searches: dict[str, dict]) -> None:
    """All searches must be on the same problem instance, depth and training recipe."""
    first_run, first = next(iter(searches.items()))
    for run, data in searches.items():
        for key in ("problem", "layers", "training"):
            require(
                data[key] == first[key],
                f"{run!r} and {first_run!r} differ in their {key}: a front compares searches of one problem, "
                "depth and training recipe",
            )
