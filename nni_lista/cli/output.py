"""What the commands print and draw: per-layer and summary tables, a search's ranking and
replicates, and its figures."""

from __future__ import annotations

from pathlib import Path


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
    rows = [
        [name, r["protocol"], r["steps"], r["seconds"], r["nmse_db"], *([r["psnr_db"]] if with_psnr else [])]
        for name, r in results.items()
    ]
    return markdown_table(headers, rows)


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
        rows.append(
            [rank, metric, item.get("name", ""), most_common(arch, "weight_form"), most_common(arch, "neuron"), skips]
        )
    return markdown_table(["rank", "val NMSE dB (search)", "architecture", "weight form", "neuron", "skips on"], rows)


def _replicate_table(replicates: dict) -> str:
    from nni_lista.base.tables import markdown_table

    rows = []
    for name, row in replicates["models"].items():
        paired = row.get("paired_gain_db")
        gain = (
            ""
            if paired is None
            else f"{paired['mean']:+.2f}"
            if paired["low"] is None
            else f"{paired['mean']:+.2f} [{paired['low']:+.2f}, {paired['high']:+.2f}]"
        )
        rows.append(
            [name, f"{row['mean']:.2f} +- {row['std']:.2f}", ", ".join(f"{v:.2f}" for v in row["nmse_db"]), gain]
        )
    seeds = ", ".join(map(str, replicates["training_seeds"]))
    return markdown_table(
        [
            "model",
            f"test NMSE dB, mean +- std over seeds {seeds}",
            "per seed",
            "searched better by dB, paired [95 % CI]",
        ],
        rows,
    )


def _search_figures(result: dict, out: Path) -> list[Path]:
    """``out/nmse_vs_layer.png`` (each retrained network's test NMSE per layer, its first training
    seed) and ``out/best_arch.png`` (the found architecture drawn, named as the search named it)."""
    from nni_lista.study.plots import plot_architecture, plot_nmse_vs_layer

    curves = {name: run["nmse_db_per_layer"] for name, run in result["retrained"].items()}
    found = result.get("found")
    return [
        plot_nmse_vs_layer(
            curves, out / "nmse_vs_layer.png", f"retrained after the {result['strategy']} search, T={result['layers']}"
        ),
        plot_architecture(
            result["top"][0]["arch"],
            out / "best_arch.png",
            f"found: {found['text']}" if found is not None else f"best architecture ({result['backbone']})",
        ),
    ]
