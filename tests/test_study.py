"""The study pipeline on a tiny config: it runs, resumes after an interruption with the same
numbers, and writes every artefact; bad configs end with one line and exit code 2."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from nni_lista import analysis, cli
from nni_lista.study import Study, StudyConfig

TINY = {
    "problem": {"m": 16, "n": 32},
    "layers": 4,
    "settings": {"noiseless": {}, "images": {"kind": "image-cs", "patch": 4, "atoms": 20, "m": 8}},
    "baselines": ["ista", "lista", "lista-cpss"],
    "search": {"strategy": "random", "space": "paper", "budget": 3, "top_k": 2, "training": {"max_steps": 20, "eval_every": 10}},
    "retrain": {"max_steps": 30, "eval_every": 15},
    "consistency": {"seeds": [1], "strategies": ["evolution"]},
    "distributions": {"samples": 2, "spaces": ["lista", "paper"], "training": {"max_steps": 20, "eval_every": 20}},
    "dladmm": {"budget": 2},
}

ARTEFACTS = ["study.json", "table.md", "table.png", "averaged-architecture.png", "neuron-frequency.png", "consistency.png",
             "consistency-patterns.png", "error-distributions.png", "curves-noiseless.png", "curves-images.png", "config.yml"]


class Interrupt(Exception):
    pass


def _numbers(summary: dict) -> dict:
    return {setting: {model: row["nmse_db"] for model, row in rows.items()} for setting, rows in summary["results"].items()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The tiny study run once through the command line."""
    root = tmp_path_factory.mktemp("study")
    config = root / "tiny.yml"
    config.write_text(yaml.safe_dump(TINY, sort_keys=False))
    out = root / "run"
    assert cli.main(["study", "--config", str(config), "--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    return config, out, json.loads((out / "study.json").read_text())


def test_study_writes_every_artefact(finished):
    config, out, summary = finished
    for name in ARTEFACTS:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    results = summary["results"]
    for setting in TINY["settings"]:
        for model in [*TINY["baselines"], "searched", "searched mean"]:
            assert math.isfinite(results[setting][model]["nmse_db"]), (setting, model)
        assert len(results[setting]["searched"]["nmse_db_per_layer"]) == TINY["layers"]
    for model in ("d-ladmm", "d-ladmm + LISTA pattern", "d-ladmm searched"):
        assert math.isfinite(results["noiseless"][model]["nmse_db"])
    assert "psnr_db" in results["images"]["lista"] and "psnr_db" not in results["noiseless"]["lista"]
    # the searched row is the retrained top-k architecture with the best validation NMSE
    retrained = [json.loads((out / "units" / "retrain" / "noiseless" / f"top{r}.json").read_text())["result"] for r in (1, 2)]
    best = min(retrained, key=lambda r: r["val_nmse_db"])
    assert results["noiseless"]["searched"]["nmse_db"] == best["nmse_db"]
    # the averaged architecture is the skip frequency over the search's top-k
    top = [item["arch"] for item in summary["searches"]["noiseless"]["top"]]
    assert len(top) == 2
    assert summary["patterns"]["noiseless"]["skip_frequency"] == analysis.skip_frequency(top, 4).round(4).tolist()
    # the grafted D-LADMM network carries the averaged LISTA pattern
    grafted = summary["dladmm"]["lista-pattern"]["settings"]["arch"]
    for label, value in grafted.items():
        if "skip_from" in label:
            assert value == ("on" if 2 * sum(a[label] == "on" for a in top) >= len(top) else "off")
    assert all(p["correlation"] is None or -1 <= p["correlation"] <= 1 for p in summary["consistency"]["pairs"])
    assert len(summary["consistency"]["pairs"]) == 3  # random seed 0, random seed 1, evolution seed 0
    assert set(summary["distributions"]["values"]) == {"lista", "paper"}
    table = (out / "table.md").read_text()
    assert "d-ladmm + LISTA pattern" in table and "PSNR dB" in table


def test_study_resumes_with_the_same_numbers(finished, tmp_path, monkeypatch):
    config_path, _, summary = finished
    config = StudyConfig.load(config_path)
    out = tmp_path / "run"
    calls = []
    original = Study.units

    def interrupting(self):
        units = original(self)
        for unit in units:
            if unit.key == "retrain/images/top1":
                work = unit.work

                def stop(work=work):
                    calls.append(1)
                    raise Interrupt
                unit.work = stop
        return units

    monkeypatch.setattr(Study, "units", interrupting)
    with pytest.raises(Interrupt):
        Study(config, out, "cpu", progress=False).run()
    monkeypatch.undo()
    done = sorted(p.relative_to(out) for p in (out / "units").rglob("*.json"))
    assert done and not (out / "study.json").exists()
    stamps = {p: (out / "units" / p.relative_to("units")).stat().st_mtime_ns for p in done}
    resumed = Study(config, out, "cpu", progress=False).run()
    for p, stamp in stamps.items():  # finished units are not redone
        assert (out / "units" / p.relative_to("units")).stat().st_mtime_ns == stamp
    assert _numbers(resumed) == _numbers(summary)


@pytest.mark.parametrize("change, message", [
    ({"search": {"strategy": "nope"}}, "strategy 'nope' is not allowed"),
    ({"settings": {"a": {"snr": "loud"}}}, "snr 'loud' is not allowed"),
    ({"settings": {"a": {"sparsity": 0.2}}}, "unknown key 'sparsity'"),
    ({"retrain": {"max_steps": 0}}, "max-steps 0 is not allowed"),
    ({"dladmm": {"space": "full"}}, "space 'full' is not allowed for the dladmm backbone"),
    ({"colour": "red"}, "unknown key 'colour'"),
])
def test_bad_config_is_one_line_exit_2(tmp_path, capsys, change, message):
    config = tmp_path / "bad.yml"
    config.write_text(yaml.safe_dump({**TINY, **change}, sort_keys=False))
    assert cli.main(["study", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_another_config_does_not_overwrite_a_study(finished, tmp_path, capsys):
    _, out, _ = finished
    other = tmp_path / "other.yml"
    other.write_text(yaml.safe_dump({**TINY, "layers": 5}, sort_keys=False))
    assert cli.main(["study", "--config", str(other), "--out", str(out)]) == 2
    assert "another config" in capsys.readouterr().err
