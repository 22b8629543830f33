import json
import shutil
import subprocess
import sys

import pytest

from nni_lista.cli import main

SMALL = ["--m", "20", "--n", "40", "--layers", "3", "--max-steps", "36", "--eval-every", "6", "--batch", "8"]


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_writes_metrics_and_prints_a_table(tmp_path, capsys):
    code, out, _ = _run(capsys, "train", "--model", "lista", *SMALL, "--protocol", "e2e", "--out", str(tmp_path))
    assert code == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("model", "settings", "protocol", "steps", "seconds", "nmse_db_per_layer", "nmse_db"):
        assert key in metrics
    assert metrics["model"] == "lista" and metrics["protocol"] == "e2e" and metrics["steps"] == 36
    assert len(metrics["nmse_db_per_layer"]) == 3 and metrics["nmse_db"] == metrics["nmse_db_per_layer"][-1]
    s = metrics["settings"]
    assert (s["m"], s["n"], s["layers"], s["p"], s["snr_db"], s["kappa"], s["seed"], s["max_steps"]) == (
        20,
        40,
        3,
        0.1,
        "inf",
        None,
        0,
        36,
    )
    assert "| layer |" in out and f"{metrics['nmse_db']:.2f}" in out


def test_ista_is_not_trained(tmp_path, capsys):
    code, _, _ = _run(capsys, "train", "--model", "ista", *SMALL, "--out", str(tmp_path))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert code == 0 and metrics["steps"] == 0 and metrics["protocol"] == "none"


def test_problem_file_gives_the_same_instance(tmp_path, capsys):
    assert (
        _run(
            capsys,
            "make-problem",
            "--m",
            "20",
            "--n",
            "40",
            "--snr",
            "30",
            "--seed",
            "4",
            "--out",
            str(tmp_path / "p.pt"),
        )[0]
        == 0
    )
    common = [
        "--layers",
        "3",
        "--max-steps",
        "36",
        "--eval-every",
        "6",
        "--batch",
        "8",
        "--seed",
        "4",
        "--model",
        "lista-cp",
    ]
    _run(capsys, "train", *common, "--problem", str(tmp_path / "p.pt"), "--out", str(tmp_path / "a"))
    _run(capsys, "train", *common, "--m", "20", "--n", "40", "--snr", "30", "--out", str(tmp_path / "b"))
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert a["nmse_db_per_layer"] == b["nmse_db_per_layer"]
    assert a["settings"]["problem_file"].endswith("p.pt")


def test_compare_one_table_and_json(tmp_path, capsys):
    code, out, _ = _run(capsys, "compare", "--models", "ista,fista,alista", *SMALL, "--out", str(tmp_path))
    assert code == 0
    results = json.loads((tmp_path / "compare.json").read_text())
    assert list(results) == ["ista", "fista", "alista"]
    for name in results:
        assert json.loads((tmp_path / name / "metrics.json").read_text()) == results[name]
    assert (tmp_path / "nmse_vs_layer.png").stat().st_size > 1000
    assert "| layer | ista | fista | alista |" in out.replace("  ", " ").replace("  ", " ")


BAD = [
    (["--m", "0"], "m 0"),
    (["--m", "50", "--n", "40"], "m 50"),
    (["--n", "1"], "n 1"),
    (["--p", "0"], "p 0"),
    (["--p", "1.2"], "p 1.2"),
    (["--p", "abc"], "--p: invalid float value: 'abc'"),
    (["--snr", "loud"], "'loud' is not allowed"),
    (["--snr", "nan"], "'nan' is not allowed"),
    (["--kappa", "0.5"], "'0.5' is not allowed"),
    (["--kappa", "x"], "'x' is not allowed"),
    (["--layers", "0"], "layers 0"),
    (["--model", "lasso-net"], "invalid choice: 'lasso-net'"),
    (["--max-steps", "0"], "max-steps 0"),
    (["--protocol", "fast"], "invalid choice: 'fast'"),
    (["--seed", "-3"], "seed -3"),
]


@pytest.mark.parametrize("extra, fragment", BAD)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, extra, fragment):
    argv = ["train", "--model", "lista", "--m", "20", "--n", "40", "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exit_info:
        code = main(argv + extra)
        raise SystemExit(code)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert fragment in err and err.count("\n") == 1, err
    assert not (tmp_path / "o" / "metrics.json").exists()


@pytest.mark.parametrize("content", [b"garbage", None])
def test_unreadable_problem_file(tmp_path, capsys, content):
    path = tmp_path / "problem.pt"
    if content is not None:
        path.write_bytes(content)
    code, _, err = _run(capsys, "train", "--model", "lista", "--problem", str(path), "--out", str(tmp_path / "o"))
    assert code == 2 and "problem.pt" in err and err.count("\n") == 1


def test_problem_options_clash_with_problem_file(tmp_path, capsys):
    _run(capsys, "make-problem", "--m", "20", "--n", "40", "--out", str(tmp_path / "p.pt"))
    code, _, err = _run(
        capsys,
        "train",
        "--model",
        "lista",
        "--problem",
        str(tmp_path / "p.pt"),
        "--m",
        "10",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 2 and "--m cannot be combined with --problem" in err


def test_installed_entry_point_exit_code():
    exe = shutil.which("nni-lista") or str(__import__("pathlib").Path(sys.executable).with_name("nni-lista"))
    proc = subprocess.run(
        [exe, "train", "--model", "lista", "--p", "2", "--out", "/tmp/never"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "nni-lista train: error: p 2.0 is not allowed: the sparsity must be in (0, 1]"
