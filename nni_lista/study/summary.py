"""The study's account: unit results gathered into ``study.json``, the table and the figures,
and each of the paper's four claims tested directly.

* Every learned model is trained once per training seed; a table cell is the mean test NMSE
  with the sample standard deviation over seeds (``mean +- sd``).
* **Claim 1** (a searched network beats LISTA), per setting: ``gain = mean_LISTA - mean_searched``
  against ``spread = max(sd_LISTA, sd_searched)``; a *win* when ``gain > spread``, a *loss*
  when ``-gain > spread``, otherwise *within spread*. The searched network's nearest named
  architecture says whether the search returned one of its starting points.
* **Claim 2** (soft thresholds preferred): LISTA with one neuron type throughout, each of the
  seven, same recipe and seeds; and the neuron frequencies among the searches' top-k against
  the architectures the searches evaluated (:func:`nni_lista.study.analysis.neuron_enrichment`).
* **Claim 3** (consistent patterns): skip-only and neuron-only correlations of the averaged
  architectures of searches with other seeds and strategies, each against the null of random
  top-k sets (:func:`nni_lista.study.analysis.null_correlations`), and a per-edge binomial test of
  the pooled top-k's skip frequencies against the searches' evaluated population.
* **Claim 4** (the pattern transfers to D-LADMM): plain D-LADMM, the averaged LISTA skip
  pattern with soft thresholds, random grafts of equal density, and the searched D-LADMM.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict
from typing import Any, Optional

import numpy as np

from nni_lista.study import analysis
from nni_lista.study.claims import assess, compare
from nni_lista.space.backbones import BACKBONES
from nni_lista.base.io import json_safe, write_json, write_text
from nni_lista.problem.metrics import mean_and_sd
from nni_lista.space.neurons import NEURONS


def late_gain(run: dict, window: int = 1000) -> Optional[float]:
    """How much a run's best validation NMSE improved over its last ``window`` steps (dB,
    positive = still improving): ``min_{s <= S-window} v_s - min_s v_s`` over its ``val_curve``
    (``S`` its last step); ``None`` without a curve that long. The convergence check of the table."""
    curve = run.get("val_curve") or []
    if not curve:
        return None
    before = [value for step, value in curve if step <= curve[-1][0] - window]
    return min(before) - min(value for _, value in curve) if before else None


def replicated(runs: list[dict]) -> dict:
    """One model over its training seeds: means of test/validation NMSE (and PSNR), their sample
    standard deviations (``None`` for one seed), each seed's value, the mean per-layer curve,
    steps and seconds per seed, and the run settings without the seed (``train_seeds`` instead)."""

    def stats(key: str) -> tuple[float, Optional[float], list[float]]:
        values = [r[key] for r in runs]
        return (*mean_and_sd(values), values)

    row: dict = {}
    for key in ("nmse_db", "nmse_db_sample_mean", "val_nmse_db", "psnr_db"):
        if all(key in r for r in runs):
            row[key], row[f"{key}_std"], row[f"{key}_seeds"] = stats(key)
    row["nmse_db_per_layer"] = np.mean([r["nmse_db_per_layer"] for r in runs], axis=0).tolist()
    row["steps"] = [r["steps"] for r in runs]
    gains = [late_gain(r) for r in runs]
    known = [g for g in gains if g is not None]
    if len(known) == len(gains):
        row["late_gain_db"] = statistics.fmean(known)  # validation gain over the last 1,000 steps, mean over seeds
    row["seconds"] = [r["seconds"] for r in runs]
    row["protocol"] = runs[0].get("protocol")
    settings = {k: v for k, v in runs[0]["settings"].items() if k != "train_seed"}
    row["settings"] = {**settings, "train_seeds": [r["settings"].get("train_seed") for r in runs]}
    return row


def steps_cell(steps: list[int]) -> str:
    """The steps of each seed's run, ``"10000"`` when they agree, else ``"10000 / 5000"``."""
    return str(steps[0]) if len(set(steps)) == 1 else " / ".join(str(s) for s in steps)


def cell(row: dict, key: str = "nmse_db") -> str:
    """``mean +- sd`` (two decimals), or the mean alone for one seed."""
    if key not in row:
        return ""
    spread = row.get(f"{key}_std")
    return f"{row[key]:.2f}" if spread is None else f"{row[key]:.2f} +- {spread:.2f}"


def _size(settings) -> str:
    """A setting's problem size for a table header: ``m x n`` (``m x atoms`` for images)."""
    from nni_lista.problem.problems import SyntheticSettings

    return f"{settings.m}x{settings.n if isinstance(settings, SyntheticSettings) else settings.n_atoms}"


def _consistency_seeds(study) -> dict:
    """The strategy seed of each search claim 3 compares (they must all differ)."""
    consistency = study.config.consistency
    if consistency is None:
        return {}
    keys = [
        study.search_key(consistency.setting, strategy, seed, consistency.cold)
        for strategy, seed in study.consistency_runs()
    ]
    return {key: (study.done(key) or {}).get("strategy_seed") for key in keys}


def _done_all(study, keys: list[str]) -> list[dict]:
    return [study.done(key) for key in keys]


def _population(found: dict) -> list[dict]:
    """The architectures a search evaluated (its history), or its top-k when it kept none."""
    history = [event["arch"] for event in found.get("history", []) if isinstance(event, dict) and "arch" in event]
    return history or [item["arch"] for item in found["top"]]


def summarise(study, run_seconds: float = 0.0) -> dict:
    """Gather the unit results into ``DIR/study.json``, write the tables and figures, return it:
    the results per setting and claim 1 (:func:`_results`), the averaged architectures
    (:func:`_patterns`), claims 2 to 4, the error distributions, the image check and the tables."""
    from nni_lista.study.config import problem_settings

    c, out = study.config, study.out
    seeds = list(c.training_seeds)
    seconds = _unit_seconds(study)
    space_labels = BACKBONES["lista"].labels(c.search.space, c.layers)
    results, searches, claim1 = _results(study, space_labels)
    made = {name: problem_settings(c.problem, c.settings[name] or {}, name) for name in c.settings}
    settings_info: dict[str, dict[str, Any]] = {
        name: {"kind": kind, "settings": json_safe(asdict(settings))} for name, (kind, settings) in made.items()
    }
    top = {setting: study.top_archs(setting) for setting in c.settings}
    pooled = [arch for archs in top.values() for arch in archs]
    population = [arch for found in searches.values() for arch in _population(found)]
    patterns = _patterns(study, top, pooled)
    claim2 = _claim2(study, results, pooled, population)
    claim3 = _claim3(study, pooled, population, space_labels)
    claim4 = _claim4(study, results)
    distributions = _distributions(study)
    images = {}  # image settings: every learned model must improve on ISTA on validation
    for setting in c.settings:
        if settings_info[setting]["kind"] == "image-cs" and "ista" in results[setting]:
            ista = results[setting]["ista"]["val_nmse_db"]
            images[setting] = {
                model: row["val_nmse_db"] < ista
                for model, row in results[setting].items()
                if model not in ("ista", "fista", "searched mean") and "val_nmse_db" in row
            }
    headers, rows = _tables(study, results, claim1, made, settings_info)
    summary = {
        "config": c.to_dict(),
        "seeds": {
            "training": seeds,
            "problems": {name: info["settings"].get("seed") for name, info in settings_info.items()},
            "strategies": {name: found.get("strategy_seed") for name, found in searches.items()},
            "consistency_strategies": _consistency_seeds(study),
        },
        "device": study.device,
        "problems": settings_info,
        "results": results,
        "claims": {
            "1_searched_beats_lista": claim1,
            "2_soft_thresholds": claim2,
            "3_consistent_patterns": claim3,
            "4_transfer_to_dladmm": claim4,
        },
        "images_better_than_ista": images,
        "searches": searches,
        "patterns": patterns,
        "distributions": distributions,
        "table": {"headers": headers, "rows": rows},
        "timing": {
            "units_seconds": round(sum(seconds.values()), 1),
            "this_run_seconds": round(run_seconds, 1),
            "per_unit": seconds,
        },
    }
    verdicts, account = assess(summary)
    summary["verdicts"] = {claim: v["verdict"] for claim, v in verdicts.items()}
    write_text(out / "claims.md", account)
    write_json(out / "study.json", summary)
    return summary


def _unit_seconds(study) -> dict:
    """Seconds of every finished unit (a damaged unit file is named, not a traceback)."""
    seconds = {}
    for unit in study.units():
        path = study.unit_path(unit.key)
        if path.is_file():
            study.done(unit.key)
            seconds[unit.key] = json.loads(path.read_text()).get("seconds", 0.0)
    return seconds


def _results(study, space_labels) -> tuple[dict, dict, dict]:
    """Per setting: the baselines and the searched network (the retrained top architecture best on
    validation, reported on test) over the training seeds; the searches; claim 1 against LISTA."""
    c = study.config
    seeds = list(c.training_seeds)
    results: dict = {}
    searches: dict = {}
    claim1: dict = {}
    for setting in c.settings:
        rows = {
            model: replicated(_done_all(study, [study.baseline_key(setting, model, s) for s in study.seeds_of(model)]))
            for model in c.baselines
        }
        for name in study.starting_points():  # retrained starting points of the search, e.g. dense
            runs = _done_all(study, [study.start_key(setting, name, s) for s in seeds])
            if all(r is not None for r in runs):
                rows[name] = replicated(runs)
        ranks = []
        for rank in range(c.search.retrain_top):
            runs = _done_all(study, [study.retrain_key(setting, rank, s) for s in seeds])
            if all(r is not None and "skipped" not in r for r in runs):
                ranks.append(replicated(runs))
        best = min(range(len(ranks)), key=lambda i: ranks[i]["val_nmse_db"])  # selected on validation, reported on test
        chosen = {
            label: value for label, value in study.top_archs(setting)[best].items() if label in space_labels
        }  # the searched labels
        rows["searched"] = {
            **ranks[best],
            "rank_in_search": best + 1,
            "nearest_named": analysis.nearest_named(chosen, c.layers),
        }
        rows["searched mean"] = {"nmse_db": statistics.fmean(r["nmse_db"] for r in ranks), "k": len(ranks)}
        results[setting] = rows
        searches[setting] = study.done(study.search_key(setting, c.search.strategy, c.search.seed))
        if "lista" in rows:
            claim1[setting] = compare(rows["lista"], rows["searched"])
    return results, searches, claim1


def _patterns(study, top: dict, pooled: list) -> dict:
    """The averaged architectures of each setting's top architectures and of all pooled, with their figures."""
    from nni_lista.study.plots import plot_heatmaps

    c, out, layers = study.config, study.out, study.config.layers
    patterns = {
        name: {
            "skip_frequency": analysis.skip_frequency(archs, layers).round(4).tolist(),
            "neuron_frequency": analysis.neuron_frequency(archs, layers).round(4).tolist(),
            "k": len(archs),
        }
        for name, archs in {**top, "all settings": pooled}.items()
    }
    plot_heatmaps(
        {
            f"{name} (top {len(archs)})": analysis.skip_frequency(archs, layers)
            for name, archs in {**top, "all settings": pooled}.items()
        },
        out / "averaged-architecture.png",
        "origin layer j (estimate x^j)",
        "destination layer k",
        title=f"Averaged architecture: fraction of the top-{c.search.top_k} with each edge\n"
        f"({c.search.strategy}, {c.search.space} space; the predecessor edge is always on)",
    )
    plot_heatmaps(
        {"all settings": analysis.neuron_frequency(pooled, layers)},
        out / "neuron-frequency.png",
        "neuron type",
        "layer",
        xticks=list(NEURONS),
        title=f"Neuron type per layer among the top-{c.search.top_k} of every setting",
    )

    return patterns


def _claim2(study, results: dict, pooled: list, population: list) -> dict:
    """Claim 2, soft thresholds: neuron enrichment among the top, and LISTA with each neuron throughout."""
    c, layers, seeds = study.config, study.config.layers, list(study.config.training_seeds)
    claim2 = {
        "enrichment": analysis.neuron_enrichment(pooled, population, layers),
        "top_k": len(pooled),
        "population": len(population),
    }
    if c.neurons is not None:
        setting = c.neurons.setting
        uniform = {
            neuron: replicated(_done_all(study, [study.neuron_key(setting, neuron, s) for s in seeds]))
            for neuron in NEURONS
        }
        claim2.update(
            {
                "setting": setting,
                "uniform": uniform,
                "versus_soft": {
                    neuron: compare(uniform["soft"], row) for neuron, row in uniform.items() if neuron != "soft"
                },
            }
        )
        for neuron, row in uniform.items():
            results[setting][f"lista, {neuron} throughout"] = row

    return claim2


def _claim3(study, pooled: list, population: list, labels) -> dict:
    """Claim 3, consistent patterns: the edge test against the searches' own skip rates, and the
    correlation of the averaged architectures of independent searches against a null, with figures."""
    from nni_lista.study.plots import plot_heatmaps

    c, out, layers = study.config, study.out, study.config.layers
    edges, edge_summary = analysis.edge_binomial_test(
        pooled, labels, layers, base_rate=analysis.skip_rates(population, labels)
    )
    claim3: dict = {
        "edges": edges,
        "edge_summary": edge_summary,
        "base_rate": "the skip rates among the architectures the searches evaluated",
    }
    if c.consistency is not None:
        setting, cold = c.consistency.setting, c.consistency.cold
        runs = study.consistency_runs()
        names = [f"{strategy} seed {seed}" + (" (cold)" if cold else "") for strategy, seed in runs]
        archs = [study.top_archs(setting, strategy, seed, cold) for strategy, seed in runs]
        pairs = []
        for i in range(len(runs)):
            for j in range(i + 1, len(runs)):
                pair: dict = {"a": names[i], "b": names[j]}
                if c.consistency.null_pairs:  # the null of the pair's own search dynamics, and its power
                    pair["dynamics"] = study.done(study.power_key(setting, runs[i][0], runs[j][0]))
                for part in ("skips", "neurons"):
                    null = analysis.null_correlations(
                        labels, (len(archs[i]), len(archs[j])), layers, c.consistency.null_draws, seed=0, part=part
                    )
                    pair[part] = analysis.correlation_test(
                        analysis.pattern_correlation(archs[i], archs[j], layers, part), null
                    )
                pairs.append(pair)
        claim3.update(
            {
                "setting": setting,
                "cold": cold,
                "runs": names,
                "pairs": pairs,
                "patterns": {
                    name: analysis.skip_frequency(a, layers).round(4).tolist() for name, a in zip(names, archs)
                },
            }
        )
        grid = np.full((len(runs), len(runs)), math.nan)
        for part_index, part in enumerate(("skips", "neurons")):
            for k, pair in enumerate(pairs):
                i, j = names.index(pair["a"]), names.index(pair["b"])
                value = pair[part]["observed"]
                grid[(i, j) if part_index == 0 else (j, i)] = math.nan if value is None else value
        plot_heatmaps(
            {"skips (upper) / neurons (lower)": grid},
            out / "consistency.png",
            "",
            "",
            xticks=names,
            yticks=names,
            vmin=-1.0,
            vmax=1.0,
            cmap="coolwarm",
            annotate=True,
            title=f"Consistency of the averaged architecture ({setting}): Pearson correlation\n"
            f"of skip frequencies (upper triangle) and neuron frequencies (lower); nulls in study.json",
        )
        plot_heatmaps(
            {name: analysis.skip_frequency(a, layers) for name, a in zip(names, archs)},
            out / "consistency-patterns.png",
            "origin layer j",
            "destination layer k",
            title=f"Averaged architectures of each search ({setting})",
        )

    return claim3


def _claim4(study, results: dict) -> Optional[dict]:
    """Claim 4, transfer to D-LADMM: its variants over the training seeds against the plain one."""
    c, seeds = study.config, list(study.config.training_seeds)
    claim4 = None
    if c.dladmm is not None:
        setting = c.dladmm.setting
        claim4 = dict(c.to_dict()["dladmm"])
        for which in study.dladmm_variants():
            row = replicated(_done_all(study, [study.dladmm_key(setting, which, s) for s in seeds]))
            claim4[which] = row
            results[setting][f"d-ladmm {which}"] = row
        claim4["versus_plain"] = {
            which: compare(claim4["plain"], claim4[which]) for which in study.dladmm_variants() if which != "plain"
        }
        claim4["search"] = study.done(study.dladmm_key(setting, "search"))

    return claim4


def _distributions(study) -> Optional[dict]:
    """The design spaces' error distributions (validation NMSE of random samples), with their figure."""
    from nni_lista.study.plots import plot_edfs

    c, out = study.config, study.out
    distributions = None
    if c.distributions is not None:
        d = c.distributions
        distributions = {
            "setting": d.setting,
            "training": d.training.to_dict(),
            "samples": d.samples,
            "metric": "val_nmse_db",
            "values": {
                space: [study.done(study.sample_key(space, i))["val_nmse_db"] for i in range(d.samples)]
                for space in d.spaces
            },
        }
        plot_edfs(
            distributions["values"],
            out / "error-distributions.png",
            "validation NMSE (dB), lower is better",
            f"Design-space error distributions ({d.setting}, {d.training.max_steps} steps each)",
        )

    return distributions


def _tables(study, results: dict, claim1: dict, made: dict, settings_info: dict) -> tuple[list, list]:
    """``table.md`` (test NMSE, per-sample dB, PSNR, convergence), ``table.png`` and the per-layer
    curves; returns the main table's headers and rows."""
    from nni_lista.base.tables import markdown_table
    from nni_lista.study.plots import plot_nmse_vs_layer, plot_table

    c, out, seeds = study.config, study.out, list(study.config.training_seeds)
    # the table: final test NMSE dB (mean +- sd over training seeds) per model and setting
    models = list(dict.fromkeys(model for rows in results.values() for model in rows))
    headers = ["model", *(f"{s} ({_size(made[s][1])})" for s in c.settings)]
    table_rows = [
        [model, *(cell(results[s][model]) if model in results[s] else "" for s in c.settings)] for model in models
    ]
    image_settings = [s for s in c.settings if settings_info[s]["kind"] == "image-cs"]
    psnr_rows = [
        [model, *(cell(results[s][model], "psnr_db") if model in results[s] else "" for s in image_settings)]
        for model in models
        if any("psnr_db" in results[s].get(model, {}) for s in image_settings)
    ]
    verdicts = [
        [
            "searched - LISTA, dB (claim 1: claims.md)",
            *(f"{claim1[s]['gain_db']:+.2f}" if s in claim1 else "" for s in c.settings),
        ]
    ]
    table = markdown_table(headers, table_rows + verdicts)
    sample_rows = [
        [model, *(cell(results[s][model], "nmse_db_sample_mean") if model in results[s] else "" for s in c.settings)]
        for model in models
        if any("nmse_db_sample_mean" in results[s].get(model, {}) for s in c.settings)
    ]
    if sample_rows:
        table += (
            "\n\nThe same, as the mean over test samples of each sample's dB (the Open-L2O figure's NMSE; the table "
            "above is a ratio of sums over the test set); blank where a run predates this record\n\n"
            + markdown_table(headers, sample_rows)
        )
    if image_settings:
        table += "\n\nPSNR dB (natural images)\n\n" + markdown_table(["model", *image_settings], psnr_rows)
    converging = [
        [
            model,
            *(
                f"{results[s][model]['late_gain_db']:.2f} ({steps_cell(results[s][model]['steps'])})"
                if "late_gain_db" in results[s].get(model, {})
                else ""
                for s in c.settings
            ),
        ]
        for model in models
        if any("late_gain_db" in results[s].get(model, {}) for s in c.settings)
    ]
    if converging:
        table += (
            "\n\nConvergence: validation NMSE gained over each run's last 1,000 steps (dB, mean over seeds), "
            "and the steps each seed ran (fewer than the schedule's when the patience ended it)\n\n"
            + markdown_table(headers, converging)
        )
    write_text(out / "table.md", f"test NMSE dB, mean +- sd over training seeds {seeds}\n\n{table}\n")
    plot_table(
        headers,
        table_rows + verdicts,
        out / "table.png",
        f"final-layer test NMSE (dB), mean +- sd over training seeds {seeds}",
    )
    for setting in c.settings:
        curves = {
            model: row["nmse_db_per_layer"] for model, row in results[setting].items() if "nmse_db_per_layer" in row
        }
        plot_nmse_vs_layer(curves, out / f"curves-{setting}.png", f"{setting}: test NMSE per layer (mean over seeds)")

    return headers, table_rows + verdicts
