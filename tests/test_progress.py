"""Progress bars (tqdm, on stderr, with an ETA) on the long commands when stderr is a terminal,
and none in a pipe or a CI log: train, compare, search (each trial), retrain, latency and study,
run as a user runs them, under a pseudo-terminal and then through a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent
TINY = ["--m", "12", "--n", "24", "--batch", "16"]
#: tqdm's bar with counts and its elapsed<remaining times, e.g. "| 120/300 [00:01<00:02, ...]"
BAR = re.compile(r"\d+/\d+ \[\d\d:\d\d<\d\d:\d\d")
STUDY = {
    "problem": {"m": 12, "n": 24},
    "layers": 3,
    "settings": {"noiseless": {}},
    "baselines": ["ista", "lista"],
    "search": {
        "strategy": "random",
        "space": "paper",
        "budget": 2,
        "top_k": 1,
        "training": {"max_steps": 20, "eval_every": 10},
    },
    "retrain": {"max_steps": 40, "eval_every": 20},
    "training_seeds": [0],
    "consistency": {"seeds": [1], "strategies": ["random"], "null_draws": 10},
    "distributions": {"samples": 2, "spaces": ["lista"], "training": {"max_steps": 10, "eval_every": 10}},
    "dladmm": {"budget": 1, "random_grafts": 1},
    "neurons": {"setting": "noiseless"},
}


def _in_terminal(command: list[str], timeout: float = 300) -> tuple[int, str]:
    """Run ``command`` with stdout and stderr on a pseudo-terminal; (exit code, everything it wrote)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(
        terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0)
    )  # 40 rows, 160 columns, as a window has
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal)
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # the terminal closes when the process (and its children) exit
            break
        if not data:
            break
        chunks.append(data)
    os.close(controller)
    return process.wait(timeout=timeout), b"".join(chunks).decode(errors="replace")


def _commands(tmp: Path) -> dict[str, list[str]]:
    nl = str(BIN / "nni-lista")
    (tmp / "study.yml").write_text(yaml.safe_dump(STUDY))
    return {
        "train": [
            nl,
            "train",
            "--model",
            "lista",
            "--layers",
            "3",
            *TINY,
            "--max-steps",
            "300",
            "--eval-every",
            "50",
            "--protocol",
            "e2e",
            "--out",
            str(tmp / "train"),
        ],
        "compare": [
            nl,
            "compare",
            "--models",
            "ista,lista",
            "--layers",
            "3",
            *TINY,
            "--max-steps",
            "200",
            "--eval-every",
            "50",
            "--protocol",
            "e2e",
            "--out",
            str(tmp / "compare"),
        ],
        "search": [
            nl,
            "search",
            "--strategy",
            "random",
            "--space",
            "paper",
            "--layers",
            "3",
            *TINY,
            "--budget",
            "2",
            "--max-steps",
            "200",
            "--eval-every",
            "50",
            "--protocol",
            "e2e",
            "--retrain-seeds",
            "1",
            "--out",
            str(tmp / "search"),
        ],
        "retrain": [
            nl,
            "retrain",
            "--arch",
            str(tmp / "search" / "best_arch.json"),
            *TINY,
            "--max-steps",
            "200",
            "--eval-every",
            "50",
            "--protocol",
            "e2e",
            "--out",
            str(tmp / "retrain"),
        ],
        "latency": [
            nl,
            "latency",
            "--m",
            "12",
            "--n",
            "24",
            "--layers",
            "2",
            "--repeats",
            "20",
            "--device",
            "cpu",
            "--out",
            str(tmp / "latency.json"),
        ],
        "study": [nl, "study", "--config", str(tmp / "study.yml"), "--device", "cpu", "--out", str(tmp / "study")],
    }


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Each command once on a terminal and once through a pipe (in fresh directories)."""
    found = {}
    for where in ("terminal", "pipe"):
        tmp = tmp_path_factory.mktemp(where)
        for name, command in _commands(tmp).items():
            if where == "terminal":
                code, text = _in_terminal(command)
            else:
                done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
                code, text = done.returncode, done.stdout + done.stderr
            assert code == 0, (where, name, text[-3000:])
            found[where, name] = text
    return found


@pytest.mark.parametrize("name", ["train", "compare", "search", "retrain", "latency", "study"])
def test_a_bar_with_an_eta_on_a_terminal_and_none_in_a_pipe(outputs, name):
    assert BAR.search(outputs["terminal", name]), outputs["terminal", name][-2000:]
    assert not BAR.search(outputs["pipe", name]) and "%|" not in outputs["pipe", name], outputs["pipe", name][-2000:]


def test_train_and_search_write_their_figures(outputs, tmp_path_factory):
    root = tmp_path_factory.getbasetemp()
    for where in ("terminal0", "pipe0"):
        assert (root / where / "train" / "nmse_vs_layer.png").stat().st_size > 1000
        assert (root / where / "search" / "nmse_vs_layer.png").stat().st_size > 1000
        assert (root / where / "search" / "best_arch.png").stat().st_size > 1000
