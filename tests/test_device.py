"""--device: auto picks CUDA only when present; bad or absent devices are one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nni_lista.base.device import model_device, resolve_device
from nni_lista.base.errors import UsageError
from nni_lista.models.family import build
from nni_lista.train.training import TrainConfig

BIN = Path(sys.executable).parent


def test_auto_is_cuda_only_when_present():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


@pytest.mark.parametrize("name", ["tpu", "cuda:x", "gpu0", ""])
def test_unknown_devices_are_refused(name):
    with pytest.raises(UsageError, match=f"device {name!r} is not allowed: choose auto, cpu, cuda or cuda:N"):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(UsageError, match="device 'cuda' is not available here: no CUDA GPU is visible"):
        TrainConfig(device="cuda")


def test_the_config_records_a_resolved_device_that_is_not_part_of_the_run_identity(small_problem):
    from nni_lista.train.training import fingerprint

    config = TrainConfig(device="auto")
    assert config.device in ("cpu", "cuda") and config.to_dict()["device"] == config.device
    model = build("lista", small_problem.A, 3)
    assert "device" not in fingerprint(model, small_problem, config)["config"]
    assert model_device(model) == torch.device("cpu")
    assert small_problem.to("cpu") is small_problem


def test_cli_refuses_a_bad_device(tmp_path):
    out = subprocess.run(
        [str(BIN / "nni-lista"), "train", "--model", "lista", "--device", "tpu", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "device 'tpu' is not allowed" in out.stderr


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA GPU is visible here: `--device cuda` is tested where one is"
)
def test_train_and_search_run_on_cuda(tmp_path):
    tiny = [
        "--layers",
        "3",
        "--m",
        "12",
        "--n",
        "24",
        "--batch",
        "16",
        "--max-steps",
        "60",
        "--eval-every",
        "30",
        "--protocol",
        "e2e",
    ]
    train = subprocess.run(
        [str(BIN / "nni-lista"), "train", "--model", "alista", *tiny, "--device", "cuda", "--out", str(tmp_path / "t")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert train.returncode == 0, train.stderr
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert metrics["settings"]["device"] == "cuda" and metrics["nmse_db"] < 0
    on_cpu = subprocess.run(
        [str(BIN / "nni-lista"), "train", "--model", "alista", *tiny, "--device", "cpu", "--out", str(tmp_path / "c")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert on_cpu.returncode == 0, on_cpu.stderr
    # the same run on either device: the numbers agree to float32 rounding, not bit for bit
    assert abs(json.loads((tmp_path / "c" / "metrics.json").read_text())["nmse_db"] - metrics["nmse_db"]) < 0.5
    search = subprocess.run(
        [
            str(BIN / "nni-lista"),
            "search",
            "--strategy",
            "random",
            "--space",
            "paper",
            "--budget",
            "2",
            "--retrain-seeds",
            "1",
            *tiny,
            "--device",
            "cuda",
            "--out",
            str(tmp_path / "s"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert search.returncode == 0, search.stderr
    assert json.loads((tmp_path / "s" / "top.json").read_text())["training"]["device"] == "cuda"
