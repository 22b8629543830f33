"""The verdict on each of the paper's four claims, from a study's ``study.json``, with the rule
that gives it (written to ``DIR/claims.md``).

A comparison of two trained models (mean test NMSE over the training seeds) is a **win** for the
candidate when it gains more than the larger of the two seed spreads, a **loss** when it loses
more than that, otherwise **within spread** (:func:`compare`). The verdicts:

1. *Searched networks beat LISTA*, counted only where the search added something beyond its
   starting points (:func:`claim1`): per setting, the searched network's gain over LISTA, over the
   best family member (chosen on validation) and over its nearest warm-start seed (the named
   architecture it is closest to), each paired over the training seeds with a 95 % Student-t
   interval. A setting is a **win** when the intervals over LISTA and over the seed lie above 0;
   a searched network that *is* a seed added nothing. **Reproduced** when every setting is won,
   **not reproduced** when none is, else **partly reproduced** (k of N).
2. *Soft thresholds are preferred*: LISTA with soft thresholds throughout against LISTA with
   each other neuron type throughout. **Reproduced** when soft beats every other type,
   **not reproduced** when some type beats soft, else **inconclusive**. The neuron frequencies
   among the searches' top architectures (Holm-corrected binomial tests) are reported beside it.
3. *Searches find consistent skip patterns*: the skip-only correlation of the averaged
   architectures of every pair of searches against its null: the null of the pair's own search
   dynamics (the same strategies on a fitness without signal, :mod:`nni_lista.study.power`) when
   the config asks for it, else random top-k sets. **Reproduced** when every pair is above its
   null (its 95th percentile, or p < 5 %), **not reproduced** when none is, else **partly
   reproduced**; when none is and the power to find a pattern as large as the training noise is
   below 0.8, **undecidable at this budget**. The neuron-only correlations and the per-edge tests
   are reported beside it.
4. *The pattern transfers to D-LADMM*: the averaged LISTA skip pattern grafted onto D-LADMM
   (soft thresholds) against plain D-LADMM and against random grafts of equal density.
   **Reproduced** when the graft beats plain D-LADMM and every random graft; **not
   reproduced** when plain D-LADMM beats the graft; otherwise **inconclusive**: within the
   spread of plain D-LADMM, or better than it but not than every random graft (the gain may
   come from density, not the pattern). As in claim 2, a difference within the spread refutes
   nothing.
"""

from __future__ import annotations

from typing import Optional

from nni_lista.base.tables import markdown_table
from nni_lista.models.family import MODELS
from nni_lista.problem.metrics import paired_difference
from nni_lista.study.power import TARGET_POWER

ALPHA = 0.05


def compare(reference: dict, candidate: dict) -> dict:
    """``gain = mean_reference - mean_candidate`` (dB, positive: the candidate is better) against
    ``spread = max(sd_reference, sd_candidate)``: a *win* when ``gain > spread``, a *loss* when
    ``-gain > spread``, otherwise *within spread*; *no spread (one seed)* without replicates."""
    gain = reference["nmse_db"] - candidate["nmse_db"]
    spreads = [s for s in (reference.get("nmse_db_std"), candidate.get("nmse_db_std")) if s is not None]
    spread = max(spreads) if spreads else None
    if spread is None:
        word = "no spread (one seed)"
    else:
        word = "win" if gain > spread else "loss" if -gain > spread else "within spread"
    return {"gain_db": gain, "spread_db": spread, "verdict": word}


def _count_verdict(hits: int, total: int) -> str:
    if total == 0:
        return "not tested"
    if hits == total:
        return "reproduced"
    return "not reproduced" if hits == 0 else f"partly reproduced ({hits} of {total})"


def _gain_over(reference: dict, searched: dict) -> dict:
    """The searched network's paired gain (dB, positive: better) over ``reference``, seed by seed."""
    return paired_difference(reference["nmse_db_seeds"], searched["nmse_db_seeds"])


def _interval_verdict(gains: list[dict]) -> str:
    """*win* when every paired interval lies above 0, *loss* when one lies below, else *within interval*."""
    if any(gain["low"] is None for gain in gains):
        return "no interval (one seed)"
    if all(gain["low"] > 0 for gain in gains):
        return "win"
    return "loss" if any(gain["high"] < 0 for gain in gains) else "within interval"


def what_the_search_added(rows: dict) -> dict:
    """One setting of claim 1: gains over LISTA, over the best learned family member (lowest mean
    validation NMSE) and over the nearest warm-start seed, and the setting's verdict."""
    searched = rows["searched"]
    family = [name for name in rows if name in MODELS and MODELS[name].learned and "nmse_db_seeds" in rows[name]]
    best = min(family, key=lambda name: rows[name]["val_nmse_db"])
    near = searched.get("nearest_named") or {}
    seed = near.get("name")
    over_lista = _gain_over(rows["lista"], searched)
    over_seed: Optional[dict]
    if near.get("labels_changed") == 0:
        over_seed = {"mean": 0.0, "low": 0.0, "high": 0.0, "identical": True}
        verdict = "returned its seed"
    elif seed in rows and "nmse_db_seeds" in rows[seed]:
        over_seed = _gain_over(rows[seed], searched)
        verdict = _interval_verdict([over_lista, over_seed])
    else:
        over_seed, verdict = None, f"undecided (its seed `{seed}` not retrained)"
    return {
        "over_lista": over_lista,
        "best_family": best,
        "over_best_family": _gain_over(rows[best], searched),
        "seed": seed,
        "over_seed": over_seed,
        "verdict": verdict,
    }


def claim1(results: dict) -> dict:
    """Per setting, what the search added (:func:`what_the_search_added`); won settings counted."""
    per_setting = {
        setting: what_the_search_added(rows)
        for setting, rows in results.items()
        if "lista" in rows and "searched" in rows
    }
    wins = sum(v["verdict"] == "win" for v in per_setting.values())
    return {"per_setting": per_setting, "verdict": _count_verdict(wins, len(per_setting))}


def claim2(uniform: Optional[dict], enrichment: list[dict]) -> dict:
    """Soft thresholds throughout against every other neuron type throughout."""
    if not uniform or "soft" not in uniform:
        return {"verdict": "not tested", "versus_soft": {}, "enrichment": enrichment}
    versus = {
        neuron: compare(row, uniform["soft"]) for neuron, row in uniform.items() if neuron != "soft"
    }  # soft as the candidate
    words = [v["verdict"] for v in versus.values()]
    word = "reproduced" if all(w == "win" for w in words) else "not reproduced" if "loss" in words else "inconclusive"
    return {"verdict": word, "soft_versus": versus, "enrichment": enrichment}


#: the planted effect (in units of the training noise) whose power decides whether claim 3 can be tested
REALISTIC_EFFECT = 1.0


def _consistent(pair: dict) -> bool:
    """Above the null of the pair's own search dynamics when there is one, else the uniform null's p < ALPHA."""
    dynamics, skips = pair.get("dynamics"), pair["skips"]
    if dynamics:
        return skips["observed"] is not None and skips["observed"] > dynamics["null_p95"]
    return skips["p_value"] < ALPHA


def claim3(pairs: list[dict], edge_summary: dict) -> dict:
    """Skip-pattern consistency of every pair of searches against its null. With the nulls of the
    searches' own dynamics and their power measured, a claim no pair supports is **undecidable**
    (not "not reproduced") when the power to find a planted pattern as large as the training noise
    (:data:`REALISTIC_EFFECT`) is below :data:`~nni_lista.study.power.TARGET_POWER` for some pair: the test could
    not have seen it."""
    tested = [pair for pair in pairs if pair["skips"].get("p_value") is not None]
    consistent = sum(_consistent(pair) for pair in tested)
    verdict = _count_verdict(consistent, len(tested))
    powers = [
        pair["dynamics"]["power"].get(f"{REALISTIC_EFFECT:g}") for pair in tested if pair.get("dynamics") is not None
    ]
    weak = [p for p in powers if p is not None and p < TARGET_POWER]
    if consistent == 0 and tested and weak:
        verdict = f"undecidable at this budget (power {min(weak):.2f} at effect {REALISTIC_EFFECT:g})"
    return {"verdict": verdict, "pairs": pairs, "edge_summary": edge_summary}


def claim4(dladmm: Optional[dict]) -> dict:
    """The averaged LISTA pattern on D-LADMM against plain D-LADMM and random grafts."""
    if not dladmm or "plain" not in dladmm or "lista-pattern" not in dladmm:
        return {"verdict": "not tested"}
    graft = dladmm["lista-pattern"]
    versus_plain = compare(dladmm["plain"], graft)
    randoms = sorted(name for name in dladmm if isinstance(name, str) and name.startswith("random-graft"))
    versus_random = {name: compare(dladmm[name], graft) for name in randoms}
    if versus_plain["verdict"] == "loss":
        word = "not reproduced"
    elif versus_plain["verdict"] == "win" and randoms and all(v["verdict"] == "win" for v in versus_random.values()):
        word = "reproduced"
    else:
        word = "inconclusive"
    return {"verdict": word, "versus_plain": versus_plain, "versus_random": versus_random}


def _mean(row: dict) -> str:
    spread = row.get("nmse_db_std")
    return f"{row['nmse_db']:.2f}" if spread is None else f"{row['nmse_db']:.2f} +- {spread:.2f}"


def _gain(v: dict) -> list[str]:
    return [f"{v['gain_db']:+.2f}", "" if v["spread_db"] is None else f"{v['spread_db']:.2f}", v["verdict"]]


def _named(row: dict) -> str:
    near = row.get("nearest_named")
    if near is None:
        return ""
    return (
        f"`{near['name']}`"
        if near["labels_changed"] == 0
        else f"`{near['name']}` with {near['labels_changed']} of {near['labels']} labels changed"
    )


def _p(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.3g}"


def assess(summary: dict) -> tuple[dict, str]:
    """The four verdicts from a study summary (``study.json``) and their markdown account (one
    section per claim, :func:`_account_1` to :func:`_account_4`)."""
    results, claims = summary["results"], summary["claims"]
    two, three, four = claims["2_soft_thresholds"], claims["3_consistent_patterns"], claims["4_transfer_to_dladmm"]
    verdicts = {
        "1": claim1(results),
        "2": claim2(two.get("uniform"), two.get("enrichment", [])),
        "3": claim3(three.get("pairs", []), three.get("edge_summary", {})),
        "4": claim4(four),
    }
    seeds = summary["seeds"]["training"]
    lines = [
        f"# The paper's claims, tested ({len(seeds)} training seeds: {seeds})",
        "",
        "Test NMSE in dB, mean +- sd over training seeds; gains in dB (positive: the second model is better), "
        "a *win* only when the gain exceeds the larger seed spread (claim 1: only when paired 95 % intervals lie "
        "above 0). The rules are in `nni_lista/study/claims.py`.",
        "",
    ]
    lines += (
        _account_1(verdicts["1"], results)
        + _account_2(verdicts["2"], two)
        + _account_3(verdicts["3"])
        + _account_4(verdicts["4"], four)
    )
    return verdicts, "\n".join(lines) + "\n"


def _interval(gain: Optional[dict]) -> str:
    if gain is None:
        return "not retrained"
    if gain.get("identical"):
        return "0 (it is the seed)"
    if gain["low"] is None:
        return f"{gain['mean']:+.2f} (one seed)"
    return f"{gain['mean']:+.2f} [{gain['low']:+.2f}, {gain['high']:+.2f}]"


def _account_1(one: dict, results: dict) -> list[str]:
    lines: list[str] = []
    lines += [f"## 1. Searched networks beat LISTA: **{one['verdict']}**", ""]
    lines.append(
        markdown_table(
            [
                "setting",
                "LISTA",
                "best family member",
                "searched",
                "searched network",
                "gain over LISTA",
                "over the best member",
                "over its seed",
                "verdict",
            ],
            [
                [
                    s,
                    _mean(results[s]["lista"]),
                    f"{v['best_family']} {_mean(results[s][v['best_family']])}",
                    _mean(results[s]["searched"]),
                    _named(results[s]["searched"]),
                    _interval(v["over_lista"]),
                    _interval(v["over_best_family"]),
                    _interval(v["over_seed"]),
                    v["verdict"],
                ]
                for s, v in one["per_setting"].items()
            ],
        )
    )
    lines += [
        "",
        "Gains in dB (positive: the searched network is better), paired over the training seeds, with their 95 % "
        "Student-t interval. *Best family member*: the learned family member with the lowest mean validation NMSE. "
        "*Searched network*: the named architecture (LISTA family or `dense`, every skip on) nearest to the retrained "
        "architecture, and how many of its labels differ; every named architecture the space holds is a starting "
        "point (warm-start seed) of the searches, so a network with no label changed is a seed handed back. A setting "
        "is a *win* only when the intervals over LISTA and over its seed lie above 0.",
        "",
    ]

    return lines


def _account_2(two_v: dict, two: dict) -> list[str]:
    lines: list[str] = []
    lines += [f"## 2. Soft thresholds are preferred: **{two_v['verdict']}**", ""]
    if two_v["verdict"] != "not tested":
        uniform = two["uniform"]
        lines += [f"LISTA with one neuron type throughout ({two.get('setting')}); soft thresholds against each:", ""]
        lines.append(
            markdown_table(
                ["neuron throughout", "test NMSE", "soft's gain over it", "spread", "verdict for soft"],
                [["soft", _mean(uniform["soft"]), "", "", ""]]
                + [[neuron, _mean(uniform[neuron]), *_gain(v)] for neuron, v in two_v["soft_versus"].items()],
            )
        )
        lines.append("")
    enrichment = two.get("enrichment", [])
    if enrichment:
        lines += [
            f"Neuron types among the searches' top architectures ({two.get('top_k')} architectures) against the "
            f"{two.get('population')} architectures they evaluated (layer slots pooled; two-sided binomial test, "
            "Holm-corrected):",
            "",
        ]
        lines.append(
            markdown_table(
                ["neuron", "top frequency", "evaluated frequency", "ratio", "p (Holm)"],
                [
                    [
                        r["neuron"],
                        "" if r["top_frequency"] is None else f"{r['top_frequency']:.3f}",
                        "" if r["population_frequency"] is None else f"{r['population_frequency']:.3f}",
                        "" if r["ratio"] is None else f"{r['ratio']:.2f}",
                        _p(r["p_holm"]),
                    ]
                    for r in enrichment
                ],
            )
        )
        lines.append("")

    return lines


def _account_3(three_v: dict) -> list[str]:
    lines: list[str] = []
    lines += [f"## 3. Searches find consistent skip patterns: **{three_v['verdict']}**", ""]
    if three_v["pairs"]:
        dynamics = any(pair.get("dynamics") for pair in three_v["pairs"])
        extra = ["search-dynamics null p95", f"power at effect {REALISTIC_EFFECT:g}"] if dynamics else []
        lines.append(
            markdown_table(
                ["search A", "search B", "skip r", "null p95", "p", *extra, "neuron r", "null p95", "p"],
                [
                    [
                        pair["a"],
                        pair["b"],
                        *_correlation_cells(pair["skips"]),
                        *(_dynamics_cells(pair.get("dynamics")) if dynamics else []),
                        *_correlation_cells(pair["neurons"]),
                    ]
                    for pair in three_v["pairs"]
                ],
            )
        )
        lines.append("")
        if dynamics:
            lines += [
                "*Search-dynamics null*: the 95th percentile of the skip correlation of the same two strategies, "
                "cold, at the study's space, budget and top-k, on a fitness without signal (nothing trained; "
                "`nni_lista/study/power.py`); a pair is consistent above it. *Power*: the share of such pairs that "
                f"exceed it when a third of the skips is planted with an effect of {REALISTIC_EFFECT:g} (as large as "
                "the training noise).",
                "",
            ]
    edges = three_v["edge_summary"]
    if edges:
        lines += [
            f"Per skip edge, the pooled top architectures ({edges['n']}) against the rate among the evaluated ones: "
            f"{edges['significant_holm']} of {edges['edges']} edges differ after Holm's correction "
            f"({edges['more_often']} more often, {edges['less_often']} less often; {edges['significant']} before "
            "correction).",
            "",
        ]

    return lines


def _correlation_cells(test: dict) -> list[str]:
    return [
        "" if test["observed"] is None else f"{test['observed']:.2f}",
        "" if test["null_p95"] is None else f"{test['null_p95']:.2f}",
        _p(test["p_value"]),
    ]


def _dynamics_cells(dynamics: Optional[dict]) -> list[str]:
    if not dynamics:
        return ["", ""]
    power = dynamics["power"].get(f"{REALISTIC_EFFECT:g}")
    return [f"{dynamics['null_p95']:.2f}", "" if power is None else f"{power:.2f}"]


def _account_4(four_v: dict, four: dict) -> list[str]:
    lines: list[str] = []
    lines += [f"## 4. The pattern transfers to D-LADMM: **{four_v['verdict']}**", ""]
    if four_v["verdict"] != "not tested":
        rows = [
            [name, _mean(four[name]), *_gain(v)]
            for name, v in [("plain", four_v["versus_plain"]), *four_v["versus_random"].items()]
        ]
        rows.append(["lista-pattern", _mean(four["lista-pattern"]), "", "", ""])
        lines.append(
            markdown_table(
                ["D-LADMM", "test NMSE", "the LISTA pattern's gain over it", "spread", "verdict for the pattern"], rows
            )
        )
        lines.append("")
        if "searched" in four:
            searched = compare(four["plain"], four["searched"])
            lines += [
                f"D-LADMM searched directly: {_mean(four['searched'])} dB, {searched['gain_db']:+.2f} dB over plain "
                f"({searched['verdict']}).",
                "",
            ]
    return lines
