"""`nni-lista trial` reads its parameters as plain JSON: a crafted parameter that NNI's own
decoder would unpickle (``{"__nni_obj__": base64 pickle}``) runs nothing, through the real
manager's REST API and through a hand-written ``parameter.cfg``; the trial fails with one line."""

import base64
import json
import os
import pickle
import subprocess
import time
import urllib.request

import pytest

from nni_lista.search import trial_parameters
from nni_manager import BIN, TINY, create, shrunk_config, stop, trial_metrics, wait_done

T = 4
SHORT = ["--max-steps", "10", "--eval-every", "5"]


class _Touch:
    """Unpickling this runs a shell command that creates ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def crafted(marker) -> dict:
    """The paper space's labels at T=4, one of them an NNI-serialised object that creates ``marker``."""
    from nni_lista.space.architectures import PRESETS, labels

    params = {label: values[0] for label, values in labels(T, PRESETS["paper"]).items()}
    params["layer1/neuron"] = {"__nni_obj__": base64.b64encode(pickle.dumps(_Touch(marker))).decode()}
    return params


def test_nni_itself_would_run_the_payload(tmp_path):
    """The premise: NNI's decoder executes such a parameter (if this fails, NNI changed)."""
    import nni

    marker = tmp_path / "pwned"
    nni.load(json.dumps({"parameters": crafted(marker)}))
    assert marker.exists()


def test_the_rest_route_runs_nothing(tmp_path):
    marker = tmp_path / "pwned-rest"
    port, experiment_id = create(shrunk_config("tpe.yml", tmp_path, trials=2, layers=T, trial_args=SHORT))
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/nni/trial-jobs",
            method="POST",
            data=json.dumps(crafted(marker)).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        assert wait_done(port)["status"] == "DONE"
        statuses = sorted(t["status"] for t in trial_metrics(port).values())
        assert statuses == ["FAILED", "SUCCEEDED"]
        errors = [p.read_text() for p in (tmp_path / "nni").rglob("trial.stderr")]  # NNI keeps each trial's stderr
        refused = [text for text in errors if "layer1/neuron" in text]
        assert len(refused) == 1 and "is not allowed" in refused[0], errors
        assert refused[0].strip().count("\n") == 0 and "Traceback" not in refused[0], refused[0]  # one line
    finally:
        stop(experiment_id)
    assert not marker.exists()


def _start_legacy_trial(tmp_path, record) -> subprocess.Popen:
    """`nni-lista trial` on NNI's file channel (NNI_SYS_DIR/parameter.cfg), as NNI's remote and
    legacy training services start it; started, not waited for."""
    sysdir = tmp_path / "trial"
    sysdir.mkdir(parents=True)
    (sysdir / "parameter.cfg").write_text(record if isinstance(record, str) else json.dumps(record))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNI_")}
    env.update(
        NNI_PLATFORM="local",
        NNI_SYS_DIR=str(sysdir),
        NNI_OUTPUT_DIR=str(sysdir),
        NNI_TRIAL_JOB_ID="crafted",
        NNI_EXP_ID="crafted",
    )
    return subprocess.Popen(
        [str(BIN / "nni-lista"), "trial", "--space", "paper", "--layers", str(T), *TINY, *SHORT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )


def _legacy_trial(tmp_path, record) -> subprocess.CompletedProcess:
    process = _start_legacy_trial(tmp_path, record)
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_the_parameter_file_route_runs_nothing(tmp_path):
    marker = tmp_path / "pwned-file"
    out = _legacy_trial(tmp_path, {"parameter_id": 0, "parameters": crafted(marker)})
    assert not marker.exists()
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "layer1/neuron" in out.stderr, out.stderr


def test_a_plain_parameter_file_trains_and_reports(tmp_path):
    from nni_lista.space.architectures import PRESETS, labels

    params = {label: values[-1] for label, values in labels(T, PRESETS["paper"]).items()}
    out = _legacy_trial(tmp_path, {"parameter_id": 7, "parameters": params})
    assert out.returncode == 0, out.stderr
    metrics = (tmp_path / "trial" / ".nni" / "metrics").read_text()
    assert '"parameter_id": 7' in metrics and '"FINAL"' in metrics
    # metrics.json has the shape every run writes (nni-lista train, retrain, the study), scored once:
    # the validation NMSE reported to NNI is the one in the file
    written = json.loads((tmp_path / "trial" / "metrics.json").read_text())
    assert {"model", "settings", "protocol", "steps", "seconds", "nmse_db", "val_nmse_db", "nmse_db_per_layer"} <= set(
        written
    )
    assert (
        params.items() <= written["settings"]["arch"].items()
        and written["settings"]["backbone"] == "lista"
        and len(written["nmse_db_per_layer"]) == T
    )
    record = metrics[metrics.rindex('{"parameter_id"') :]
    final = json.loads(json.loads(record)["value"])
    assert final["default"] == -written["val_nmse_db"] == -final["nmse_db"]
    assert not [key for key in final if "test" in key]  # a search sees validation only
    # the columns NNI's web UI can show: FLOPs and parameters as NNI's own profilers count them, latency, time
    import torch
    from nni.nas.profiler.pytorch.flops import FlopsProfiler, NumParamsProfiler
    from nni_lista.space.spaces import LISTASpace

    m, n = int(TINY[TINY.index("--m") + 1]), int(TINY[TINY.index("--n") + 1])
    space = LISTASpace.from_preset("paper", m, n, T)
    assert final["flops"] == FlopsProfiler(space, torch.zeros(1, m)).profile(params) > 0
    assert final["params"] == NumParamsProfiler(space, torch.zeros(1, m)).profile(params) > 0
    assert (
        final["latency_ms"] > 0 and final["train_seconds"] == written["seconds"] and final["steps"] == written["steps"]
    )


MALFORMED = [
    "[1, 2]",
    '"soft"',
    '{"parameter_id": 0, "parameters": ["soft"]}',
    '{"parameter_id": 0, "parameters": "soft"}',
    "not json",
    '{"parameters": {"__nni_type__": "path:os.system"}}',
    "[" * 100_000,
]


def test_malformed_parameters_give_one_line(tmp_path):
    # every record in its own trial process, all started at once (most of a trial's time is its imports)
    started = [_start_legacy_trial(tmp_path / f"case{i}", record) for i, record in enumerate(MALFORMED)]
    for record, process in zip(MALFORMED, started):
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 2, (record[:60], stderr)
        assert stderr.strip().count("\n") == 0 and "nni-lista trial: error:" in stderr, (record[:60], stderr)


def test_outside_nni_the_trial_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNI_")}
    out = subprocess.run(
        [str(BIN / "nni-lista"), "trial", "--layers", str(T), *TINY],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2 and "no parameters from NNI" in out.stderr and out.stderr.count("\n") == 1, out.stderr


def test_plain_json_decoding_keeps_nni_markers_as_data():
    record = trial_parameters.decode('{"parameter_id": 1, "parameters": {"a": {"__nni_obj__": "AAAA"}}}')
    assert record["parameters"]["a"] == {"__nni_obj__": "AAAA"}


@pytest.mark.parametrize(
    "listening, exposed",
    [
        (["127.0.0.1"], []),
        (["::1", "127.0.0.1"], []),
        (["0.0.0.0"], ["0.0.0.0"]),
        (["::"], ["::"]),
        (["127.0.0.1", "192.0.2.7"], ["192.0.2.7"]),
        ([], []),
    ],
)
def test_exposed_addresses(listening, exposed):
    assert trial_parameters.exposed(listening) == exposed


def test_manager_port_from_the_channel_url():
    assert trial_parameters.manager_port("http://localhost:8080/env/abc/xyz") == 8080
    assert trial_parameters.manager_port("") is None


def _nas_parameter() -> str:
    """What NNI sends a NAS trial of `nni-lista search --port`: a frozen simplified model space."""
    import nni
    from nni.nas.space import SimplifiedModelSpace

    from nni_lista.search.evaluators import multi_trial_evaluator
    from nni_lista.problem.problems import SyntheticSettings, problem_spec
    from nni_lista.space.spaces import LISTASpace
    from nni_lista.train.training import TrainConfig

    space = LISTASpace.from_preset("paper", m=12, n=24, layers=T)
    evaluator = multi_trial_evaluator(
        problem_spec(SyntheticSettings(m=12, n=24)), TrainConfig(protocol="e2e", max_steps=10)
    )
    sample = {label: choice.values[0] for label, choice in space.simplify().items()}
    return nni.dump(SimplifiedModelSpace.from_model(space, evaluator).freeze(sample))


def test_a_genuine_nas_parameter_is_decoded_by_nni():
    model = trial_parameters.nas_record(_nas_parameter())
    assert type(model).__name__ == "SimplifiedModelSpace" and model.sample["layer1/neuron"] == "soft"


@pytest.mark.parametrize(
    "attack",
    [
        lambda text, m: text.replace('"path:nni_lista.space.spaces.LISTASpace"', '"path:os.system"'),
        lambda text, m: text.replace(
            '"lam": 0.4', '"lam": ' + json.dumps({"__nni_obj__": base64.b64encode(pickle.dumps(_Touch(m))).decode()})
        ),
        lambda text, m: text.replace(
            '"path:nni_lista.search.evaluators.train_architecture"',
            json.dumps("bytes:" + base64.b64encode(pickle.dumps(_Touch(m))).decode()),
        ),
        lambda text, m: text.replace(
            '"lam": 0.4', '"lam": {"__instance_type__": ["path:os.system"]}'
        ),  # unhashable: one line too
    ],
)
def test_a_crafted_nas_parameter_is_refused_before_nni_decodes_it(tmp_path, attack):
    marker = tmp_path / "pwned-nas"
    crafted_text = attack(_nas_parameter(), marker)
    assert crafted_text != _nas_parameter()
    with pytest.raises(trial_parameters.UsageError):
        trial_parameters.nas_record(crafted_text)
    assert not marker.exists()


def test_a_trial_refuses_a_manager_listening_beyond_loopback(monkeypatch):
    import collections

    import psutil

    address = collections.namedtuple("address", "ip port")
    connection = collections.namedtuple("connection", "laddr status")
    monkeypatch.setenv("NNI_TRIAL_COMMAND_CHANNEL", "http://localhost:8123/env/e/t")
    monkeypatch.delenv(trial_parameters.ALLOW_EXPOSED, raising=False)
    monkeypatch.setattr(
        psutil,
        "net_connections",
        lambda kind: [connection(address("0.0.0.0", 8123), "LISTEN"), connection(address("0.0.0.0", 9999), "LISTEN")],
    )
    with pytest.raises(trial_parameters.UsageError, match="port 8123 listens on 0.0.0.0"):
        trial_parameters.refuse_exposed_manager()
    monkeypatch.setenv(trial_parameters.ALLOW_EXPOSED, "1")
    trial_parameters.refuse_exposed_manager()  # the user opted in
    monkeypatch.setattr(psutil, "net_connections", lambda kind: [connection(address("127.0.0.1", 8123), "LISTEN")])
    monkeypatch.delenv(trial_parameters.ALLOW_EXPOSED)
    trial_parameters.refuse_exposed_manager()  # loopback only: runs


def test_an_empty_parameter_file_ends_the_wait_with_one_line(tmp_path, monkeypatch):
    """NNI's own legacy channel (remote and legacy services), on a parameter.cfg that stays empty."""
    from types import SimpleNamespace

    from nni.runtime.trial_command_channel import local_legacy

    (tmp_path / "parameter.cfg").write_text("")
    monkeypatch.setattr(
        local_legacy,
        "trial_env_vars",
        SimpleNamespace(  # what NNI's trial runtime reads from its environment
            NNI_SYS_DIR=str(tmp_path),
            NNI_OUTPUT_DIR=str(tmp_path),
            REUSE_MODE=False,
            NNI_PLATFORM="remote",
            MULTI_PHASE=False,
        ),
    )
    channel = local_legacy.LocalLegacyTrialCommandChannel()
    started = time.monotonic()
    with pytest.raises(trial_parameters.UsageError, match="no parameters from NNI after 3 s: .*parameter.cfg is empty"):
        trial_parameters._raw_record(channel)
    assert time.monotonic() - started < 5
