"""`nni-lista export` and `LISTASpace.load_searched_model(path)` (issue #32 item 3): the network
a search found, with its retrained weights, in one file, loaded back to the same test NMSE."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

from nni_lista import cli
from nni_lista.base.errors import UsageError
from nni_lista.problem.problems import resolve_problem
from nni_lista.space.spaces import LISTASpace
from nni_lista.train.evaluation import evaluate

SMALL = [
    "--m",
    "16",
    "--n",
    "32",
    "--layers",
    "3",
    "--max-steps",
    "40",
    "--eval-every",
    "20",
    "--batch",
    "32",
    "--device",
    "cpu",
]


def _main(argv: list) -> int:
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "run"
    assert _main(["search", "--strategy", "random", "--budget", 3, *SMALL, "--out", out]) == 0
    return out


def test_an_exported_network_tests_as_the_search_recorded(search, tmp_path, capsys):
    path = tmp_path / "found.pt"
    assert _main(["export", "--from", search, "--out", path]) == 0
    assert "wrote" in capsys.readouterr().out
    model = LISTASpace.load_searched_model(path)
    top = json.loads((search / "top.json").read_text())
    problem = resolve_problem(top["problem"])
    assert not model.training
    assert abs(evaluate(model, problem)["nmse_db"] - top["retrained"]["searched"]["nmse_db"]) < 1e-4
    assert model.arch == top["retrained"]["searched"]["settings"]["arch"]
    estimates = model(problem.test.b[:5])
    assert len(estimates) == 3 and estimates[-1].shape == (5, 32)


def test_export_refuses_a_directory_without_a_search(tmp_path, capsys):
    assert _main(["export", "--from", tmp_path, "--out", tmp_path / "x.pt"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "has no top.json" in err
    assert not (tmp_path / "x.pt").exists()


def test_export_refuses_a_retraining_that_did_not_finish(search, tmp_path, capsys):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(search, copy)
    checkpoint = copy / "retrain" / "searched" / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=True)
    torch.save({**state, "finished": False}, checkpoint)
    assert _main(["export", "--from", copy, "--out", tmp_path / "x.pt"]) == 2
    assert "not a finished retraining" in capsys.readouterr().err
    checkpoint.unlink()
    assert _main(["export", "--from", copy, "--out", tmp_path / "x.pt"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


class _Touch:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_hostile_network_files_are_refused_in_one_line(search, tmp_path):
    good = tmp_path / "good.pt"
    assert _main(["export", "--from", search, "--out", good]) == 0
    record = torch.load(good, weights_only=True)
    cases = {
        "random.pt": os.urandom(2048),
        "pickle.pt": pickle.dumps(_Touch(tmp_path / "pwned")),
        "folder.pt": None,
    }
    for name, data in cases.items():
        if data is None:
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_bytes(data)
    bent = {**record, "state_dict": {k: v[..., :1] if v.dim() else v for k, v in record["state_dict"].items()}}
    torch.save(bent, tmp_path / "bent.pt")
    torch.save({**record, "layers": 100_000}, tmp_path / "deep.pt")
    torch.save({**record, "A": record["A"] * float("nan")}, tmp_path / "nan.pt")
    torch.save({**record, "format": "other"}, tmp_path / "other.pt")
    for name in [*cases, "bent.pt", "deep.pt", "nan.pt", "other.pt", "missing.pt"]:
        with pytest.raises(UsageError) as caught:
            LISTASpace.load_searched_model(tmp_path / name)
        assert "\n" not in str(caught.value) and name in str(caught.value), (name, caught.value)
    assert not (tmp_path / "pwned").exists()
