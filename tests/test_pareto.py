"""`nni-lista pareto`: NMSE against cost over finished searches, with the LISTA family and the
Pareto front (nni_lista/search/pareto.py)."""

from __future__ import annotations

import json

import pytest
import torch

from nni_lista.cli import main
from nni_lista.search.pareto import Point, front
from nni_lista.space.architectures import NAMED_ARCHITECTURES
from nni_lista.space.spaces import LISTASpace
from nni.nas.profiler.pytorch.flops import FlopsProfiler  # noqa: E402  (after NNI's quiet import)

M, N, T = 12, 24, 4
SEARCH = [
    "--m",
    str(M),
    "--n",
    str(N),
    "--layers",
    str(T),
    "--max-steps",
    "20",
    "--eval-every",
    "10",
    "--batch",
    "16",
    "--budget",
    "10",
]


def test_the_front_keeps_exactly_the_undominated_points():
    points = [
        Point("s", str(i), {}, nmse, cost)
        for i, (cost, nmse) in enumerate([(1, -1), (2, -3), (2, -2), (3, -3), (4, -5), (5, -4), (1, -1)])
    ]
    kept = front(points)
    assert [(p.cost, p.nmse_db) for p in kept] == [(1, -1), (2, -3), (4, -5)]
    for p in points:  # every point is on the front or beaten (or tied) by one of it
        assert any(q.cost <= p.cost and q.nmse_db <= p.nmse_db for q in kept)


@pytest.fixture(scope="module")
def searches(tmp_path_factory):
    root = tmp_path_factory.mktemp("pareto")
    assert main(["search", "--strategy", "evolution", *SEARCH, "--out", str(root / "evo")]) == 0
    assert main(["search", "--strategy", "random", "--no-warm-start", *SEARCH, "--out", str(root / "rnd")]) == 0
    return root


def test_pareto_over_two_searches_and_the_family(searches, capsys):
    out = searches / "front.png"
    assert main(["pareto", str(searches / "evo"), str(searches / "rnd"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.with_suffix(".json").read_text())
    distinct = len({json.dumps(p["arch"], sort_keys=True) for p in data["points"]})
    assert out.stat().st_size > 0 and f"({distinct} different networks) on the front" in printed
    family = [p for p in data["points"] if p["source"].startswith("family")]
    assert sorted(p["name"] for p in family) == sorted(NAMED_ARCHITECTURES)
    assert all(p["source"] == "family" for p in family)  # the warm-started evolution scored all eight
    # every point says what it is; a family member is named as itself, in the JSON and the printed table
    titles = {
        "lista": "LISTA",
        "lista-cp": "LISTA-CP",
        "lista-cpss": "LISTA-CPSS",
        "alista": "ALISTA",
        "dense": "dense",
        "alista-at": "ALISTA-AT",
        "aglista": "AGLISTA",
        "hyperlista": "HyperLISTA",
    }
    assert all(p["what"] == f"= {titles[p['name']]}" for p in family)
    assert all(p["what"].startswith("= ") or " changed: " in p["what"] for p in data["points"])
    assert "what it is" in printed and all(p["what"] in printed for p in data["front"])
    assert len(data["points"]) == 10 + 10 + 8
    space = LISTASpace.from_preset("full", M, N, T)
    profiler = FlopsProfiler(space, torch.zeros(1, M))
    for p in data["points"][:4]:
        assert p["cost"] == profiler.profile(p["arch"])  # the FLOPs NNI's profiler counts
    for p in data["points"]:
        assert any(q["cost"] <= p["cost"] and q["nmse_db"] <= p["nmse_db"] for q in data["front"])


def test_a_search_without_the_family_gets_it_trained_with_its_recipe(searches, capsys):
    out = searches / "random-only.png"
    assert main(["pareto", str(searches / "rnd"), "--cost", "params", "--out", str(out)]) == 0
    data = json.loads(out.with_suffix(".json").read_text())
    assert sorted(p["name"] for p in data["points"] if p["source"] == "family (trained here)") == sorted(
        NAMED_ARCHITECTURES
    )
    evo = json.loads((searches / "front.json").read_text())
    scored = {p["name"]: p["nmse_db"] for p in evo["points"] if p["source"] == "family"}
    for p in data["points"]:
        if p["source"] == "family (trained here)":  # the same recipe, seed and problem as the search's own trials
            assert p["nmse_db"] == pytest.approx(scored[p["name"]], abs=1e-5), p["name"]


def test_pareto_errors_are_one_line(searches, tmp_path, capsys):
    assert (
        main(
            [
                "search",
                "--strategy",
                "random",
                *SEARCH[:-2],
                "--budget",
                "2",
                "--m",
                "14",
                "--out",
                str(tmp_path / "other"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    for argv, needle in [
        ([str(tmp_path)], "has no top.json"),
        ([str(searches / "evo"), str(tmp_path / "other")], "differ in their problem"),
        ([str(searches / "evo"), "--out", str(tmp_path / "f.txt")], "give a .png file"),
    ]:
        if "--out" not in argv:
            argv = [*argv, "--out", str(tmp_path / "f.png")]
        assert main(["pareto", *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "f.png").exists()
