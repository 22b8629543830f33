"""strategies/remote.yml: NNI's remote training service runs our trial unchanged, here against
an SSH server on localhost that the test starts (and stops) itself. Slow and opt-in: needs
Debian's openssh-server, and NNI's worker runs `pip install nni --upgrade` on the 'remote'."""

import getpass
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from nni_manager import BIN, create, free_port, listeners, shrunk_config, stop, trial_metrics, wait_done

T = 4


@pytest.fixture
def ssh_server(tmp_path):
    """sshd on 127.0.0.1 with a fresh host key; yields (port, client key file)."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    assert Path(sshd).exists(), "this test needs an SSH server: apt-get install openssh-server"
    keys = tmp_path / "ssh"
    keys.mkdir()
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True)
    (keys / "authorized_keys").write_text((keys / "client.pub").read_text())
    port = free_port()
    config = keys / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {keys / 'host'}",
                f"AuthorizedKeysFile {keys / 'authorized_keys'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                f"PidFile {keys / 'sshd.pid'}",
                "Subsystem sftp internal-sftp",
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    server = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stderr=open(keys / "sshd.log", "w"))
    deadline = time.time() + 20
    while not listeners(port):
        assert server.poll() is None and time.time() < deadline, (keys / "sshd.log").read_text()
        time.sleep(0.2)
    try:
        yield port, keys / "client"
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.mark.slow
def test_remote_config_runs_our_trial_over_ssh(tmp_path, ssh_server):
    port, key = ssh_server
    path = shrunk_config(
        "remote.yml", tmp_path, trials=2, layers=T, trial_args=["--max-steps", "20", "--eval-every", "10"]
    )
    config = yaml.safe_load(path.read_text())
    config["trainingService"]["machineList"][0].update(
        port=port, user=getpass.getuser(), sshKeyFile=str(key), pythonPath=str(BIN)
    )
    path.write_text(yaml.safe_dump(config))
    manager_port, experiment_id = create(path)
    try:
        assert wait_done(manager_port, timeout=600)["status"] == "DONE"
        trials = trial_metrics(manager_port)
        assert len(trials) == 2
        for trial in trials.values():
            assert trial["status"] == "SUCCEEDED" and len(trial["periodical"]) == T and len(trial["final"]) == 1
        log = (tmp_path / "nni" / experiment_id / "log" / "nnimanager.log").read_text()
        assert "Worker 127.0.0.1 initialized" in log  # the trials ran through the SSH worker
    finally:
        stop(experiment_id)


@pytest.mark.slow
def test_a_search_runs_its_trials_on_the_remote_training_service(tmp_path, ssh_server):
    """`nni-lista search --port P --training-service FILE`: a multi-trial NAS search whose trials
    run on NNI's remote training service (here the SSH server on localhost), NNI's own config format."""
    from nni_lista.cli import main

    port, key = ssh_server
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "strategies" / "remote.yml").read_text())
    config["trainingService"]["machineList"][0].update(
        port=port, user=getpass.getuser(), sshKeyFile=str(key), pythonPath=str(BIN)
    )
    path = tmp_path / "remote.yml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    code = main(
        [
            "search",
            "--strategy",
            "random",
            "--m",
            "12",
            "--n",
            "24",
            "--layers",
            str(T),
            "--budget",
            "2",
            "--max-steps",
            "20",
            "--eval-every",
            "10",
            "--batch",
            "16",
            "--port",
            str(free_port()),
            "--training-service",
            str(path),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    top = yaml.safe_load((out / "top.json").read_text())
    assert (
        len(top["top"]) == 2
        and all(item["metric"] is not None for item in top["top"])
        and top["nni_experiment"] is not None
    )
    logs = list((out / "nni-experiments").rglob("nnimanager.log"))
    assert logs and "Worker 127.0.0.1 initialized" in logs[0].read_text()  # the trials ran through the SSH worker
