"""`nnictl create` with the real NNI manager: our trial entry, per-layer intermediate results,
final metrics, localhost-only binding, and a stop that leaves nothing running."""

import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
T = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/nni/{path}", timeout=10) as response:
        return json.loads(response.read())


def _experiment(tmp_path: Path, search_space: Path, trials: int):
    """Start `nnictl create` on strategies/tpe.yml, shrunk to a tiny problem; yields (port, id)."""
    config = yaml.safe_load((REPO / "strategies" / "tpe.yml").read_text())
    command = shlex.split(config["trialCommand"])
    command[0] = str(BIN / "nni-lista")
    command[command.index("--layers") + 1] = str(T)
    command += ["--m", "12", "--n", "24", "--max-steps", "20", "--eval-every", "10", "--batch", "16"]
    config.update(searchSpaceFile=str(search_space), trialCodeDirectory=str(REPO), trialCommand=shlex.join(command),
                  maxTrialNumber=trials, experimentWorkingDirectory=str(tmp_path / "nni"))
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    port = _free_port()
    env = {**os.environ, "NODE_OPTIONS": f"--require={REPO / 'nni_lista' / 'localhost.js'}"}
    out = subprocess.run([str(BIN / "nnictl"), "create", "--config", str(path), "--port", str(port)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    experiment_id = _get(port, "experiment")["id"]
    return port, experiment_id


def _stop(experiment_id: str) -> None:
    subprocess.run([str(BIN / "nnictl"), "stop", experiment_id], capture_output=True, timeout=60)


def _wait_done(port: int, timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = _get(port, "check-status")
        if status["status"] in ("DONE", "ERROR", "STOPPED"):
            return status
        time.sleep(2)
    raise AssertionError("experiment did not finish in time")


def _listeners(port: int):
    return [c for c in psutil.net_connections(kind="tcp") if c.status == "LISTEN" and c.laddr.port == port]


def test_tpe_config_paths_resolve_from_the_repo_root():
    config = yaml.safe_load((REPO / "strategies" / "tpe.yml").read_text())
    base = REPO / "strategies"
    assert (base / config["searchSpaceFile"]).resolve().is_file()
    assert (base / config["trialCodeDirectory"]).resolve() == REPO
    assert config["tuner"] == {"name": "TPE", "classArgs": {"optimize_mode": "maximize"}}


def test_nnictl_experiment_runs_trials_with_per_layer_results(tmp_path):
    port, experiment_id = _experiment(tmp_path, REPO / "search_spaces" / "paper-4.json", trials=3)
    try:
        assert _listeners(port) and all(c.laddr.ip == "127.0.0.1" for c in _listeners(port))
        assert _wait_done(port)["status"] == "DONE"
        jobs = _get(port, "trial-jobs")
        metrics = _get(port, "metric-data")
        assert len(jobs) == 3 and all(job["status"] == "SUCCEEDED" for job in jobs)
        for job in jobs:
            mine = [m for m in metrics if m["trialJobId"] == job["trialJobId"]]
            assert sum(m["type"] == "PERIODICAL" for m in mine) == T
            final = [json.loads(json.loads(m["data"])) for m in mine if m["type"] == "FINAL"]
            assert len(final) == 1 and final[0]["default"] == -final[0]["val_nmse_db"]
        written = list((tmp_path / "nni").rglob("metrics.json"))
        assert len(written) == 3
        assert all(len(json.loads(p.read_text())["nmse_db_per_layer"]) == T for p in written)
    finally:
        _stop(experiment_id)
    assert not _listeners(port)


def test_parameters_outside_the_space_fail_the_trial_not_the_experiment(tmp_path):
    space = json.loads((REPO / "search_spaces" / "paper-4.json").read_text())
    space["layer2/colour"] = {"_type": "choice", "_value": ["red"]}
    (tmp_path / "bad_space.json").write_text(json.dumps(space))
    port, experiment_id = _experiment(tmp_path, tmp_path / "bad_space.json", trials=2)
    try:
        assert _wait_done(port)["status"] == "DONE"
        jobs = _get(port, "trial-jobs")
        assert len(jobs) == 2 and all(job["status"] == "FAILED" for job in jobs)
        stderr = list((tmp_path / "nni").rglob("trial.stderr"))
        assert any("unknown label 'layer2/colour': not a label of the paper space with 4 layers" in p.read_text() for p in stderr)
    finally:
        _stop(experiment_id)
