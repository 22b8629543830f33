"""`nni-lista search --port`: a multi-trial NAS experiment on NNI's manager (one process per
trial, not the sequential engine), bound to localhost, files under the run directory; then
`nni-lista view` serves its web UI, where headless Chromium finds every trial."""

import json
import subprocess
import time
from pathlib import Path

from nni_lista.search.webui import show_trials
from nni_manager import ARTIFACTS, BIN, TINY, free_port, get, listeners, stop, trial_metrics

T = 4


def test_search_runs_on_the_manager_and_its_web_ui_shows_the_trials(tmp_path):
    port, out = free_port(), tmp_path / "run"
    command = [str(BIN / "nni-lista"), "search", "--strategy", "random", "--space", "paper", "--layers", str(T), *TINY,
               "--budget", "3", "--max-steps", "20", "--eval-every", "10", "--port", str(port), "--out", str(out)]
    search = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    seen = []
    deadline = time.time() + 300
    while search.poll() is None and time.time() < deadline:
        seen += [c.laddr.ip for c in listeners(port)]
        time.sleep(0.5)
    stdout, stderr = search.communicate(timeout=60)
    assert search.returncode == 0, stderr
    assert seen and set(seen) == {"127.0.0.1"}, "the manager must listen on localhost only"
    assert f"NNI web UI: http://127.0.0.1:{port}" in stderr
    assert not listeners(port), "the search stops its manager"

    top = json.loads((out / "top.json").read_text())
    run = top["nni_experiment"]
    assert Path(run["directory"]) == (out / "nni-experiments").resolve()
    assert (Path(run["directory"]) / run["id"] / "db").is_dir()
    assert len(top["top"]) == 3 and all(len(item["intermediates"]) == T for item in top["top"])

    view_port = free_port()
    view = subprocess.run([str(BIN / "nni-lista"), "view", str(out), "--port", str(view_port)],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert view.returncode == 0, view.stderr
    try:
        assert f"http://127.0.0.1:{view_port}" in view.stdout
        assert listeners(view_port) and all(c.laddr.ip == "127.0.0.1" for c in listeners(view_port))
        # the trials ran NNI's entry behind ours, which vets each parameter before NNI decodes it
        assert "-m nni_lista.search.nas_trial -m nni.nas.execution.training_service trial" in get(view_port, "experiment")["params"]["trialCommand"]
        trials = trial_metrics(view_port)
        assert len(trials) == 3 and all(t["status"] == "SUCCEEDED" and len(t["periodical"]) == T for t in trials.values())
        finals = sorted(t["final"][0]["default"] for t in trials.values())
        assert finals == sorted(float(item["metric"]) for item in top["top"])
        show_trials(f"http://127.0.0.1:{view_port}", list(trials), finals, ARTIFACTS / "webui-nni-lista-search.png")
    finally:
        stop(run["id"])
    assert not listeners(view_port)


def test_view_refuses_a_run_without_an_nni_experiment(tmp_path):
    out = subprocess.run([str(BIN / "nni-lista"), "view", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "has no top.json" in out.stderr


def test_port_is_refused_for_one_shot_strategies(tmp_path):
    out = subprocess.run([str(BIN / "nni-lista"), "search", "--strategy", "darts", "--port", "8080", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "port is not allowed with darts" in out.stderr and out.stderr.count("\n") == 1
