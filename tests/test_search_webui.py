"""`nni-lista search --port`: a multi-trial NAS experiment on NNI's manager (one process per
trial, not the sequential engine), bound to localhost, files under the run directory; then
`nni-lista view` serves its web UI, where headless Chromium finds every trial."""

import json
import subprocess
import time
from pathlib import Path

from nni_lista.search.webui import ICON_FONT_HOST, overview, show_trials
from nni_manager import ARTIFACTS, BIN, REPO, TINY, free_port, get, listeners, stop, trial_metrics

T = 4


def test_search_runs_on_the_manager_and_its_web_ui_shows_the_trials(tmp_path):
    port, out = free_port(), tmp_path / "run"
    command = [
        str(BIN / "nni-lista"),
        "search",
        "--strategy",
        "random",
        "--space",
        "paper",
        "--layers",
        str(T),
        *TINY,
        "--budget",
        "3",
        "--max-steps",
        "20",
        "--eval-every",
        "10",
        "--port",
        str(port),
        "--out",
        str(out),
    ]
    search = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
    )
    seen = []
    deadline = time.time() + 300
    while search.poll() is None and time.time() < deadline:
        seen += [c.laddr.ip for c in listeners(port)]
        time.sleep(0.5)
    stdout, stderr = search.communicate(timeout=60)
    assert search.returncode == 0, stderr
    assert seen and set(seen) == {"127.0.0.1"}, "the manager must listen on localhost only"
    assert f"NNI web UI: http://127.0.0.1:{port}" in stderr
    assert (
        "architecture 3 of 3: validation NMSE" in stderr and "best so far" in stderr
    )  # each finished trial, as it ends
    assert not listeners(port), "the search stops its manager"

    top = json.loads((out / "top.json").read_text())
    run = top["nni_experiment"]
    assert Path(run["directory"]) == (out / "nni-experiments").resolve()
    assert (Path(run["directory"]) / run["id"] / "db").is_dir()
    assert len(top["top"]) == 3 and all(len(item["intermediates"]) == T for item in top["top"])
    # the anytime record has every trial under the manager too (NNI's engine holds models weakly)
    assert sorted(event["metric"] for event in top["history"]) == sorted(item["metric"] for item in top["top"])

    view_port = free_port()
    view = subprocess.run(
        [str(BIN / "nni-lista"), "view", str(out), "--port", str(view_port)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert view.returncode == 0, view.stderr
    try:
        assert "Gym" not in view.stderr and "not a nn.Module" not in view.stderr, view.stderr
        assert f"http://127.0.0.1:{view_port}" in view.stdout
        assert listeners(view_port) and all(c.laddr.ip == "127.0.0.1" for c in listeners(view_port))
        # the trials ran NNI's entry behind ours, which vets each parameter before NNI decodes it
        assert (
            "-m nni_lista.search.nas_trial -m nni.nas.execution.training_service trial"
            in get(view_port, "experiment")["params"]["trialCommand"]
        )
        name = get(view_port, "experiment")["params"]["experimentName"]
        assert name.startswith(f"nni-lista random on paper, 12x24, T={T}") and "-NMSE dB" in name, name
        trials = trial_metrics(view_port)
        assert len(trials) == 3 and all(
            t["status"] == "SUCCEEDED" and len(t["periodical"]) == T for t in trials.values()
        )
        finals = sorted(t["final"][0]["default"] for t in trials.values())
        assert finals == sorted(float(item["metric"]) for item in top["top"])
        show_trials(f"http://127.0.0.1:{view_port}", list(trials), finals, ARTIFACTS / "webui-nni-lista-search.png")
        # the overview page shows the name, which says what the default metric is and its sign
        page = overview(f"http://127.0.0.1:{view_port}")
        assert "-NMSE dB on validation, higher is better" in page["text"], page["text"][:2000]
        # the icon font comes from Microsoft's CDN, which this machine cannot reach: the font fails, as
        # docs/nni-notes.md says (if it ever loads, the note is wrong and this test says so)
        assert page["icon_fonts"] and "loaded" not in page["icon_fonts"].values(), page["icon_fonts"]
        notes = (REPO / "docs" / "nni-notes.md").read_text()
        assert ICON_FONT_HOST in notes and "Icons in the web UI" in notes
        # a second view of the same experiment would start a manager that nnictl stop cannot end: refused
        again_port = free_port()
        again = subprocess.run(
            [str(BIN / "nni-lista"), "view", str(out), "--port", str(again_port)],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert again.returncode == 2 and "is already served by NNI's manager" in again.stderr, again.stderr
        assert again.stderr.count("\n") == 1, again.stderr  # one line: no gym notice, no NNI import warnings
        assert f"port {view_port}" in again.stderr and not listeners(again_port)
    finally:
        stop(run["id"])
    assert not listeners(view_port)


def test_view_refuses_a_run_without_an_nni_experiment(tmp_path):
    out = subprocess.run([str(BIN / "nni-lista"), "view", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "has no top.json" in out.stderr


def test_port_is_refused_for_one_shot_strategies(tmp_path):
    out = subprocess.run(
        [str(BIN / "nni-lista"), "search", "--strategy", "darts", "--port", "8080", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "port is not allowed with darts" in out.stderr and out.stderr.count("\n") == 1


def test_bad_training_service_files_are_one_line(tmp_path, capsys):
    """--training-service FILE (NNI's experiment config format): checked by NNI's own config
    validation before any work, one line each."""
    import pytest  # noqa: F401
    from nni_lista.cli import main

    repo = Path(__file__).resolve().parents[1]
    cases = {
        "missing.yml": None,
        "empty.yml": "experimentName: x\n",
        "platform.yml": "trainingService: {platform: nope}\n",
        "port.yml": "trainingService: {platform: remote, machineList: [{host: h, user: u, port: abc}]}\n",
    }
    needles = {
        "missing.yml": "does not exist",
        "empty.yml": "has no trainingService",
        "platform.yml": "platform 'nope' in",
        "port.yml": "is not valid: RemoteMachineConfig: type of port ('abc')",
    }
    for name, text in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        assert (
            main(
                [
                    "search",
                    "--strategy",
                    "random",
                    "--port",
                    "8080",
                    "--training-service",
                    str(tmp_path / name),
                    "--out",
                    str(tmp_path / "s"),
                ]
            )
            == 2
        )
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needles[name] in err, err
    # the shipped remote.yml names a key file this machine may not have: NNI's validation says so
    assert (
        main(
            [
                "search",
                "--strategy",
                "random",
                "--training-service",
                str(repo / "strategies" / "remote.yml"),
                "--out",
                str(tmp_path / "s"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("needs --port" in err or "is not valid" in err), err
    assert not (tmp_path / "s").exists()
