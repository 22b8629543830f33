"""Bounded work and interrupts (issue #31, items 1-2): a search budget beyond its bound is
refused before any work; a time bound stops a search and keeps what it found; SIGINT and SIGTERM
end a search of every kind with one line saying so, exit 128 + signal, and a rerun of a
multi-trial search replays the architectures it had trained instead of training them again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nni_lista import cli
from nni_lista.base.limits import MAX_BATCHES, MAX_TRIALS
from nni_lista.base.signals import Interrupted, interruptible

SMALL = ["--m", "20", "--n", "40", "--layers", "3", "--eval-every", "50", "--batch", "32", "--device", "cpu"]


def _main(argv: list) -> int:
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(
    "strategy, bound", [("evolution", MAX_TRIALS), ("darts", MAX_BATCHES), ("shared-evolution", MAX_BATCHES)]
)
def test_a_budget_beyond_its_bound_is_refused_before_any_work(tmp_path, capsys, strategy, bound):
    out = tmp_path / "out"
    code = _main(
        ["search", "--strategy", strategy, "--budget", 100_000_000_000, *SMALL, "--max-steps", 20, "--out", out]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0, err
    assert "100000000000" in err and f"{bound:,}" in err, err
    assert not out.exists()


@pytest.mark.parametrize("value", [0, -5, "nan", "inf", 10**9])
def test_a_time_bound_outside_its_range_is_refused(tmp_path, capsys, value):
    code = _main(
        ["search", "--strategy", "random", "--budget", 2, f"--max-seconds={value}", *SMALL, "--out", tmp_path / "o"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "max-seconds" in err, err


def test_max_steps_beyond_its_bound_is_refused(tmp_path, capsys):
    code = _main(["train", "--model", "lista", *SMALL, "--max-steps", 10**12, "--out", tmp_path / "o"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "max-steps" in err and "10,000,000" in err, err


@pytest.mark.parametrize("strategy", ["evolution", "darts", "shared-evolution"])
def test_a_time_bound_stops_the_search_and_keeps_its_results(tmp_path, capsys, strategy):
    """Without the bound these searches would run for hours; with it they stop soon after it.
    How soon (the 10 % of issue #31) is measured by benchmarks/time_bound.py on an idle machine,
    not here: a shared, loaded machine stretches the last architecture and the wrap-up."""
    out, bound = tmp_path / "out", 8.0
    code = _main(
        [
            "search",
            "--strategy",
            strategy,
            "--budget",
            1_000 if strategy == "evolution" else 1_000_000,
            "--max-seconds",
            bound,
            *SMALL,
            "--max-steps",
            30,
            "--out",
            out,
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    top = json.loads((out / "top.json").read_text())
    assert top["time_bound"] == {"max_seconds": bound, "stopped_the_search": True}
    assert top["search_seconds"] < 3 * bound, top["search_seconds"]
    assert (out / "best_arch.json").is_file() and "the time bound (8 s) stopped the search" in printed
    if strategy == "evolution":
        assert 1 <= len(top["history"]) < 1_000


def test_a_search_within_its_time_bound_says_nothing_about_it(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        _main(
            [
                "search",
                "--strategy",
                "random",
                "--budget",
                2,
                "--max-seconds",
                3600,
                *SMALL,
                "--max-steps",
                10,
                "--out",
                out,
            ]
        )
        == 0
    )
    assert json.loads((out / "top.json").read_text())["time_bound"]["stopped_the_search"] is False
    assert "time bound" not in capsys.readouterr().out


def test_interruptible_reports_a_signal_a_library_swallowed():
    with pytest.raises(Interrupted) as caught:
        with interruptible("again"):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)
            except KeyboardInterrupt:
                pass  # what NNI's experiment does with Ctrl-C: return as if finished
    assert caught.value.exit_code == 143 and caught.value.name == "SIGTERM" and caught.value.resume == "again"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))


def _search(out: Path, strategy: str, budget: int, max_steps: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "nni_lista",
        "search",
        "--strategy",
        strategy,
        "--budget",
        str(budget),
        *map(str, SMALL),
        "--max-steps",
        str(max_steps),
        "--out",
        str(out),
    ]


def _interrupt(argv: list[str], ready, signum: int, timeout: float = 120) -> tuple[int, str]:
    """Start ``argv``, wait until ``ready()``, send ``signum``; exit code and stderr."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + timeout
    while not ready():
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.1)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def test_sigint_during_a_multi_trial_search_says_so_and_the_rerun_replays_its_trials(tmp_path):
    out = tmp_path / "out"
    argv = _search(out, "evolution", 6, 3000)
    code, err = _interrupt(argv, lambda: len(list((out / "trials").glob("*.json"))) >= 2, signal.SIGINT)
    last = err.strip().splitlines()[-1]
    assert code == 130, err
    assert last.startswith("nni-lista search: interrupted (SIGINT)") and "replayed" in last, err
    assert not (out / "top.json").exists() and not list(out.rglob(".*.tmp"))
    recorded = len(list((out / "trials").glob("*.json")))
    rerun = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.count("trial replayed from") >= recorded >= 2
    assert len(json.loads((out / "top.json").read_text())["history"]) == 6


@pytest.mark.parametrize("strategy, signum", [("darts", signal.SIGTERM), ("shared-evolution", signal.SIGINT)])
def test_an_interrupted_supernet_search_says_it_starts_over(tmp_path, strategy, signum):
    out = tmp_path / "out"
    started = []

    def training() -> bool:  # search.json is written just before the work starts
        if (out / "search.json").exists() and not started:
            started.append(time.time())
        return bool(started) and time.time() - started[0] > 3

    code, err = _interrupt(_search(out, strategy, 1_000_000, 20), training, signum)
    name = signal.Signals(signum).name
    assert code == 128 + signum, err
    last = err.strip().splitlines()[-1]
    assert (
        last
        == f"nni-lista search: interrupted ({name}); run the same command again: a "
        + ("one-shot" if strategy == "darts" else "weight-sharing")
        + " search starts over"
    ), err
    assert not (out / "top.json").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["search", "--strategy", "evolution", "--budget=100000000000"],
        ["train", "--model", "lista", "--max-steps", "99999999999"],
    ],
)
def test_a_value_past_every_bound_is_refused_before_torch_is_imported(tmp_path, argv):
    """What makes the refusal take well under a second: nothing heavy is imported first."""
    code = (
        "import sys; from nni_lista import cli; "
        f"rc = cli.main({argv + ['--out', str(tmp_path / 'o')]!r}); "
        "assert 'torch' not in sys.modules and 'nni' not in sys.modules, 'imported'; sys.exit(rc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().count("\n") == 0 and "is not allowed" in out.stderr, out.stderr
    assert not (tmp_path / "o").exists()
