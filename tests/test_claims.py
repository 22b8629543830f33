"""The verdict rules of nni_lista/study/claims.py on hand-made results: each branch of each claim."""

from __future__ import annotations

import pytest

from nni_lista.study.claims import assess, claim1, claim2, claim3, claim4, compare


def row(mean: float, sd: float | None = 0.1) -> dict:
    return {"nmse_db": mean, "nmse_db_std": sd}


def test_compare_needs_the_gain_to_exceed_the_larger_spread():
    assert compare(row(-10.0, 0.1), row(-10.5, 0.3))["verdict"] == "win"
    assert compare(row(-10.0, 0.1), row(-10.2, 0.3))["verdict"] == "within spread"
    assert compare(row(-10.0, 0.4), row(-9.5, 0.1))["verdict"] == "loss"
    assert compare(row(-10.0, None), row(-12.0, None))["verdict"] == "no spread (one seed)"
    assert compare(row(-10.0), row(-10.5))["gain_db"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "searched, word",
    [
        ([-12.0, -13.0], "reproduced"),
        ([-12.0, -10.0], "partly reproduced (1 of 2)"),
        ([-10.05, -9.0], "not reproduced"),
    ],
)
def test_claim1_counts_the_settings_won(searched, word):
    results = {f"s{i}": {"lista": row(-10.0), "searched": row(value)} for i, value in enumerate(searched)}
    assert claim1(results)["verdict"] == word


@pytest.mark.parametrize(
    "others, word",
    [
        ({"relu": -5.0, "identity": -3.0}, "reproduced"),
        ({"relu": -5.0, "firm": -10.05}, "inconclusive"),
        ({"relu": -5.0, "firm": -11.0}, "not reproduced"),
    ],
)
def test_claim2_soft_against_every_other_neuron(others, word):
    uniform = {"soft": row(-10.0), **{name: row(value) for name, value in others.items()}}
    assert claim2(uniform, [])["verdict"] == word
    assert claim2(None, [])["verdict"] == "not tested"


def _pair(p_skips):
    test = lambda p: {"observed": 0.5, "null_p95": 0.3, "p_value": p}  # noqa: E731
    return {"a": "x", "b": "y", "skips": test(p_skips), "neurons": test(0.5)}


@pytest.mark.parametrize(
    "ps, word", [([0.01, 0.02], "reproduced"), ([0.01, 0.2], "partly reproduced (1 of 2)"), ([0.3], "not reproduced")]
)
def test_claim3_every_pair_against_its_null(ps, word):
    assert claim3([_pair(p) for p in ps], {})["verdict"] == word


@pytest.mark.parametrize(
    "graft, randoms, word",
    [
        (-12.0, [-10.5, -10.2], "reproduced"),
        (-12.0, [-10.5, -11.95], "inconclusive"),
        (-9.0, [-9.5], "not reproduced"),
        (-10.05, [-9.0], "inconclusive"),
        (-12.0, [], "inconclusive"),
    ],
)
def test_claim4_needs_the_pattern_to_beat_plain_and_random_grafts(graft, randoms, word):
    dladmm = {
        "plain": row(-10.0),
        "lista-pattern": row(graft),
        **{f"random-graft{i + 1}": row(v) for i, v in enumerate(randoms)},
    }
    assert claim4(dladmm)["verdict"] == word
    assert claim4(None)["verdict"] == "not tested"


def test_the_account_names_every_claim_and_its_verdict():
    summary = {
        "seeds": {"training": [0, 1]},
        "results": {"noiseless": {"lista": row(-10.0), "searched": row(-12.0)}},
        "claims": {
            "2_soft_thresholds": {
                "uniform": {"soft": row(-10.0), "relu": row(-5.0)},
                "enrichment": [],
                "setting": "noiseless",
            },
            "3_consistent_patterns": {"pairs": [_pair(0.01)], "edge_summary": {}},
            "4_transfer_to_dladmm": {"plain": row(-10.0), "lista-pattern": row(-9.0), "random-graft1": row(-9.5)},
        },
    }
    verdicts, account = assess(summary)
    assert [v["verdict"] for v in verdicts.values()] == ["reproduced", "reproduced", "reproduced", "not reproduced"]
    for heading in (
        "## 1. Searched networks beat LISTA: **reproduced**",
        "## 2. Soft thresholds are preferred: **reproduced**",
        "## 3. Searches find consistent skip patterns: **reproduced**",
        "## 4. The pattern transfers to D-LADMM: **not reproduced**",
    ):
        assert heading in account
    line = next(line for line in account.splitlines() if line.startswith("| noiseless"))
    assert [cell.strip() for cell in line.strip("|").split("|")] == [
        "noiseless",
        "-10.00 +- 0.10",
        "-12.00 +- 0.10",
        "+2.00",
        "0.10",
        "win",
        "",
    ]


def test_the_account_says_which_named_architecture_the_searched_network_is():
    searched = {**row(-12.0), "nearest_named": {"name": "dense", "labels_changed": 0, "labels": 121}}
    mutant = {**row(-12.0), "nearest_named": {"name": "dense", "labels_changed": 5, "labels": 121}}
    summary = {
        "seeds": {"training": [0, 1]},
        "results": {"a": {"lista": row(-10.0), "searched": searched}, "b": {"lista": row(-10.0), "searched": mutant}},
        "claims": {"2_soft_thresholds": {}, "3_consistent_patterns": {}, "4_transfer_to_dladmm": None},
    }
    _, account = assess(summary)
    cells = {
        line.split("|")[1].strip(): line.strip("|").split("|")[-1].strip()
        for line in account.splitlines()
        if line.startswith(("| a ", "| b "))
    }
    assert cells == {"a": "`dense`", "b": "`dense` with 5 of 121 labels changed"}
