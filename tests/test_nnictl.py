"""`nnictl create` with the real NNI manager: every config in strategies/, our trial entry,
per-layer intermediate results, final metrics, the web UI in headless Chromium, localhost-only
binding, and a stop that leaves nothing running."""

import json

import pytest
import yaml

from nni_lista.search.webui import column_choices, show_trials
from nni_manager import ARTIFACTS, REPO, create, get, listeners, shrunk_config, stop, trial_metrics, wait_done

T = 4
SHORT = ["--max-steps", "20", "--eval-every", "10"]
CONFIGS = sorted(p.name for p in (REPO / "strategies").glob("*.yml") if not p.name.endswith(".search.yml"))
LOCAL_CONFIGS = [name for name in CONFIGS if name != "remote.yml"]  # remote.yml: tests/test_remote.py (slow)


def test_every_nnictl_tuner_of_the_issue_has_a_config():
    tuners = {yaml.safe_load((REPO / "strategies" / name).read_text())["tuner"]["className"] for name in CONFIGS}
    assert {
        f"nni_lista.search.tuners.{name}" for name in ("TPE", "Random", "Evolution", "Anneal", "GridSearch")
    } <= tuners
    assert any("assessor" in yaml.safe_load((REPO / "strategies" / name).read_text()) for name in CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_paths_resolve_from_the_repo_root(name):
    config = yaml.safe_load((REPO / "strategies" / name).read_text())
    base = REPO / "strategies"
    assert (base / config["searchSpaceFile"]).resolve().is_file()
    assert (base / config["trialCodeDirectory"]).resolve() == REPO
    local = config["trainingService"]["platform"] == "local"
    assert config["trialCommand"].startswith(".venv/bin/nni-lista trial " if local else "nni-lista trial ")
    for tuner_or_assessor in ("tuner", "assessor"):
        args = config.get(tuner_or_assessor, {}).get("classArgs", {})
        assert args.get("optimize_mode", "maximize") == "maximize"  # the trial reports -NMSE dB


def test_tpe_experiment_runs_trials_with_per_layer_results_and_shows_them_in_the_web_ui(tmp_path):
    port, experiment_id = create(shrunk_config("tpe.yml", tmp_path, trials=3, layers=T, trial_args=SHORT))
    try:
        assert listeners(port) and all(c.laddr.ip == "127.0.0.1" for c in listeners(port))
        assert wait_done(port)["status"] == "DONE"
        trials = trial_metrics(port)
        assert len(trials) == 3 and all(t["status"] == "SUCCEEDED" for t in trials.values())
        for t in trials.values():
            assert len(t["periodical"]) == T
            assert len(t["final"]) == 1 and t["final"][0]["default"] == -t["final"][0]["nmse_db"]
        written = list((tmp_path / "nni").rglob("metrics.json"))
        assert len(written) == 3
        assert all(len(json.loads(p.read_text())["nmse_db_per_layer"]) == T for p in written)
        show_trials(
            f"http://127.0.0.1:{port}",
            list(trials),
            [t["final"][0]["default"] for t in trials.values()],
            ARTIFACTS / "webui-nnictl-tpe.png",
        )
        # every named entry of the dict final metric is a column the web UI offers
        offered = column_choices(f"http://127.0.0.1:{port}", list(trials))
        for name in ("nmse_db", "flops", "params", "latency_ms", "train_seconds"):
            assert f"{name} (metric)" in offered.splitlines(), (name, offered)  # as NNI labels metric columns
        assert not [line for line in offered.splitlines() if "test" in line.lower()], (
            offered
        )  # validation only during a search
    finally:
        stop(experiment_id)
    assert not listeners(port)


@pytest.mark.parametrize(
    "name", [n for n in LOCAL_CONFIGS if n != "tpe.yml" and not n.startswith("tpe-full")]
)  # WarmTPE: below
def test_every_config_runs_two_trials(tmp_path, name):
    layers = yaml.safe_load((REPO / "strategies" / name).read_text())["trialCommand"].split("--layers ")[1].split()[0]
    layers = min(T, int(layers)) if name != "grid.yml" else int(layers)
    # both trials at once: the config's tuner (and assessor) still proposes (and judges) each one
    port, experiment_id = create(
        shrunk_config(name, tmp_path, trials=2, layers=layers, trial_args=SHORT, concurrency=2)
    )
    try:
        assert wait_done(port)["status"] == "DONE"
        trials = trial_metrics(port)
        assert len(trials) == 2
        for t in trials.values():
            assert t["status"] in ("SUCCEEDED", "EARLY_STOPPED") and len(t["periodical"]) >= 1
            assert t["status"] == "EARLY_STOPPED" or len(t["final"]) == 1
    finally:
        stop(experiment_id)


# the failed-trial-goes-on path is in the default run through test_faults.py; this adds the label check
@pytest.mark.slow
def test_parameters_outside_the_space_fail_the_trial_not_the_experiment(tmp_path):
    space = json.loads((REPO / "search_spaces" / "paper-4.json").read_text())
    space["layer2/colour"] = {"_type": "choice", "_value": ["red"]}
    (tmp_path / "bad_space.json").write_text(json.dumps(space))
    port, experiment_id = create(
        shrunk_config(
            "tpe.yml", tmp_path, trials=2, layers=T, trial_args=SHORT, search_space=tmp_path / "bad_space.json"
        )
    )
    try:
        assert wait_done(port)["status"] == "DONE"
        trials = trial_metrics(port)
        assert len(trials) == 2 and all(t["status"] == "FAILED" for t in trials.values())
        stderr = list((tmp_path / "nni").rglob("trial.stderr"))
        assert any(
            "unknown label 'layer2/colour': not a label of the paper space with 4 layers" in p.read_text()
            for p in stderr
        )
    finally:
        stop(experiment_id)


def test_an_exposed_manager_stops_the_experiment_at_its_start(tmp_path):
    """The real manager (on localhost, as every test keeps it) and its real tuner dispatcher; the
    only thing changed is the dispatcher's answer to "is this address loopback?", through a
    sitecustomize on its PYTHONPATH (the test does not open the manager to the network). The
    experiment ends in ERROR before any trial starts, and the manager's log says why."""
    import subprocess

    from nni_manager import BIN, LOCAL, free_port, get

    seam = tmp_path / "seam"
    seam.mkdir()
    (seam / "sitecustomize.py").write_text(
        "import os\n"
        "if os.environ.get('SDK_PROCESS') == 'dispatcher':\n"
        "    from nni_lista.search import trial_parameters\n"
        "    trial_parameters.exposed = lambda addresses: list(addresses)  # every address counts as exposed\n"
    )
    env = {**LOCAL, "PYTHONPATH": str(seam)}
    env.pop("NNI_LISTA_ALLOW_EXPOSED_MANAGER", None)
    port = free_port()
    config = shrunk_config("tpe.yml", tmp_path, trials=2, layers=T, trial_args=SHORT)
    out = subprocess.run(
        [str(BIN / "nnictl"), "create", "--config", str(config), "--port", str(port)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    experiment_id = get(port, "experiment")["id"]
    try:
        status = wait_done(port, timeout=120)
        assert status["status"] == "ERROR", status
        assert trial_metrics(port) == {}  # no trial was started
        logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "nni" / experiment_id / "log").glob("*"))
        assert (
            "NNI's manager on port" in logs
            and "listens on 127.0.0.1" in logs
            and "NNI_LISTA_ALLOW_EXPOSED_MANAGER=1" in logs
        )
    finally:
        stop(experiment_id)
    assert not listeners(port)


def test_the_full_space_config_starts_from_the_family_and_ends_at_least_as_good(tmp_path):
    """WarmTPE: the first trials are the family members of the full space, in NNI's manager and
    web UI as ordinary trials (the levels to beat), and TPE goes on from them."""
    from nni_lista.search.warm_start import family_seeds
    from nni_lista.space.architectures import PRESETS

    seeds = family_seeds(PRESETS["full"], T)
    port, experiment_id = create(
        shrunk_config("tpe-full.yml", tmp_path, trials=len(seeds) + 2, layers=T, trial_args=SHORT)
    )
    try:
        assert wait_done(port)["status"] == "DONE"
        jobs = sorted(get(port, "trial-jobs"), key=lambda job: job["sequenceId"])
        assert len(jobs) == len(seeds) + 2
        proposed = [json.loads(job["hyperParameters"][0])["parameters"] for job in jobs]
        assert proposed[: len(seeds)] == seeds  # the family first, in order
        metrics = trial_metrics(port)
        finals = [metrics[job["trialJobId"]]["final"][0]["default"] for job in jobs]
        assert max(finals) >= max(finals[: len(seeds)])  # never worse than the best family member on the proxy
    finally:
        stop(experiment_id)
