"""Figures written as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def plot_nmse_vs_layer(curves: Mapping[str, Sequence[float]], path: str | os.PathLike, title: str = "") -> Path:
    """NMSE (dB) against layer, one line per model (legend outside); written atomically."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    markers = "os^vD<>ph*xP"
    for index, (name, values) in enumerate(curves.items()):
        ax.plot(range(1, len(values) + 1), values, marker=markers[index % len(markers)], markersize=3, label=name)
    _label(ax, "layer", "test NMSE (dB)", title)
    return _save(fig, path)


def _label(ax, xlabel: str, ylabel: str, title: str) -> None:
    """Axis labels, a light grid, the legend outside on the right, and the title if any."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if title:
        ax.set_title(title)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` to ``path`` atomically and close it."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def plot_heatmaps(
    panels: Mapping[str, np.ndarray | Sequence[Sequence[float]]],
    path: str | os.PathLike,
    xlabel: str,
    ylabel: str,
    xticks: Sequence[str] | None = None,
    yticks: Sequence[str] | None = None,
    title: str = "",
    vmin: float = 0.0,
    vmax: float = 1.0,
    cmap: str = "viridis",
    annotate: bool = False,
) -> Path:
    """One heat map per panel (name -> 2-D array), side by side, with a shared colour bar."""
    plt = _pyplot()
    count = len(panels)
    columns = min(count, 3)
    rows = (count + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns + 0.8, 3.9 * rows), dpi=120, squeeze=False)
    image = None
    for ax, (name, matrix) in zip(axes.ravel(), panels.items()):
        image = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap=cmap, origin="upper", aspect="auto")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        shape = np.shape(matrix)
        ax.set_xticks(
            range(shape[1]),
            xticks if xticks is not None else [str(i + 1) for i in range(shape[1])],
            fontsize=6,
            rotation=90 if xticks is not None else 0,
        )
        ax.set_yticks(
            range(shape[0]), yticks if yticks is not None else [str(i + 1) for i in range(shape[0])], fontsize=6
        )
        if annotate:
            for (i, j), value in np.ndenumerate(np.asarray(matrix, dtype=float)):
                ax.text(
                    j, i, "n/a" if np.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=7, color="w"
                )
    for ax in axes.ravel()[count:]:
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_edfs(samples: Mapping[str, Sequence[float]], path: str | os.PathLike, xlabel: str, title: str = "") -> Path:
    """Empirical distribution functions, one step curve per named sample (pycls style)."""
    from nni_lista.study.analysis import edf

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for name, values in samples.items():
        if values:
            xs, ys = edf(values)
            ax.step([xs[0], *xs], [0.0, *ys], where="post", label=f"{name} (n={len(values)})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of sampled networks")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_table(headers: Sequence[str], rows: Sequence[Sequence], path: str | os.PathLike, title: str = "") -> Path:
    """A results table as an image (the same cells as the Markdown table)."""
    from nni_lista.base.tables import _cell

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.3 * len(headers) + 1.0, 0.32 * (len(rows) + 2) + 0.4), dpi=120)
    ax.axis("off")
    table = ax.table(
        cellText=[[_cell(v) for v in row] for row in rows], colLabels=list(headers), loc="center", cellLoc="right"
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.auto_set_column_width(list(range(len(headers))))
    for (row, column), cell in table.get_celld().items():
        if column == 0:
            cell.set_text_props(ha="left")
    table.scale(1.0, 1.3)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_pareto(points: Sequence, front: Sequence, path: str | os.PathLike, xlabel: str, title: str = "") -> Path:
    """NMSE (dB) against a cost: each source's points, the named family members labelled, and
    the Pareto front as a step line (``points`` and ``front`` hold ``.source .name .cost .nmse_db``)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.8, 4.4), dpi=120)
    sources = list(dict.fromkeys(p.source for p in points if not p.source.startswith("family")))
    for source in sources:
        mine = [p for p in points if p.source == source]
        ax.scatter(
            [p.cost for p in mine],
            [p.nmse_db for p in mine],
            s=14,
            alpha=0.6,
            label=f"{Path(source).name} ({len(mine)})",
        )
    family = [p for p in points if p.source.startswith("family")]
    ax.scatter(
        [p.cost for p in family], [p.nmse_db for p in family], s=40, marker="D", color="black", label="LISTA family"
    )
    for p in family:
        ax.annotate(p.name, (p.cost, p.nmse_db), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.step(
        [p.cost for p in front],
        [p.nmse_db for p in front],
        where="post",
        color="crimson",
        linewidth=1.2,
        label=f"Pareto front ({len(front)})",
    )
    costs = [p.cost for p in points if p.cost > 0]
    if costs and max(costs) / min(costs) > 20:
        ax.set_xscale("log")
    _label(ax, xlabel, "validation NMSE (dB), lower is better", title)
    return _save(fig, path)


def plot_architecture(arch: Mapping[str, str], path: str | os.PathLike, title: str = "") -> Path:
    """An architecture drawn as its layers: one column per layer ``k`` listing its choices
    (``layerK/DIMENSION`` labels other than skips, e.g. weight form, neuron, threshold, gates,
    momentum) and, above the columns, an arc from layer ``j`` to layer ``k`` for every skip
    ``layerK/skip_fromJ`` that is on; written atomically."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    plt = _pyplot()
    layers: dict[int, dict[str, str]] = {}
    skips: list[tuple[int, int]] = []
    for label, value in arch.items():
        head, _, dimension = label.partition("/")
        if not head.startswith("layer") or not head[5:].isdigit():
            continue
        k = int(head[5:])
        layers.setdefault(k, {})
        if dimension.startswith("skip_from"):
            if value != "off":
                skips.append((int(dimension[len("skip_from") :]), k))
        else:
            layers[k][dimension] = str(value)
    count = max(layers) if layers else 0
    rows = max((len(choices) for choices in layers.values()), default=1)
    fig, ax = plt.subplots(
        figsize=(max(4.0, 1.25 * count + 0.5), 1.4 + 0.32 * rows + 0.25 * min(len(skips), 8)), dpi=120
    )
    height = 0.32 * rows + 0.3
    for k in range(1, count + 1):
        ax.add_patch(
            FancyBboxPatch(
                (k - 0.45, 0), 0.9, height, boxstyle="round,pad=0.02", facecolor="#eef3fa", edgecolor="#4a6fa5"
            )
        )
        ax.text(k, height + 0.08, f"layer {k}", ha="center", va="bottom", fontsize=7, weight="bold")
        for row, (dimension, value) in enumerate(sorted(layers.get(k, {}).items())):
            ax.text(
                k,
                height - 0.22 - 0.32 * row,
                f"{dimension.replace('_', ' ')}\n{value}",
                ha="center",
                va="center",
                fontsize=5.5,
            )
    for j, k in skips:  # j = 0 is the input, drawn left of layer 1
        ax.add_patch(
            FancyArrowPatch(
                (max(j, 0.55), height + 0.35),
                (k, height + 0.35),
                connectionstyle=f"arc3,rad=-{0.15 + 0.02 * (k - j)}",
                arrowstyle="-|>",
                mutation_scale=7,
                color="#c0504d",
                linewidth=0.8,
            )
        )
    ax.set_xlim(0.4, count + 0.6)
    ax.set_ylim(-0.1, height + 0.9 + 0.12 * max((k - j for j, k in skips), default=0))
    ax.axis("off")
    ax.set_title(title or f"{count} layers; red arcs: skip connections on", fontsize=8)
    return _save(fig, path)
