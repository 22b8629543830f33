"""Faults under the real NNI manager: a trial killed mid-training fails alone and the experiment
goes on; `nnictl stop` then `nnictl resume` keeps every finished trial and continues."""

import signal
import time

from nni_manager import (
    create,
    free_port,
    get,
    listeners,
    nnictl,
    shrunk_config,
    stop,
    trial_metrics,
    trial_processes,
    wait_done,
)

T = 4
SHORT = ["--max-steps", "20", "--eval-every", "10"]
# stage-wise reports each layer as it is trained (about 3 s a layer here): time to kill one mid-way
SLOW = ["--protocol", "stagewise", "--max-steps", "16000", "--eval-every", "100", "--patience", "100000"]


def _running_trial_with_a_result(port: int, other_than: str = "", timeout: float = 120) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for trial_id, trial in trial_metrics(port).items():
            if trial["status"] == "RUNNING" and trial["periodical"] and trial_id != other_than:
                return trial_id
        time.sleep(0.2)
    raise AssertionError("no trial reported a layer in time")


def test_a_killed_trial_fails_and_the_experiment_goes_on(tmp_path):
    port, experiment_id = create(shrunk_config("tpe.yml", tmp_path, trials=3, layers=T, trial_args=SLOW))
    try:
        killed = _running_trial_with_a_result(port)
        processes = trial_processes(killed)
        assert processes, "the running trial's process was not found"
        for process in processes:
            process.send_signal(signal.SIGTERM)  # what `kill PID` or a scheduler sends
        cancelled = _running_trial_with_a_result(port, other_than=killed)
        out = nnictl("trial", "kill", experiment_id, "--trial_id", cancelled)  # NNI's own cancel: SIGINT
        assert out.returncode == 0, out.stdout + out.stderr
        assert wait_done(port)["status"] == "DONE"
        trials = trial_metrics(port)
        assert len(trials) == 3
        assert trials[killed]["status"] == "FAILED" and not trials[killed]["final"]
        assert 1 <= len(trials[killed]["periodical"]) < T
        assert trials[cancelled]["status"] == "USER_CANCELED" and not trials[cancelled]["final"]
        (last,) = [t for i, t in trials.items() if i not in (killed, cancelled)]
        assert last["status"] == "SUCCEEDED" and len(last["final"]) == 1 and len(last["periodical"]) == T
    finally:
        stop(experiment_id)


def test_stop_then_resume_keeps_finished_trials_and_continues(tmp_path):
    port, experiment_id = create(shrunk_config("tpe.yml", tmp_path, trials=3, layers=T, trial_args=SHORT))
    try:
        deadline = time.time() + 120
        while not any(t["status"] == "SUCCEEDED" for t in trial_metrics(port).values()):
            assert time.time() < deadline, "no trial finished in time"
            time.sleep(0.5)
        before = {i: t for i, t in trial_metrics(port).items() if t["status"] == "SUCCEEDED"}
    finally:
        stop(experiment_id)
    assert not listeners(port)

    port = free_port()
    resumed = nnictl("resume", experiment_id, "--port", str(port), "--experiment_dir", str(tmp_path / "nni"))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    try:
        assert get(port, "experiment")["id"] == experiment_id
        assert wait_done(port)["status"] == "DONE"
        after = trial_metrics(port)
        for trial_id, trial in before.items():
            assert after[trial_id]["status"] == "SUCCEEDED" and after[trial_id]["final"] == trial["final"]
        new = [t for i, t in after.items() if i not in before and t["status"] == "SUCCEEDED"]
        assert new and all(len(t["periodical"]) == T for t in new)
        print({i: t["status"] for i, t in after.items()})
    finally:
        stop(experiment_id)
    assert not listeners(port)
