"""A researcher's own matrix and data (issue #30, items 1-3): the README's section runs as
written, a partial DCT works like any matrix, and every bad input is one line with exit 2."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import torch

from nni_lista import cli
from nni_lista.base.errors import UsageError
from nni_lista.problem import own_data, problems

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _main(argv: list) -> int:
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code


def _one_line(capsys, argv: list, *needles: str) -> str:
    assert _main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err and err.count("\n") == 0, err
    for needle in needles:
        assert needle in err, err
    return err


def test_the_readme_section_runs_as_written(tmp_path):
    """Each line of the README's "Your own matrix" block, run from a fresh directory."""
    block = re.search(r"## Your own matrix\n.*?```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert block is not None
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)}
    for line in block.group(1).strip().splitlines():
        command = line.replace(".venv/bin/", f"{BIN}/")
        out = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=900, env=env
        )
        assert out.returncode == 0, f"{line}\n{out.stderr[-2000:]}"
    metrics = json.loads((tmp_path / "runs" / "mine-retrain" / "metrics.json").read_text())
    settings = metrics["settings"]
    assert (settings["problem"], settings["m"], settings["n"], settings["source"]) == ("matrix", 64, 128, "A.npy")
    assert settings["problem_file"].endswith("mine.pt") and math.isfinite(metrics["nmse_db"])
    compared = json.loads((tmp_path / "runs" / "mine-compare" / "compare.json").read_text())
    assert set(compared) == {"ista", "lista", "alista"}
    top = json.loads((tmp_path / "runs" / "mine-search" / "top.json").read_text())
    assert top["problem"]["file"].endswith("runs/mine.pt") and top["top"]


def _partial_dct(m: int, n: int, seed: int = 0) -> np.ndarray:
    """m rows, drawn without replacement, of the orthonormal DCT-II matrix of size n."""
    dct = scipy.fft.dct(np.eye(n), norm="ortho", axis=0)
    rows = np.random.default_rng(seed).choice(n, size=m, replace=False)
    return dct[np.sort(rows)]


def test_a_partial_dct_works_and_lista_beats_ista_at_equal_depth(tmp_path, capsys):
    np.save(tmp_path / "dct.npy", _partial_dct(32, 64))
    assert _main(["make-problem", "--matrix", tmp_path / "dct.npy", "--p", "0.1", "--out", tmp_path / "dct.pt"]) == 0
    problem = problems.load(tmp_path / "dct.pt")
    assert problem.kind == "matrix" and (problem.m, problem.n) == (32, 64)
    assert torch.allclose(problem.A.norm(dim=0), torch.ones(64), atol=1e-5)
    out = tmp_path / "cmp"
    argv = [
        "compare",
        "--problem",
        tmp_path / "dct.pt",
        "--models",
        "ista,lista",
        "--layers",
        "5",
        "--protocol",
        "e2e",
        "--max-steps",
        "600",
        "--eval-every",
        "100",
        "--device",
        "cpu",
        "--out",
        out,
    ]
    assert _main(argv) == 0
    ista = json.loads((out / "ista" / "metrics.json").read_text())["nmse_db"]
    lista = json.loads((out / "lista" / "metrics.json").read_text())["nmse_db"]
    assert lista < ista - 3, (lista, ista)


def test_from_python_from_matrix_and_from_arrays():
    import nni_lista

    A = np.random.default_rng(0).standard_normal((12, 24))
    drawn = nni_lista.Problem.from_matrix(A, p=0.2, snr_db=30.0, seed=3, n_val=50, n_test=40)
    again = nni_lista.Problem.from_matrix(torch.from_numpy(A), p=0.2, snr_db=30.0, seed=3, n_val=50, n_test=40)
    assert torch.equal(drawn.val.b, again.val.b) and drawn.test.s.shape == (40, 24)  # same seed, same instance
    codes = np.random.default_rng(1).standard_normal((30, 24)) * (np.random.default_rng(2).random((30, 24)) < 0.2)
    given = nni_lista.Problem.from_arrays(A, codes, codes[:10], codes[10:20], normalise=False)
    assert torch.allclose(given.val.s, torch.from_numpy(codes[:10]).float())
    assert torch.allclose(given.val.b, given.val.s @ given.A.T, atol=1e-5)  # noiseless, the matrix as given
    batch = given.train_batch(8, torch.Generator().manual_seed(0))
    assert batch.s.shape == (8, 24)
    D = np.random.default_rng(3).standard_normal((20, 24))  # A = Phi D with Phi 12 x 20
    with_dictionary = nni_lista.Problem.from_matrix(A[:, :20], dictionary=D, n_val=20, n_test=20)
    assert with_dictionary.val.s.shape == (20, 20) and with_dictionary.n == 24
    assert torch.allclose(with_dictionary.A.norm(dim=0), torch.ones(24), atol=1e-5)
    with pytest.raises(UsageError, match="m = 24 is not allowed"):
        nni_lista.Problem.from_matrix(A.T)


def _save(path: Path, array) -> Path:
    np.save(path, array, allow_pickle=True)  # the object array needs it to be written; it is never read back so
    return path


def _huge_header(path: Path) -> Path:
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    return path


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda d: _save(d / "a.npy", np.ones(5)), "has shape (5,): give a 2-D array"),
        (lambda d: _save(d / "a.npy", np.ones((2, 3, 4))), "give a 2-D array"),
        (lambda d: _save(d / "a.npy", np.ones((10, 5))), "m = 10 is not allowed, it must be at most n = 5"),
        (lambda d: _save(d / "a.npy", np.where(np.eye(4, 8) > 0, np.nan, 1.0)), "NaN or infinite"),
        (lambda d: _save(d / "a.npy", np.where(np.eye(4, 8) > 0, np.inf, 1.0)), "NaN or infinite"),
        (
            lambda d: _save(d / "a.npy", np.hstack([np.ones((4, 3)), np.zeros((4, 1)), np.ones((4, 4))])),
            "column 3 of the operator is all zero",
        ),
        (lambda d: _save(d / "a.npy", np.array([[{"x": 1}, 2]], dtype=object)), "holds object values"),
        (lambda d: _save(d / "a.npy", np.array([["a", "b"]])), "holds <U1 values"),
        (lambda d: _huge_header(d / "a.npy"), "has shape (1000000, 1000000)"),
        (lambda d: (d / "a.txt").write_text("1 2\n3 4") and d / "a.txt", "give a .npy, .npz, .pt file"),
        (lambda d: (torch.save({"A": torch.ones(2, 4)}, d / "a.pt"), d / "a.pt")[1], "holds a dict, not one tensor"),
    ],
)
def test_bad_matrices_are_one_line_and_write_nothing(tmp_path, capsys, make, needle):
    path = make(tmp_path)
    _one_line(capsys, ["make-problem", "--matrix", path, "--out", tmp_path / "p.pt"], needle)
    assert not (tmp_path / "p.pt").exists()


def test_bad_signal_sets_and_options_are_one_line(tmp_path, capsys):
    A = _save(tmp_path / "A.npy", np.random.default_rng(0).standard_normal((6, 12)))
    for name, cols in (("train", 12), ("val", 11), ("test", 12)):
        _save(tmp_path / f"{name}.npy", np.random.default_rng(1).standard_normal((5, cols)))
    out = tmp_path / "p.pt"
    _one_line(
        capsys,
        ["make-problem", "--matrix", A, "--signals", tmp_path, "--out", out],
        "the validation set has rows of length 11, but the problem's are of length 12",
    )
    _one_line(
        capsys,
        ["make-problem", "--matrix", A, "--signals", f"{tmp_path}/train.npy,{tmp_path}/val.npy", "--out", out],
        "give TRAIN,VAL,TEST",
    )
    _one_line(capsys, ["make-problem", "--matrix", A, "--m", "3", "--out", out], "--m do not apply with --matrix")
    _one_line(capsys, ["make-problem", "--signals", tmp_path, "--out", out], "apply only with --matrix")
    _save(tmp_path / "val.npy", np.random.default_rng(1).standard_normal((5, 12)))
    assert _main(["make-problem", "--matrix", A, "--signals", tmp_path, "--snr", "30", "--out", out]) == 0
    problem = problems.load(out)
    assert (
        problem.settings["signals"] == "given"
        and problem.train_pool.shape == (5, 12)
        and math.isclose(problem.snr_db, 30.0)
    )
    own_data.describe(problem)
