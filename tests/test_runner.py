"""The study's unit runner: resumable, and shared safely by several processes writing into one
directory (each unit run exactly once, a unit that needs another waits for it)."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import time

import pytest

from nni_lista.base.errors import UsageError
from nni_lista.study import runner
from nni_lista.study.runner import Unit, claim, run_units, unit_result


def _plan(out, log):
    """Six units of about 0.2 s; ``c`` needs ``a`` (like a retraining needs its search), ``f`` needs ``e``."""

    def work(key, needs=None):
        def run():
            with open(log, "a") as f:
                f.write(f"{key} {os.getpid()} {time.monotonic()}\n")
            time.sleep(0.2)
            return {"value": key.upper(), "needed": None if needs is None else unit_result(out, needs)["value"]}

        return run

    return [
        Unit("a", work("a")),
        Unit("b", work("b")),
        Unit("c", work("c", "a"), needs=("a",)),
        Unit("d", work("d")),
        Unit("e", work("e")),
        Unit("f", work("f", "e"), needs=("e",)),
    ]


def _run(out, log):
    run_units(_plan(out, log), out, progress=False)


def test_two_processes_share_the_units_and_each_unit_runs_once(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "POLL_SECONDS", 0.05)
    out, log = tmp_path / "out", tmp_path / "log"
    fork = multiprocessing.get_context("fork")
    workers = [fork.Process(target=_run, args=(out, log)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    runs = [line.split() for line in log.read_text().splitlines()]
    assert sorted(key for key, _, _ in runs) == list("abcdef")  # every unit once
    assert len({pid for _, pid, _ in runs}) == 2  # both processes worked
    when = {key: float(t) for key, _, t in runs}
    assert when["c"] > when["a"] and when["f"] > when["e"]
    assert unit_result(out, "c") == {"value": "C", "needed": "A"} and unit_result(out, "f")["needed"] == "E"
    assert not list((out / "work").rglob("*.lock"))  # claims are released and their files removed


def test_a_process_joining_late_skips_finished_units_and_resumes_nothing_twice(tmp_path):
    out, log = tmp_path / "out", tmp_path / "log"
    _run(out, log)
    stamps = {p: p.stat().st_mtime_ns for p in (out / "units").glob("*.json")}
    _run(out, log)
    assert len(log.read_text().splitlines()) == 6
    assert {p: p.stat().st_mtime_ns for p in (out / "units").glob("*.json")} == stamps


def test_a_unit_may_need_only_earlier_units_of_its_plan(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="unit 'early' needs 'late', which is not an earlier unit of the plan"):
        run_units(
            [Unit("early", lambda: {"v": 1}, needs=("late",)), Unit("late", lambda: {"v": 2})], out, progress=False
        )
    with pytest.raises(UsageError, match="unit 'a' needs 'nowhere'"):
        run_units([Unit("a", lambda: {"v": 1}, needs=("nowhere",))], out, progress=False)
    assert not (out / "units").exists()  # refused before any work


@contextlib.contextmanager
def _held_by_another_process(path):
    """``path`` claimed by a forked process until the block ends."""
    fork = multiprocessing.get_context("fork")
    held, release = fork.Event(), fork.Event()

    def hold():
        with claim(path, wait=True) as mine:
            assert mine
            held.set()
            release.wait(30)

    holder = fork.Process(target=hold)
    holder.start()
    assert held.wait(30)
    try:
        yield
    finally:
        release.set()
        holder.join(30)


def test_a_claim_is_held_by_one_process_and_released_with_it(tmp_path):
    path = tmp_path / "work" / "x.lock"
    with _held_by_another_process(path):
        with claim(path) as mine:
            assert not mine  # another process holds it
    with claim(path) as mine:
        assert mine and path.exists()
    assert not path.exists()


def test_a_claim_dies_with_its_process(tmp_path):
    path = tmp_path / "x.lock"
    fork = multiprocessing.get_context("fork")
    held = fork.Event()

    def hold_and_die():
        with claim(path):
            held.set()
            os._exit(1)  # killed while holding: no release code runs

    holder = fork.Process(target=hold_and_die)
    holder.start()
    assert held.wait(30)
    holder.join(30)
    with claim(path) as mine:
        assert mine


def test_unit_files_are_json_with_key_seconds_and_result(tmp_path):
    out = tmp_path / "out"
    run_units([Unit("group/one", lambda: {"v": 1})], out, progress=False)
    data = json.loads((out / "units" / "group" / "one.json").read_text())
    assert data["key"] == "group/one" and data["result"] == {"v": 1} and data["seconds"] >= 0


def test_a_directory_is_claimed_in_place(tmp_path):
    with _held_by_another_process(tmp_path):
        with claim(tmp_path) as mine:
            assert not mine
    with claim(tmp_path) as mine:
        assert mine
    assert tmp_path.is_dir() and not list(tmp_path.iterdir())  # nothing created, nothing removed
