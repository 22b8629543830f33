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


def seeded(values: list[float], nearest: str = "lista", changed: int = 3, val: float | None = None) -> dict:
    mean = sum(values) / len(values)
    return {
        "nmse_db": mean,
        "nmse_db_std": 0.1,
        "nmse_db_seeds": values,
        "val_nmse_db": mean if val is None else val,
        "nearest_named": {"name": nearest, "labels_changed": changed, "labels": 40},
    }


def setting(searched: list[float], nearest: str = "lista", changed: int = 3) -> dict:
    return {
        "lista": seeded([-10.0, -10.2, -10.1]),
        "alista": seeded([-11.0, -11.1, -11.2]),
        "searched": seeded(searched, nearest, changed),
    }


@pytest.mark.parametrize(
    "searched, word",
    [
        ([[-12.0, -12.3, -12.1], [-13.0, -13.1, -13.3]], "reproduced"),
        ([[-12.0, -12.3, -12.1], [-10.0, -10.3, -10.1]], "partly reproduced (1 of 2)"),
        ([[-10.0, -10.3, -10.0], [-9.0, -9.1, -9.2]], "not reproduced"),
    ],
)
def test_claim1_counts_the_settings_where_the_search_added_something(searched, word):
    results = {f"s{i}": setting(values) for i, values in enumerate(searched)}
    assert claim1(results)["verdict"] == word


def test_claim1_pairs_over_seeds_and_picks_the_best_family_member_on_validation():
    results = {"s": setting([-12.0, -12.3, -12.1])}
    results["s"]["lista-cp"] = seeded([-20.0, -20.0, -20.0], val=-5.0)  # best on test, worst on validation
    one = claim1(results)["per_setting"]["s"]
    assert one["best_family"] == "alista"
    assert one["over_lista"]["mean"] == pytest.approx(2.0333, abs=1e-3)  # paired: (2.0 + 2.1 + 2.0) / 3
    assert one["over_lista"]["low"] > 0
    assert one["over_best_family"]["mean"] == pytest.approx(1.0333, abs=1e-3)
    assert one["over_seed"]["mean"] == pytest.approx(one["over_lista"]["mean"])  # its nearest seed is LISTA
    assert one["verdict"] == "win"


def test_claim1_a_searched_network_that_is_its_seed_added_nothing():
    results = {"s": setting([-15.0, -15.2, -15.1], nearest="dense", changed=0)}
    one = claim1(results)["per_setting"]["s"]
    assert one["over_lista"]["low"] > 0  # it beats LISTA, but the search handed back its starting point
    assert one["over_seed"]["mean"] == 0.0 and one["verdict"] == "returned its seed"
    assert claim1(results)["verdict"] == "not reproduced"


def test_claim1_cannot_decide_without_the_nearest_seed_retrained_or_within_the_interval():
    undecided = claim1({"s": setting([-15.0, -15.2, -15.1], nearest="dense", changed=5)})["per_setting"]["s"]
    assert undecided["over_seed"] is None and undecided["verdict"] == "undecided (its seed `dense` not retrained)"
    noisy = claim1({"s": setting([-9.0, -11.4, -10.0])})["per_setting"]["s"]
    assert noisy["over_seed"]["low"] < 0 < noisy["over_seed"]["high"] and noisy["verdict"] == "within interval"


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
        "results": {"noiseless": setting([-12.0, -12.3, -12.1])},
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
        "-10.10 +- 0.10",
        "alista -11.10 +- 0.10",
        "-12.13 +- 0.10",
        "`lista` with 3 of 40 labels changed",
        "+2.03 [+1.89, +2.18]",
        "+1.03 [+0.65, +1.41]",  # differences 1.0, 1.2, 0.9: sd 0.153, t(0.975, 2) = 4.30
        "+2.03 [+1.89, +2.18]",
        "win",
    ]


def test_the_account_says_which_named_architecture_the_searched_network_is():
    summary = {
        "seeds": {"training": [0, 1]},
        "results": {"a": setting([-12.0, -12.1, -12.2], "dense", 0), "b": setting([-12.0, -12.1, -12.2], "dense", 5)},
        "claims": {"2_soft_thresholds": {}, "3_consistent_patterns": {}, "4_transfer_to_dladmm": None},
    }
    _, account = assess(summary)
    cells = {
        line.split("|")[1].strip(): [cell.strip() for cell in line.strip("|").split("|")][4:]
        for line in account.splitlines()
        if line.startswith(("| a ", "| b "))
    }
    assert cells["a"][0] == "`dense`" and cells["a"][-2:] == ["0 (it is the seed)", "returned its seed"]
    assert cells["b"][0] == "`dense` with 5 of 40 labels changed"
    assert cells["b"][-2:] == ["not retrained", "undecided (its seed `dense` not retrained)"]


def _dynamic_pair(observed: float, null_p95: float, power: float) -> dict:
    pair = _pair(0.5)  # the uniform null says nothing here: the search-dynamics null decides
    pair["skips"]["observed"] = observed
    pair["dynamics"] = {"null_p95": null_p95, "power": {"1": power, "2": 1.0}}
    return pair


def test_claim3_uses_the_null_of_the_searches_own_dynamics_when_it_is_there():
    assert claim3([_dynamic_pair(0.6, 0.5, 0.9)], {})["verdict"] == "reproduced"
    assert claim3([_dynamic_pair(0.4, 0.5, 0.9)], {})["verdict"] == "not reproduced"


def test_claim3_without_power_is_undecidable_not_refuted():
    three = claim3([_dynamic_pair(0.4, 0.5, 0.9), _dynamic_pair(0.1, 0.6, 0.2)], {})
    assert three["verdict"] == "undecidable at this budget (power 0.20 at effect 1)"
    _, account = assess(
        {
            "seeds": {"training": [0, 1]},
            "results": {},
            "claims": {
                "2_soft_thresholds": {},
                "3_consistent_patterns": {"pairs": [_dynamic_pair(0.1, 0.6, 0.2)], "edge_summary": {}},
                "4_transfer_to_dladmm": None,
            },
        }
    )
    row = next(line for line in account.splitlines() if line.startswith("| x "))
    assert [cell.strip() for cell in row.strip("|").split("|")][5:7] == ["0.60", "0.20"]
