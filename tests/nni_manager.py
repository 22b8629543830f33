"""Helpers for tests that run the real NNI manager: start an experiment with `nnictl create`,
read NNI's REST API, find trial processes, drive the web UI in headless Chromium, stop."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

from nni_lista.search.manager import rest as get, trials as trial_metrics  # noqa: F401  (used by the tests)

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ARTIFACTS = Path(os.environ.get("NNI_LISTA_ARTIFACTS", REPO / "test-artifacts"))
LOCAL = {**os.environ, "NODE_OPTIONS": f"--require={REPO / 'nni_lista' / 'localhost.js'}"}
TINY = ["--m", "12", "--n", "24", "--batch", "16"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listeners(port: int):
    return [c for c in psutil.net_connections(kind="tcp") if c.status == "LISTEN" and c.laddr.port == port]


def shrunk_config(
    name: str,
    tmp_path: Path,
    trials: int,
    layers: int,
    trial_args: list[str],
    search_space: Path | None = None,
    concurrency: int | None = None,
) -> Path:
    """strategies/NAME with its trial shrunk to a tiny problem, written under tmp_path
    (``concurrency``: trials at once, else the file's own)."""
    config = yaml.safe_load((REPO / "strategies" / name).read_text())
    command = shlex.split(config["trialCommand"])
    if command[0].startswith(".venv/"):
        command[0] = str(BIN / "nni-lista")
    command[command.index("--layers") + 1] = str(layers)
    command += TINY + trial_args
    space = search_space or REPO / "search_spaces" / f"{command[command.index('--space') + 1]}-{layers}.json"
    config.update(
        searchSpaceFile=str(space),
        trialCodeDirectory=str(REPO),
        trialCommand=shlex.join(command),
        maxTrialNumber=trials,
        experimentWorkingDirectory=str(tmp_path / "nni"),
    )
    if concurrency is not None:
        config["trialConcurrency"] = concurrency
    for algorithm in ("tuner", "assessor"):
        if "codeDirectory" in config.get(algorithm, {}):
            config[algorithm]["codeDirectory"] = str(REPO)
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def nnictl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "nnictl"), *args],
        capture_output=True,
        text=True,
        env=LOCAL,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def create(config: Path) -> tuple[int, str]:
    """`nnictl create` on localhost; returns (port, experiment id)."""
    port = free_port()
    out = nnictl("create", "--config", str(config), "--port", str(port))
    assert out.returncode == 0, out.stdout + out.stderr
    return port, get(port, "experiment")["id"]


def stop(experiment_id: str) -> None:
    """``nnictl stop``, then end by PID the manager of this experiment if it is still running: when
    two managers start at once, NNI's shared experiment registry can be locked ("File has been
    locked" in nnimanager.log), the experiment is never registered, and nnictl cannot find it."""
    nnictl("stop", experiment_id, timeout=60)
    left = [
        p
        for p in psutil.process_iter(["cmdline"])
        if experiment_id in (p.info["cmdline"] or []) and "--experiment-id" in (p.info["cmdline"] or [])
    ]
    for process in left:
        process.terminate()
    _, alive = psutil.wait_procs(left, timeout=10)
    for process in alive:
        process.kill()


def wait_status(port: int, done, timeout: float = 300, every: float = 1.0):
    """Poll until ``done(check_status)`` is true; returns the last status."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = get(port, "check-status")
        if done(status):
            return status
        time.sleep(every)
    raise AssertionError(f"experiment did not reach the wanted state in {timeout} s: {status}")


def wait_done(port: int, timeout: float = 300) -> dict:
    return wait_status(port, lambda s: s["status"] in ("DONE", "ERROR", "STOPPED"), timeout)


def trial_processes(trial_id: str) -> list[psutil.Process]:
    """The `nni-lista trial` processes of one trial (children of a manager this test started)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "trial" in (process.info["cmdline"] or []) and process.environ().get("NNI_TRIAL_JOB_ID") == trial_id:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found
