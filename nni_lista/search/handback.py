"""What a search hands back: its architectures named, and the family member to compare with.

:func:`name_architectures` gives every architecture of a search's output the nearest named
architecture and the labels that differ (:func:`nni_lista.space.architectures.describe`), counted
over the labels the searched space varies, so "= ALISTA" means the search returned ALISTA
itself. :func:`best_family_member` picks the family member (LISTA, LISTA-CP, LISTA-CPSS, ALISTA,
dense, ALISTA-AT, AGLISTA, HyperLISTA) of the searched space that the search itself scored best,
the baseline a search has to beat to have added something beyond its starting points.
:func:`read_top` reads a search's ``top.json`` back for the commands that take a finished search
(``view``, ``pareto``, ``export``), checked before anything is built from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Optional

from nni_lista.base.errors import UsageError, require, short
from nni_lista.base.limits import check_arch_depth, check_layers, read_bounded
from nni_lista.problem.problems import check_spec
from nni_lista.space.architectures import NAMED_ARCHITECTURES, PRESETS, complete, describe, labels, named_architecture

MAX_TOP_BYTES = 64 << 20


def load_top(run: Path) -> dict:
    """``run/top.json`` as a mapping, at most 64 MiB read (what ``view`` needs of it)."""
    top = Path(run) / "top.json"
    require(top.is_file(), f"{str(run)!r} has no top.json: give the --out directory of a finished `nni-lista search`")
    try:
        data = json.loads(read_bounded(top, MAX_TOP_BYTES, "top.json"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise UsageError(f"cannot read {str(top)!r}: it is not a top.json written by `nni-lista search`") from None
    require(
        isinstance(data, dict), f"{str(top)!r} is not a top.json written by `nni-lista search`: it is not a mapping"
    )
    return data


def read_top(run: Path) -> dict:
    """:func:`load_top`, checked as a finished search's record: its ``layers`` within the limits,
    its ``problem`` a valid spec, its architectures naming no layer beyond them; anything else is
    a one-line error, before anything is built from it."""
    data = load_top(run)
    top = Path(run) / "top.json"
    require(
        isinstance(data.get("top"), list)
        and isinstance(data.get("problem"), dict)
        and isinstance(data.get("layers"), int)
        and isinstance(data.get("training"), dict),
        f"{str(top)!r} is not a top.json written by `nni-lista search` (or is damaged)",
    )
    check_layers(data["layers"], f"{str(top)!r}: layers")
    check_spec(data["problem"], f"{str(top)!r}: problem")
    for item in [*data["top"], *(data.get("history") or [])]:
        require(
            isinstance(item, dict) and isinstance(item.get("arch"), dict),
            f"{str(top)!r}: every entry of top and history must be a mapping with an arch, not {short(item)}",
        )
        check_arch_depth(item["arch"], str(top))
    return data


def searched_labels(arch: dict, space: str, layers: int) -> dict:
    """``arch`` restricted to the labels that ``space`` varies (what the search chose)."""
    varied = labels(layers, PRESETS[space])
    return {label: value for label, value in arch.items() if label in varied}


def name_architecture(arch: dict, space: str, layers: int) -> dict:
    """:func:`~nni_lista.space.architectures.describe` over the labels ``space`` varies."""
    return describe(searched_labels(arch, space, layers), layers)


def name_architectures(items: Iterable[dict], space: str, layers: int) -> None:
    """Add ``name`` (the description's text) and ``description`` to each ``{"arch": ...}`` item."""
    for item in items:
        item["description"] = name_architecture(item["arch"], space, layers)
        item["name"] = item["description"]["text"]


def family_members(space: str, layers: int) -> dict[str, dict]:
    """The named architectures that are points of ``space``: name -> full architecture."""
    config = PRESETS[space]
    out = {}
    for name in NAMED_ARCHITECTURES:
        arch = named_architecture(name, layers)
        if complete(searched_labels(arch, space, layers), layers, config) == arch:
            out[name] = arch
    return out


def best_family_member(scored: Iterable[dict], space: str, layers: int) -> Optional[str]:
    """The family member of ``space`` with the best metric (higher is better) among ``scored``
    (``{"arch", "metric"}`` records: a search's history and top list); None when the search
    scored none (a one-shot search, or one without warm start)."""
    members = {name: searched_labels(arch, space, layers) for name, arch in family_members(space, layers).items()}
    best: tuple[float, str] | None = None
    for item in scored:
        if item.get("metric") is None:
            continue
        sample = searched_labels(item["arch"], space, layers)
        for name, labels_of_member in members.items():
            if sample == labels_of_member and (best is None or float(item["metric"]) > best[0]):
                best = (float(item["metric"]), name)
    return None if best is None else best[1]
