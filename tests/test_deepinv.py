"""deepinv interop (the optional extra, docs/deepinv.md): without deepinv the API says what to
install in one line; with it (its own environment, .venv-deepinv, which ./run.sh test sets up)
deepinv physics -> nni-lista search -> deepinv evaluation runs, and deepinv's scores agree with
nni-lista's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nni_lista import Problem, as_deepinv_reconstructor
from nni_lista.base.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
DEEPINV_PYTHON = REPO / ".venv-deepinv" / "bin" / "python"


def test_without_deepinv_the_api_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "deepinv", None)  # as in an environment without the extra
    with pytest.raises(UsageError, match=r"deepinv is not installed: .*pip install -e '\.\[deepinv\]'"):
        Problem.from_deepinv(object(), (1, 4, 4))
    with pytest.raises(UsageError, match="deepinv is not installed"):
        as_deepinv_reconstructor(None, None)


@pytest.mark.skipif(not DEEPINV_PYTHON.exists(), reason="no .venv-deepinv here: ./run.sh test sets it up (CI does)")
def test_deepinv_physics_to_a_search_to_deepinv_evaluation(tmp_path):
    done = subprocess.run(
        [str(DEEPINV_PYTHON), str(REPO / "tests" / "deepinv_round_trip.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "round_trip.json").read_text())
    assert record["torch"].startswith("2.14.1") and record["problem"] == {"m": 32, "n": 64}
    # the wrapper maps deepinv's measurements to the network and back: deepinv sees nni-lista's test NMSE
    assert record["nmse_db_through_deepinv"] == pytest.approx(record["nmse_db_nni_lista"], abs=0.05)
    # deepinv's own loop scores it, and the searched network beats its no-learning baseline (A^T y)
    scores = record["scores"]
    assert scores["MSE"] < scores["MSE no learning"], scores
