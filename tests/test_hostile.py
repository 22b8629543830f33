"""Hostile input and faults (issue #16, items 2-6): every bad input ends with exactly one line
on stderr and exit code 2, before any work starts and without writing outside --out."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from nni_lista import cli
from nni_lista.problem import problems
from nni_lista.base.limits import MAX_LAYERS
from nni_lista.study.config import StudyConfig
from nni_lista.train.training import CheckpointStore

TINY = [
    "--m",
    "12",
    "--n",
    "24",
    "--layers",
    "2",
    "--max-steps",
    "5",
    "--eval-every",
    "5",
    "--batch",
    "16",
    "--protocol",
    "e2e",
    "--device",
    "cpu",
]
STUDY = {
    "problem": {"m": 12, "n": 24},
    "layers": 3,
    "settings": {"a": {}},
    "baselines": ["ista"],
    "search": {
        "strategy": "random",
        "space": "paper",
        "budget": 2,
        "top_k": 1,
        "training": {"max_steps": 5, "eval_every": 5},
    },
    "retrain": {"max_steps": 5, "eval_every": 5},
}


def _main(argv: list) -> int:
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors (one line, exit 2)
        return exc.code


def _one_line(capsys, code: int, argv: list, *needles: str) -> str:
    """Run the CLI in-process; check the exit code, one stderr line, and the words it must hold."""
    assert _main(argv) == code
    err = capsys.readouterr().err.strip()
    assert err and err.count("\n") == 0, err
    for needle in needles:
        assert needle in err, err
    return err


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


# ----------------------------------------------------------------------------- A. sizes bounded


def test_deep_arch_file_is_refused_before_building_tables(tmp_path, capsys):
    arch = tmp_path / "deep.json"
    arch.write_text(json.dumps({"layer200000/neuron": "soft"}))
    started = time.perf_counter()
    _one_line(capsys, 2, ["retrain", "--arch", arch, "--out", tmp_path / "out", *TINY[:4]], "200000", str(MAX_LAYERS))
    assert time.perf_counter() - started < 5
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["arch", "export-space"])
def test_too_many_layers_for_files(tmp_path, capsys, command):
    extra = ["--name", "dense"] if command == "arch" else []
    _one_line(
        capsys, 2, [command, *extra, "--layers", "100000", "--out", tmp_path / "x.json"], "100000", str(MAX_LAYERS)
    )
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    "options, needle",
    [
        (["--m", "100000", "--n", "100000"], "100000x100000"),
        (["--batch", "1000000000"], "1000000000"),
        (["--layers", "100000"], "100000"),
    ],
)
def test_sizes_beyond_memory_or_caps(tmp_path, capsys, options, needle):
    base = dict(zip(TINY[::2], TINY[1::2]))
    base.update(dict(zip(options[::2], options[1::2])))
    argv = ["train", "--model", "lista", "--out", tmp_path / "out", *[x for kv in base.items() for x in kv]]
    _one_line(capsys, 2, argv, needle)
    assert not (tmp_path / "out").exists()


def test_memory_estimate_names_the_limit(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("nni_lista.base.limits.available_bytes", lambda: 1000)
    _one_line(capsys, 2, ["train", "--model", "lista", "--out", tmp_path / "out", *TINY], "12x24", "GiB", "available")


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"layers": 100000}, f"[3, {MAX_LAYERS}]"),
        ({"problem": {"m": 100000, "n": 100000}}, "GiB"),
    ],
)
def test_study_sizes_are_bounded(tmp_path, capsys, change, needle):
    config = tmp_path / "big.yml"
    config.write_text(yaml.safe_dump({**STUDY, **change}))
    _one_line(capsys, 2, ["study", "--config", config, "--out", tmp_path / "out"], needle)
    assert not (tmp_path / "out").exists()


def test_billion_laughs_message_stays_short(tmp_path, capsys):
    levels = ["&a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcdefgh", "bcdefghi"):
        levels.append(f"&{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    config = tmp_path / "laughs.yml"
    config.write_text("problem:\n  m: [" + ", ".join(levels) + "]\nsettings: {a: {}}\n")
    assert config.stat().st_size < 700  # 9^9 'lol's once expanded
    started = time.perf_counter()
    err = _one_line(capsys, 2, ["study", "--config", config, "--out", tmp_path / "out"], "m [")
    assert len(err) < 400 and time.perf_counter() - started < 5, len(err)
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- B. resume bound to the instance


def test_resume_is_refused_on_another_instance_with_the_same_settings(tmp_path, capsys):
    a, b = tmp_path / "A.pt", tmp_path / "B.pt"
    assert _main(["make-problem", "--m", "12", "--n", "24", "--seed", "1", "--out", a]) == 0
    other = problems.load(a)
    other.sensing = other.sensing.flip(1).contiguous()  # same settings, another matrix
    problems.save(other, b)
    rest = [x for x in TINY if x not in ("--m", "12", "--n", "24")]
    out = tmp_path / "D"
    assert _main(["train", "--model", "lista", "--problem", a, "--out", out, *map(str, rest)]) == 0
    capsys.readouterr()
    kept = (out / "metrics.json").read_bytes()
    _one_line(
        capsys,
        2,
        ["train", "--model", "lista", "--problem", b, "--out", out, *rest],
        f"{str(out)!r} holds a run of 'lista' on a different problem instance (problem_file was {str(a)!r}, now "
        f"{str(b)!r})",
        "give another --out for this problem, or the same problem file",
    )
    assert (out / "metrics.json").read_bytes() == kept
    (out / "metrics.json").unlink()  # a run killed before its metrics: only the checkpoint tells the runs apart
    _one_line(
        capsys,
        2,
        ["train", "--model", "lista", "--problem", b, "--out", out, *rest],
        f"{out} holds a checkpoint of a run on a different problem instance",
        "the same problem file",
    )
    copy = tmp_path / "copy-of-A.pt"
    problems.save(problems.load(a), copy)  # the same instance in another file: resumes
    assert _main(["train", "--model", "lista", "--problem", copy, "--out", out, *map(str, rest)]) == 0


# ----------------------------------------------------------------------------- C. output paths


def test_out_paths_that_cannot_be_written(tmp_path, capsys, monkeypatch):
    afile = tmp_path / "file"
    afile.write_text("x")
    before = _tree(tmp_path)
    (tmp_path / "link").symlink_to("/proc")
    for out, needle in (
        (afile, "existing file"),
        (afile / "sub", "is a file"),
        ("/proc/nni-lista-test", "/proc"),
        ("/sys/nni-lista-test", "/sys"),
        (tmp_path / "link" / "x", "/proc"),
    ):
        _one_line(capsys, 2, ["train", "--model", "lista", "--out", out, *TINY], needle)
    config = tmp_path / "study.yml"
    config.write_text(yaml.safe_dump(STUDY))
    _one_line(capsys, 2, ["study", "--config", config, "--out", afile], "existing file")
    _one_line(capsys, 2, ["make-problem", "--out", tmp_path], "is a directory")
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    before = _tree(tmp_path)
    real_access = os.access
    monkeypatch.setattr(
        "nni_lista.base.limits.os.access",  # root may write anywhere: ask as a user would
        lambda path, mode: False if Path(path) == readonly else real_access(path, mode),
    )
    _one_line(capsys, 2, ["train", "--model", "lista", "--out", readonly / "out", *TINY], "not writable")
    assert _tree(tmp_path) == before


def test_another_models_metrics_are_not_overwritten(tmp_path, capsys):
    out = tmp_path / "out"
    assert _main(["train", "--model", "lista", "--out", out, *TINY]) == 0
    capsys.readouterr()
    kept = (out / "metrics.json").read_bytes()
    _one_line(capsys, 2, ["train", "--model", "ista", "--out", out, *TINY], "'lista'", str(out))
    assert (out / "metrics.json").read_bytes() == kept
    assert _main(["train", "--model", "lista", "--out", out, *TINY]) == 0  # the same run again is fine


def test_orphan_temp_files_are_removed(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    orphan = out / ".checkpoint.pt.k3j9x_2a.tmp"
    orphan.write_bytes(b"half a checkpoint")
    keep = out / "notes.tmp"
    keep.write_text("mine")
    assert _main(["train", "--model", "lista", "--out", out, *TINY]) == 0
    assert not orphan.exists() and keep.exists()
    orphan = tmp_path / "ista" / ".metrics.json.a1b2c3d4.tmp"  # a model that does not train cleans up too
    orphan.parent.mkdir()
    orphan.write_text("{")
    assert _main(["train", "--model", "ista", "--out", orphan.parent, *TINY]) == 0
    assert not orphan.exists()


def test_sigterm_during_train_is_one_line_and_143(tmp_path):
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "nni_lista", "train", "--model", "lista", "--out", str(out), *TINY]
    argv[argv.index("--max-steps") + 1] = "10000000"
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "checkpoint.pt").exists():
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    assert err.strip().count("\n") == 0 and "interrupted (SIGTERM)" in err and "resume" in err, err
    assert not list(out.glob(".*.tmp"))


# ----------------------------------------------------------------------------- D. corrupt inputs


def test_corrupt_checkpoint(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(os.urandom(4096))
    _one_line(capsys, 2, ["train", "--model", "lista", "--out", out, *TINY], "checkpoint", "cannot be read")


def test_malicious_checkpoint_is_not_unpickled(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    torch.save({"fingerprint": Evil()}, out / "checkpoint.pt")
    _one_line(capsys, 2, ["train", "--model", "lista", "--out", out, *TINY], "cannot be read")
    assert not (tmp_path / "pwned").exists()


def _damaged(data: dict, how: str) -> dict:
    if how == "missing key":
        data.pop("val")
    elif how == "wrong shape":
        data["val"] = [data["val"][0][:, :5], data["val"][1]]
    elif how == "nan":
        data["sensing"] = data["sensing"].clone()
        data["sensing"][0, 0] = float("nan")
    elif how == "all-zero matrix":
        data["sensing"] = torch.zeros_like(data["sensing"])
    elif how == "all-zero test set":
        data["test"] = [torch.zeros_like(data["test"][0]), torch.zeros_like(data["test"][1])]
    elif how == "not a tensor":
        data["sensing"] = "abc"
    return data


@pytest.mark.parametrize(
    "how, needle",
    [
        ("missing key", "lacks 'val'"),
        (
            "wrong shape",
            "expected the validation measurements to be a non-empty float matrix of shape (N, 12), found a float32 "
            "tensor of shape (1000, 5)",
        ),
        ("nan", "there are NaN or infinite entries in the sensing matrix"),
        ("all-zero matrix", "all zero"),
        ("all-zero test set", "test set is zero"),
        ("not a tensor", "expected the sensing matrix to be a non-empty float matrix of shape (N, N), found a str"),
    ],
)
def test_damaged_problem_files(tmp_path, capsys, how, needle):
    good = tmp_path / "good.pt"
    assert _main(["make-problem", "--m", "12", "--n", "24", "--out", good]) == 0
    capsys.readouterr()
    data = torch.load(good, weights_only=True)
    bad = tmp_path / "bad.pt"
    torch.save(_damaged(data, how), bad)
    rest = [x for x in TINY if x not in ("--m", "12", "--n", "24")]
    _one_line(
        capsys, 2, ["train", "--model", "ista", "--problem", bad, "--out", tmp_path / "out", *rest], str(bad), needle
    )
    assert not (tmp_path / "out").exists()


def test_tiny_p_is_refused_not_nan(tmp_path, capsys):
    argv = ["train", "--model", "ista", "--out", tmp_path / "out", *TINY, "--p", "1e-12"]
    _one_line(capsys, 2, argv, "1e-12", "larger p")


def test_view_port_and_damaged_top_json(tmp_path, capsys):
    _one_line(capsys, 2, ["view", tmp_path, "--port", "99999"], "99999", "65535")
    (tmp_path / "top.json").write_text('{"nni_experiment": ')
    _one_line(capsys, 2, ["view", tmp_path, "--port", "8080"], "top.json")
    (tmp_path / "top.json").write_text("[1, 2]")
    _one_line(capsys, 2, ["view", tmp_path, "--port", "8080"], "not a mapping")
    (tmp_path / "top.json").write_text('{"nni_experiment": {"id": 5}}')
    _one_line(capsys, 2, ["view", tmp_path, "--port", "8080"], "damaged")


def _first_unit(config: Path, out: Path) -> Path:
    """The unit file of the first unit a study of ``config`` runs (the study names its units)."""
    from nni_lista.study.plan import Study

    study = Study(StudyConfig.load(config), out, "cpu", progress=False)
    return study.unit_path(study.units()[0].key)


def test_damaged_unit_file_in_a_study(tmp_path, capsys):
    config = tmp_path / "study.yml"
    config.write_text(yaml.safe_dump(STUDY))
    out = tmp_path / "out"
    unit = _first_unit(config, out)
    unit.parent.mkdir(parents=True)
    (out / "config.yml").write_text(config.read_text())
    unit.write_text('{"result": ')
    before = _tree(out)
    _one_line(
        capsys,
        2,
        ["study", "--config", config, "--out", out, "--no-progress", "--device", "cpu"],
        str(unit),
        "delete it",
    )
    assert _tree(out) == before


# ----------------------------------------------------------------------------- E. messages tell the truth


def test_divergence_names_only_an_existing_checkpoint(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["train", "--model", "lista", "--out", out, *TINY, "--lr", "1e30"]
    err = _one_line(capsys, 1, argv, "diverged")
    if "last good checkpoint is" in err:
        assert (out / "checkpoint.pt").is_file(), err
    else:
        assert "no checkpoint was written" in err and not (out / "checkpoint.pt").exists(), err


def test_describe_follows_the_disk(tmp_path):
    store = CheckpointStore(tmp_path, {})
    assert "no checkpoint was written" in store.describe()
    store.save({"model": {}, "steps": 0})
    assert f"the last good checkpoint is {tmp_path / 'checkpoint.pt'}" in store.describe()
    assert "without an output directory" in CheckpointStore(None, {}).describe()


# ----------------------------------------------------------------------------- F. study configs checked completely


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"search": {**STUDY["search"], "seed": -1}}, "seed -1"),
        ({"consistency": {"seeds": ["abc"]}}, "consistency.seeds ['abc']"),
        ({"lam": -5}, "lam -5"),
        ({"lam": "abc"}, "lam 'abc'"),
        ({"search": {**STUDY["search"], "strategy": ["random"]}}, "strategy ['random']"),
        ({"search": {**STUDY["search"], "space": {"a": 1}}}, "space {'a': 1}"),
        ({"baselines": "ista"}, "baselines 'ista'"),
        ({"consistency": {"setting": ["a"]}}, "consistency.setting ['a']"),
        ({"consistency": {"strategies": "evolution"}}, "consistency.strategies 'evolution'"),
        ({"distributions": {"spaces": [["paper"]]}}, "distributions.spaces"),
        ({"retrain": {"decay": "abc"}}, "decay 'abc'"),
        ({"retrain": {"stage_lrs": "abc"}}, "stage_lrs"),
        ({"retrain": {"max_steps": True}}, "max-steps True"),
        ({"settings": {"../../escaped": {}}}, "'../../escaped'"),
        ({"settings": {".hidden": {}}}, "'.hidden'"),
        ({"settings": {"a": {"kind": ["image-cs"]}}}, "kind ['image-cs']"),
        ({"settings": {"a": {"p": True}}}, "p True"),
        ({"search": {**STUDY["search"], "training": {"protocol": ["e2e"]}}}, "protocol ('e2e',)"),
        ({"settings": {1: {}}}, "setting name 1"),
    ],
)
def test_study_config_is_checked_before_anything_is_written(tmp_path, capsys, change, needle):
    config = tmp_path / "bad.yml"
    config.write_text(yaml.safe_dump({**STUDY, **change}))
    out = tmp_path / "out"
    _one_line(capsys, 2, ["study", "--config", config, "--out", out], needle)
    assert not out.exists()
    good = tmp_path / "good.yml"
    good.write_text(yaml.safe_dump(STUDY))
    StudyConfig.load(good)  # the corrected config is accepted: nothing was kept in out


def test_binary_study_config(tmp_path, capsys):
    config = tmp_path / "bin.yml"
    config.write_bytes(bytes(range(256)) * 4)
    _one_line(capsys, 2, ["study", "--config", config, "--out", tmp_path / "out"], str(config))
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- search, trial, view

SEARCH = [
    "search",
    "--strategy",
    "random",
    "--space",
    "paper",
    "--m",
    "12",
    "--n",
    "24",
    "--layers",
    "3",
    "--batch",
    "16",
    "--budget",
    "2",
    "--max-steps",
    "5",
    "--eval-every",
    "5",
]


def test_search_limit_no_architecture_meets_is_named_before_work(tmp_path, capsys):
    _one_line(
        capsys,
        2,
        [*SEARCH, "--max-params", "1", "--out", tmp_path / "s"],
        "no architecture of the paper space meets the limit of 1 parameters",
        "the smallest has",
    )
    assert not (tmp_path / "s").exists()


def test_a_second_search_with_other_options_is_refused_before_work(tmp_path, capsys):
    out = tmp_path / "s"
    assert _main([*SEARCH, "--out", out]) == 0
    capsys.readouterr()
    before = _tree(out)
    started = time.perf_counter()
    _one_line(
        capsys,
        2,
        [*SEARCH[:-6], "--budget", "3", "--max-steps", "5", "--eval-every", "5", "--out", out],
        "holds a search made with other options",
    )
    assert time.perf_counter() - started < 30 and _tree(out) == before


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "is not a text file"),
        (b"strategy: [evolution, random]\n", "give one value"),
        (b"budget: {a: 1}\n", "give one value"),
        (b"strategy: nope\n", "invalid choice"),
        (b"warm_start: maybe\n", "give true or false"),
        (b"colour: red\n", "unknown key 'colour'"),
        (b"max-steps: 10\n", "write 'max_steps'"),  # one vocabulary: the field names, as in study configs
        (b"- a\n- b\n", "must hold a mapping"),
    ],
)
def test_bad_search_config_files(tmp_path, capsys, content, needle):
    config = tmp_path / "bad.yml"
    config.write_bytes(content)
    _one_line(capsys, 2, ["search", "--config", config, "--out", tmp_path / "s"], needle)
    assert not (tmp_path / "s").exists()


def test_search_config_values_are_options_and_the_command_line_wins(tmp_path):
    config = tmp_path / "ok.yml"
    config.write_text("strategy: random\nbudget: 7\nwarm_start: false\nsnr: .inf\nkappa: none\nout: runs/x\n")
    parser = cli.build_parser()
    args = parser.parse_args(["search", "--config", str(config), "--budget", "3"])
    args = cli._search_config(parser, ["search", "--config", str(config), "--budget", "3"], args)
    assert (args.strategy, args.budget, args.warm_start, args.kappa, str(args.out)) == (
        "random",
        3,
        False,
        None,
        "runs/x",
    )


def test_search_out_and_layers_are_checked_first(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    _one_line(capsys, 2, [*SEARCH, "--out", tmp_path / "f"], "is an existing file")
    _one_line(capsys, 2, [*SEARCH[:9], "--layers", "100000", "--out", tmp_path / "s"], "layers 100000 is not allowed")


def test_trial_layers_are_bounded_before_parameters_are_read(tmp_path, capsys):
    _one_line(capsys, 2, ["trial", "--layers", "100000"], "layers 100000 is not allowed")


def test_view_on_a_busy_port(tmp_path, capsys):
    import socket

    top = tmp_path / "top.json"
    top.write_text(json.dumps({"nni_experiment": {"id": "abc", "directory": str(tmp_path)}}))
    (tmp_path / "abc").mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        err = _one_line(capsys, 2, ["view", tmp_path, "--port", port], f"port {port} on 127.0.0.1 is in use")
    assert "Traceback" not in err


def test_view_reports_a_manager_that_died(tmp_path):
    from nni_lista.search import manager

    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(manager.ViewFailed, match="ended \\(exit code 3\\) before it served"):
        manager.wait_until_serving(dead, "127.0.0.1", port, "the manager", timeout=10)


def test_search_sizes_beyond_memory(tmp_path, capsys):
    _one_line(
        capsys,
        2,
        ["search", "--strategy", "random", "--m", "100000", "--n", "100000", "--out", tmp_path / "s"],
        "GiB of memory",
    )


# ----------------------------------------------------------------------------- G. write failures (issue #16 review)


def _outside(root: Path, out: Path) -> dict:
    """The tree under ``root`` without ``out``: what must not change."""
    return {k: v for k, v in _tree(root).items() if not (root / k == out or out in (root / k).parents)}


def test_a_write_failure_at_the_first_checkpoint_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "layers").write_text("not a directory")  # where the stage-wise run keeps each trained layer
    before = _outside(tmp_path, out)
    argv = [
        "train",
        "--model",
        "lista",
        "--out",
        out,
        *TINY,
        "--protocol",
        "stagewise",
        "--max-steps",
        "12",
        "--eval-every",
        "2",
    ]
    _one_line(
        capsys,
        2,
        argv,
        f"cannot write {str(out / 'layers' / 'layer01.pt')!r}",
        f"{str(out / 'layers')!r} is a file, not a directory",
    )
    assert _outside(tmp_path, out) == before
    assert not list(out.rglob("*.tmp")) and (out / "layers").read_text() == "not a directory"


def _no_larger_files_than(limit: int):
    """preexec_fn: a file-size limit (what a full disk looks like to a writer), with SIGXFSZ
    ignored so that the write fails with EFBIG instead of killing the process."""
    import resource

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_during_make_problem_is_one_line_and_leaves_no_file(tmp_path):
    target = tmp_path / "p.pt"
    before = _tree(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "nni_lista", "make-problem", "--m", "12", "--n", "24", "--out", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        preexec_fn=_no_larger_files_than(4096),
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr, out.stderr
    assert (
        f"nni-lista make-problem: error: cannot write {str(target)!r}" in out.stderr and "file-size limit" in out.stderr
    )
    assert _tree(tmp_path) == before  # no problem file, no temporary file


def test_atomic_writes_report_what_is_in_the_way(tmp_path):
    from nni_lista.base.errors import UsageError, WriteFailed
    from nni_lista.base.io import torch_save, write_json

    assert issubclass(WriteFailed, UsageError)  # the CLI ends with one line and exit code 2, as for a bad --out

    (tmp_path / "metrics.json").mkdir()
    with pytest.raises(WriteFailed, match="cannot write .*metrics.json': it is a directory"):
        write_json(tmp_path / "metrics.json", {})
    (tmp_path / "f").write_text("x")
    with pytest.raises(WriteFailed, match="'.*/f' is a file, not a directory"):
        torch_save(tmp_path / "f" / "sub" / "c.pt", {"a": torch.zeros(2)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "metrics.json"]


# ---------- H. orphan temporary files everywhere we write

ORPHAN_NAME = ".{}.k3j9x_2a.tmp"  # what tempfile.mkstemp makes for nni_lista.base.io's atomic writes


def test_make_problem_removes_only_its_own_orphans(tmp_path, capsys):
    target = tmp_path / "p.pt"
    mine = tmp_path / ORPHAN_NAME.format("p.pt")
    mine.write_bytes(b"half a problem")
    others = [
        tmp_path / ORPHAN_NAME.format("q.pt"),  # another target's: another make-problem may be writing it
        tmp_path / ".p.pt.TOOLONG12.tmp",
        tmp_path / "p.pt.tmp",
        tmp_path / ".p.pt.k3j9x.tmp",
    ]
    for path in others:
        path.write_text("not ours to delete")
    assert _main(["make-problem", "--m", "12", "--n", "24", "--out", target]) == 0
    assert not mine.exists() and all(path.exists() for path in others) and target.is_file()


def test_a_search_removes_orphans_under_its_out_and_prefix_cache(tmp_path, capsys):
    out = tmp_path / "s"
    orphans = [
        out / ORPHAN_NAME.format("top.json"),
        out / "prefix-cache" / ORPHAN_NAME.format("0123abcd.pt"),
        out / "retrain" / "lista" / ORPHAN_NAME.format("checkpoint.pt"),
    ]
    kept = [
        out / "nni-experiments" / "abc" / ORPHAN_NAME.format("x"),  # NNI's folder: not ours
        out / "notes.tmp",
    ]
    for path in orphans + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half a file")
    argv = [*SEARCH, "--protocol", "stagewise", "--max-steps", "6", "--eval-every", "2", "--out", out]
    assert _main(argv) == 0
    assert not any(path.exists() for path in orphans) and all(path.exists() for path in kept)
    assert list(out.rglob(".*.tmp")) == kept[:1]  # only the one in NNI's folder is left
    assert any((out / "prefix-cache").glob("*.pt"))  # the stage-wise search did use the prefix cache


def test_a_study_removes_the_orphans_under_its_out(tmp_path, capsys):
    """Temporary files of a killed study go when the study next runs what they belong to: a
    unit's (its result file, its work folder) when the unit runs, the summary's and the
    problems' when it summarises; a finished unit's files are never touched."""
    config = tmp_path / "study.yml"
    config.write_text(yaml.safe_dump(STUDY))
    out = tmp_path / "out"
    (out / "problems").mkdir(parents=True)
    (out / "config.yml").write_text(config.read_text())
    unit = _first_unit(config, out)
    work = out / "work" / unit.relative_to(out / "units").with_suffix("")
    orphans = [
        out / ORPHAN_NAME.format("study.json"),
        out / "problems" / ORPHAN_NAME.format("a.pt"),
        unit.parent / ORPHAN_NAME.format(unit.name),
        work / ORPHAN_NAME.format("checkpoint.pt"),
    ]
    for path in orphans:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half a file")
    assert _main(["study", "--config", config, "--out", out, "--no-progress", "--device", "cpu"]) == 0
    assert not any(path.exists() for path in orphans)
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("*.lock"))


def test_remove_orphans_matches_only_the_atomic_write_pattern(tmp_path):
    from nni_lista.base.io import remove_orphans, remove_orphans_of

    names = {
        ".checkpoint.pt.abcdefgh.tmp": True,
        ".m.json.a_1b2c3d.tmp": True,
        ".m.json.ABCDEFGH.tmp": False,
        ".m.json.abc.tmp": False,
        "m.json.abcdefgh.tmp": False,
        ".m.json.abcdefgh.tmp.png": False,
    }
    for name in names:
        (tmp_path / name).write_text("x")
    (tmp_path / ".link.abcdefgh.tmp").symlink_to(tmp_path / "m.json.abcdefgh.tmp")
    assert sorted(p.name for p in remove_orphans(tmp_path)) == sorted(n for n, gone in names.items() if gone)
    assert (tmp_path / ".link.abcdefgh.tmp").is_symlink()  # links are not ours to delete
    (tmp_path / ".a.pt.abcdefgh.tmp").write_text("x")
    (tmp_path / ".b.pt.abcdefgh.tmp").write_text("x")
    assert [p.name for p in remove_orphans_of(tmp_path / "a.pt")] == [".a.pt.abcdefgh.tmp"]
    assert remove_orphans_of(tmp_path / "missing" / "a.pt") == []


# ----------------------------------------------------------------------------- I. an exposed manager, a dead manager


class _TouchFile:
    """Unpickling this creates the file ``path`` (a shell command: code ran)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _listener(host: str):
    import socket

    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen()
    return sock


def test_a_trial_refuses_an_exposed_manager_on_the_parameter_file_route(tmp_path):
    """NNI 3.0's local trial runtime gives a trial NNI_PLATFORM, NNI_SYS_DIR (parameter.cfg's
    folder) and NNI_TRIAL_COMMAND_CHANNEL (the manager's URL) together. A real socket on 0.0.0.0
    plays the manager's port; psutil is not faked. The trial refuses before reading parameter.cfg,
    whose payload would create a marker file under NNI's own decoder."""
    import base64
    import pickle

    sysdir = tmp_path / "trial"
    sysdir.mkdir()
    payload = base64.b64encode(pickle.dumps(_TouchFile(tmp_path / "pwned"))).decode()
    record = {"parameter_id": 0, "parameters": {"layer1/neuron": {"__nni_obj__": payload}}}
    (sysdir / "parameter.cfg").write_text(json.dumps(record))
    before = _tree(tmp_path)
    before.pop("trial", None)  # the folder's time changes when NNI's runtime adds trial.log
    with _listener("0.0.0.0") as manager:
        port = manager.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("NNI_")}
        env.update(
            NNI_PLATFORM="local",
            NNI_SYS_DIR=str(sysdir),
            NNI_OUTPUT_DIR=str(sysdir),
            NNI_TRIAL_JOB_ID="exposed",
            NNI_EXP_ID="exposed",
            NNI_TRIAL_COMMAND_CHANNEL=f"http://localhost:{port}/env/exposed/exposed",
        )
        out = subprocess.run(
            [sys.executable, "-m", "nni_lista", "trial", "--space", "paper", "--layers", "4", "--m", "12", "--n", "24"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr, out.stderr
    assert (
        f"NNI's manager on port {port} listens on 0.0.0.0" in out.stderr
        and "NNI_LISTA_ALLOW_EXPOSED_MANAGER=1" in out.stderr
    )
    assert not (tmp_path / "pwned").exists()
    # parameter.cfg untouched, no metrics, nothing else written (NNI's runtime opens its own trial.log there)
    assert {k: v for k, v in _tree(tmp_path).items() if k not in ("trial", "trial/trial.log")} == before


def test_the_exposed_manager_check_sees_real_sockets(monkeypatch):
    from nni_lista.search import trial_parameters

    monkeypatch.delenv(trial_parameters.ALLOW_EXPOSED, raising=False)
    for host, refused in (("0.0.0.0", True), ("127.0.0.1", False)):
        with _listener(host) as manager:
            monkeypatch.setenv("NNI_TRIAL_COMMAND_CHANNEL", f"http://localhost:{manager.getsockname()[1]}/env/e/t")
            if refused:
                with pytest.raises(trial_parameters.UsageError, match="listens on 0.0.0.0"):
                    trial_parameters.refuse_exposed_manager()
                monkeypatch.setenv(trial_parameters.ALLOW_EXPOSED, "1")
                trial_parameters.refuse_exposed_manager()  # the user opted in
                monkeypatch.delenv(trial_parameters.ALLOW_EXPOSED)
            else:
                trial_parameters.refuse_exposed_manager()


def _stored_experiment(run: Path, params) -> Path:
    """A run directory with top.json naming experiment 'abcd1234', whose NNI database stores ``params``."""
    import sqlite3

    experiments = run / "nni-experiments"
    (experiments / "abcd1234" / "db").mkdir(parents=True)
    with sqlite3.connect(experiments / "abcd1234" / "db" / "nni.sqlite") as db:
        db.execute("create table ExperimentProfile (params text, id text, revision integer)")
        db.execute(
            "insert into ExperimentProfile values (?, 'abcd1234', 1)",
            (params if isinstance(params, str) else json.dumps(params),),
        )
    db.close()
    (run / "top.json").write_text(json.dumps({"nni_experiment": {"id": "abcd1234", "directory": str(experiments)}}))
    return experiments


def _nas_config(run: Path) -> dict:
    """What NNI's manager stores for a `search --port` experiment (a local NAS experiment)."""
    from nni.nas.experiment.config import NasExperimentConfig

    config = NasExperimentConfig("ts", "simplified", "local")
    config.trial_concurrency = 1
    config.experiment_working_directory = str(run / "nni-experiments")
    return config.json()


def test_view_when_its_manager_dies_is_one_line_through_the_cli(tmp_path, capfd, monkeypatch):
    import psutil

    from nni_manager import free_port

    _stored_experiment(tmp_path, _nas_config(tmp_path))
    dies = tmp_path / "dies.js"
    dies.write_text("process.exit(7);\n")  # loaded by node before the manager's code: the manager ends at once
    monkeypatch.setenv("NODE_OPTIONS", f"--require={dies}")
    port = free_port()
    try:
        code = _main(["view", tmp_path, "--port", port])
        captured = capfd.readouterr()
    finally:  # a manager that answered after all is ours to stop, by its PID
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "abcd1234" in " ".join(child.cmdline()):
                    child.kill()
    assert code == 1, captured
    err = captured.err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith("nni-lista view: NNI's manager for experiment abcd1234") and f"port {port}" in err, err
    assert "http://" not in captured.out + captured.err


def _crafted_config(run: Path, marker: Path) -> dict:
    import base64
    import pickle

    config = _nas_config(run)
    config["trialCommand"] = {"__nni_obj__": base64.b64encode(pickle.dumps(_TouchFile(marker))).decode()}
    return config


def test_nni_own_reader_would_run_a_crafted_experiment_database(tmp_path):
    """The premise of the next test: NNI's reader of a stopped experiment's config (what `nnictl
    view` and NNI's launcher use) runs the payload (if this fails, NNI changed)."""
    from nni.experiment import launcher

    experiments = _stored_experiment(tmp_path, _crafted_config(tmp_path, tmp_path / "pwned"))
    launcher.get_stopped_experiment_config_json("abcd1234", str(experiments))
    assert (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "how, needle",
    [
        ("marker", "which NNI would decode as an object"),
        ("not json", "is not JSON"),
        ("no row", "holds no config"),
        ("not a database", "cannot read"),
    ],
)
def test_view_refuses_a_crafted_or_damaged_experiment_database(tmp_path, capsys, how, needle):
    params = {"marker": _crafted_config(tmp_path, tmp_path / "pwned"), "not json": "{'a': 1"}.get(
        how, _nas_config(tmp_path)
    )
    experiments = _stored_experiment(tmp_path, params)
    db = experiments / "abcd1234" / "db" / "nni.sqlite"
    if how == "no row":
        import sqlite3

        with sqlite3.connect(db) as connection:
            connection.execute("delete from ExperimentProfile")
        connection.close()
    elif how == "not a database":
        db.write_bytes(os.urandom(2048))
    before = _tree(tmp_path)
    _one_line(capsys, 2, ["view", tmp_path, "--port", "8080"], needle)
    assert not (tmp_path / "pwned").exists() and _tree(tmp_path) == before


# ----------------------------------------------------------------------------- deeply nested JSON

DEEP = "[" * 100_000  # json.loads raises RecursionError, not ValueError, on this


def test_deeply_nested_json_files_are_one_line(tmp_path, capsys):
    arch = tmp_path / "arch.json"
    arch.write_text(DEEP)
    _one_line(capsys, 2, ["retrain", "--arch", arch, "--out", tmp_path / "r", *TINY[:4]], "arch.json")
    (tmp_path / "view").mkdir()
    (tmp_path / "view" / "top.json").write_text(DEEP)
    _one_line(capsys, 2, ["view", tmp_path / "view"], "top.json")
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "metrics.json").write_text(DEEP)  # not an nni-lista result: kept, not overwritten
    _one_line(capsys, 2, ["train", "--model", "lista", *TINY, "--out", tmp_path / "train"], "metrics.json")
    assert (tmp_path / "train" / "metrics.json").read_text() == DEEP
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "search.json").write_text(DEEP)
    _one_line(
        capsys,
        2,
        ["search", "--strategy", "random", "--budget", "1", *TINY, "--out", tmp_path / "search"],
        "search.json",
    )
    config = tmp_path / "study.yml"
    config.write_text(yaml.safe_dump(STUDY))
    unit = _first_unit(config, tmp_path / "study")
    unit.parent.mkdir(parents=True)
    unit.write_text(DEEP)
    _one_line(capsys, 2, ["study", "--config", config, "--out", tmp_path / "study", "--device", "cpu"], "damaged")


def test_a_huge_architecture_file_is_refused_unread(tmp_path, capsys):
    from nni_lista.base.limits import MAX_ARCH_FILE_BYTES

    arch = tmp_path / "huge.json"
    with open(arch, "wb") as handle:  # sparse: no 16 MiB of real writes
        handle.truncate(MAX_ARCH_FILE_BYTES + 1)
    _one_line(capsys, 2, ["retrain", "--arch", arch, "--out", tmp_path / "r", *TINY[:4]], "huge.json", "bytes")
    assert not (tmp_path / "r").exists()


def test_make_problem_checks_memory_before_making_the_problem(tmp_path, capsys):
    out = tmp_path / "p.pt"
    _one_line(capsys, 2, ["make-problem", "--m", "100000", "--n", "100000", "--out", out], "100000x100000", "available")
    assert not out.exists()


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan"])
def test_a_dimension_move_share_outside_zero_to_one_is_refused(tmp_path, capsys, value):
    _one_line(
        capsys,
        2,
        ["search", "--strategy", "evolution", *TINY, f"--dimension-prob={value}", "--out", tmp_path / "s"],
        "dimension-prob",
        "[0, 1]",
    )
    assert not (tmp_path / "s").exists()


DEEP_LABELS = {
    "deep": '{"layer200000/neuron": "soft"}',
    "zeros": '{"layer' + "0" * 40 + '200000/neuron": "soft"}',
    "digits": '{"layer' + "7" * 5000 + '/neuron": "soft"}',
}


@pytest.mark.parametrize("case", list(DEEP_LABELS))
@pytest.mark.parametrize("command", ["retrain", "latency"])
def test_every_architecture_reader_bounds_the_depth_before_building_tables(tmp_path, capsys, case, command):
    """`latency --arch` skipped the depth check, `retrain` read only a label's first 40
    characters (leading zeros got past it), and 5,000 digits hit Python's integer-digit limit."""
    arch = tmp_path / "a.json"
    arch.write_text(DEEP_LABELS[case])
    argv = {
        "retrain": ["retrain", "--arch", arch, "--out", tmp_path / "out", *TINY[:4]],
        "latency": [
            "latency",
            "--m",
            "12",
            "--n",
            "24",
            "--layers",
            "3",
            "--repeats",
            "1",
            "--arch",
            arch,
            "--out",
            tmp_path / "out.json",
        ],
    }[command]
    started = time.perf_counter()
    _one_line(capsys, 2, argv, "a.json", f"at most {MAX_LAYERS} layers")
    assert time.perf_counter() - started < 5
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.json").exists()


def test_an_architecture_read_from_dev_zero_is_refused_after_its_cap(tmp_path, capsys):
    """`stat` says /dev/zero holds 0 bytes: the cap is on what is read."""
    from nni_lista.base.limits import MAX_ARCH_FILE_BYTES

    started = time.perf_counter()
    _one_line(
        capsys,
        2,
        ["retrain", "--arch", "/dev/zero", "--out", tmp_path / "r", *TINY[:4]],
        "/dev/zero",
        f"at most {MAX_ARCH_FILE_BYTES}",
    )
    assert time.perf_counter() - started < 5 and not (tmp_path / "r").exists()


def test_load_searched_model_bounds_the_depth():
    from nni_lista.base.errors import UsageError
    from nni_lista.space.spaces import LISTASpace

    started = time.perf_counter()
    with pytest.raises(
        UsageError, match=f"layers 100000 is not allowed: it must be an integer in \\[1, {MAX_LAYERS}\\]"
    ):
        LISTASpace.load_searched_model("lista", m=20, n=40, layers=100000)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"m": 0}, "m 0 is not allowed"),
        ({"m": 50, "n": 40}, "m 50 is not allowed"),
        ({"lam": float("nan")}, "lam nan is not allowed"),
        ({"m": 1_000_000, "n": 1_000_000}, "1000000x1000000 network"),
    ],
)
def test_load_searched_model_refuses_bad_sizes_before_allocating(kwargs, needle):
    from nni_lista.base.errors import UsageError
    from nni_lista.space.spaces import LISTASpace

    arguments = {"m": 20, "n": 40, "layers": 3} | kwargs
    with pytest.raises(UsageError, match=needle):
        LISTASpace.load_searched_model("lista", **arguments)


# ----------------------------------------------------------------------------- J. sizes read from files (issue #33)


def _capped(argv: list[str], cwd: Path, cap: int = 3 << 30) -> subprocess.CompletedProcess:
    """The CLI in a process whose address space is capped: a memory bomb fails the test instead of the machine."""
    import resource

    def cap_memory():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    # the command's own peak resident memory (KiB) goes to stdout's last line, after what it printed
    code = (
        "import resource, sys; from nni_lista import cli; rc = cli.main(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        preexec_fn=cap_memory,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def _peak_bytes(out: subprocess.CompletedProcess) -> int:
    return int(out.stdout.strip().splitlines()[-1]) * 1024


def _search_record(layers: int = 3, problem: object = None, top: object = None) -> dict:
    arch = {"layer1/neuron": "soft"}
    return {
        "top": [{"arch": arch, "metric": 3.0}] if top is None else top,
        "history": [],
        "problem": {"synthetic": {"m": 12, "n": 24}} if problem is None else problem,
        "layers": layers,
        "training": {"max_steps": 5},
        "space": "full",
        "backbone": "lista",
    }


@pytest.mark.parametrize(
    "record, needle",
    [
        (_search_record(layers=100_000), "layers 100000 is not allowed"),
        (_search_record(problem={"synthetic": {"m": 60_000, "n": 60_000}}), "GiB"),
        (_search_record(problem={}), "is not a problem spec"),
        (_search_record(problem={"synthetic": {"m": 12, "n": 24, "colour": 3}}), "colour"),
        (_search_record(top=[1, 2]), "must be a mapping with an arch"),
        (_search_record(top=[{"arch": {"layer" + "0" * 40 + "200000/neuron": "soft"}}]), "beyond 256"),
    ],
)
def test_pareto_checks_every_size_in_top_json_before_allocating(tmp_path, record, needle):
    run = tmp_path / "run"
    run.mkdir()
    (run / "top.json").write_text(json.dumps(record))
    started = time.time()
    out = _capped(["pareto", run, "--out", tmp_path / "front.png"], tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.strip().count("\n") == 0 and needle in out.stderr, out.stderr
    assert time.time() - started < 60  # a refusal, not an allocation that the cap stopped
    assert _peak_bytes(out) < 1 << 30
    assert not (tmp_path / "front.png").exists()


@pytest.mark.parametrize("case", ["deep", "zeros"])
@pytest.mark.parametrize("command", ["retrain", "latency"])
def test_deep_architecture_files_are_refused_under_a_memory_cap(tmp_path, case, command):
    """The memory bombs of the architecture readers, in a capped process: refused with one line, peak under 1 GB."""
    arch = tmp_path / "a.json"
    arch.write_text(DEEP_LABELS[case])
    argv = {
        "retrain": ["retrain", "--arch", arch, "--out", tmp_path / "out", *TINY[:4]],
        "latency": [
            "latency",
            "--m",
            "12",
            "--n",
            "24",
            "--layers",
            "3",
            "--repeats",
            "1",
            "--arch",
            arch,
            "--out",
            tmp_path / "out.json",
        ],
    }[command]
    out = _capped(argv, tmp_path)
    assert (
        out.returncode == 2 and out.stderr.strip().count("\n") == 0 and f"at most {MAX_LAYERS} layers" in out.stderr
    ), out.stderr
    assert _peak_bytes(out) < 1 << 30


def _problem_file(tmp_path: Path, **change) -> Path:
    problem = problems.make_synthetic(problems.SyntheticSettings(m=12, n=24, n_val=20, n_test=20))
    path = tmp_path / "p.pt"
    problems.save(problem, path)
    data = torch.load(path, weights_only=True)
    data.update(change)
    torch.save(data, path)
    return path


def test_a_problem_file_of_stride_zero_tensors_is_refused_before_it_is_touched(tmp_path):
    path = _problem_file(tmp_path, sensing=torch.ones(1).expand(40_000, 80_000))
    out = _capped(["train", "--model", "ista", "--problem", path, "--layers", "2", "--out", tmp_path / "o"], tmp_path)
    assert out.returncode == 2 and "not a contiguous tensor" in out.stderr and out.stderr.strip().count("\n") == 0, (
        out.stderr
    )
    assert _peak_bytes(out) < 1 << 30


def test_a_problem_file_whose_settings_disagree_with_its_tensors_is_refused(tmp_path, capsys):
    data = torch.load(_problem_file(tmp_path), weights_only=True)
    path = _problem_file(tmp_path, settings={**data["settings"], "m": 1_000_000_000, "n": 1_000_000_000})
    _one_line(
        capsys,
        2,
        ["train", "--model", "ista", "--problem", path, "--layers", "2", "--out", tmp_path / "o"],
        "settings say m = 1000000000",
        "tensors have m = 12",
    )


def test_snr_minus_inf_as_a_separate_value_gets_the_value_message(tmp_path, capsys):
    _one_line(capsys, 2, ["make-problem", "--snr", "-inf", "--out", tmp_path / "p.pt"], "--snr", "-inf' is not allowed")
    assert not (tmp_path / "p.pt").exists()


def test_an_output_through_a_link_into_a_system_directory_is_refused(tmp_path, capsys):
    (tmp_path / "etc").symlink_to("/etc")
    _one_line(
        capsys,
        2,
        ["train", "--model", "ista", *TINY, "--out", tmp_path / "etc" / "nni-lista"],
        "nothing may be written under /etc",
    )
    assert not Path("/etc/nni-lista").exists()


def test_a_checkpoint_of_nan_weights_is_not_called_good(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["train", "--model", "lista", "--out", out, *TINY]
    assert _main(argv) == 0
    checkpoint = out / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=True)
    state["model"] = {
        k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state["model"].items()
    }
    torch.save({**state, "finished": False}, checkpoint)
    (out / "metrics.json").unlink()
    capsys.readouterr()
    err = _one_line(capsys, 2, argv, "holds NaN or infinite weights", "not a good state")
    assert "last good checkpoint" not in err


def test_files_torch_reads_must_be_regular_files(tmp_path, capsys):
    """/dev/zero says it holds 0 bytes and never ends: torch would read it until memory runs out."""
    _one_line(
        capsys,
        2,
        ["train", "--model", "ista", "--problem", "/dev/zero", "--layers", "2", "--out", tmp_path / "o"],
        "problem file '/dev/zero' is not a regular file",
    )
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").symlink_to("/dev/zero")
    _one_line(capsys, 2, ["train", "--model", "lista", "--out", out, *TINY], "checkpoint", "is not a regular file")


@pytest.mark.parametrize(
    "name, argv",
    [
        ("config.yml", ["study", "--config", "{file}", "--out", "{tmp}/s"]),
        (
            "table.json",
            [
                "search",
                "--strategy",
                "random",
                "--budget",
                "2",
                "--max-latency",
                "1",
                "--latency-table",
                "{file}",
                *TINY,
                "--out",
                "{tmp}/s",
            ],
        ),
    ],
)
def test_text_files_are_read_up_to_their_cap(tmp_path, capsys, name, argv):
    from nni_lista.base.limits import MAX_RECORD_BYTES

    big = tmp_path / name
    with open(big, "wb") as handle:
        handle.truncate(MAX_RECORD_BYTES + 10)  # sparse: no disk used, and far more than the cap
    argv = [a.format(file=big, tmp=tmp_path) for a in argv]
    err = _one_line(capsys, 2, argv)
    assert str(MAX_RECORD_BYTES) in err or "not a latency table" in err, err


# ---------- K. tampered checkpoints, latency tables (#33 low)


def _tamper(state: dict, how: str) -> dict:
    if how == "no stages_done":
        del state["stages_done"]
    elif how == "stages_done a string":
        state["stages_done"] = "3"
    elif how == "steps -1e18":
        state["steps"] = -(10**18)
    elif how == "seconds nan":
        state["seconds"] = float("nan")
    elif how == "wrong shape":
        name = next(k for k, v in state["model"].items() if v.dim() == 2)
        state["model"][name] = torch.zeros(3, 3)
    elif how == "no optimizer":
        state.pop("optimizer", None)
    return state


@pytest.mark.parametrize(
    "protocol, how, needle",
    [
        ("stagewise", "no stages_done", "stages_done 'missing' is not an integer in [0, 6]"),
        ("stagewise", "stages_done a string", "stages_done '3' is not an integer"),
        ("stagewise", "steps -1e18", "steps -1000000000000000000 is not an integer in [0, 60]"),
        ("stagewise", "wrong shape", "is damaged (RuntimeError"),
        ("e2e", "steps -1e18", "steps -1000000000000000000 is not an integer in [0, 60]"),
        ("e2e", "seconds nan", "seconds nan is not a finite number"),
        ("e2e", "wrong shape", "is damaged (RuntimeError"),
        ("e2e", "no optimizer", "is damaged (KeyError: 'optimizer')"),
    ],
)
def test_a_tampered_checkpoint_with_a_valid_fingerprint_is_one_line(tmp_path, capsys, protocol, how, needle):
    """The fingerprint says "this run", but the counters or tensors are not what a run writes:
    one line naming the checkpoint, and nothing about it in metrics.json."""
    out = tmp_path / "out"
    argv = [
        "train",
        "--model",
        "lista",
        "--out",
        out,
        *TINY[:-4],
        "--max-steps",
        "60",
        "--eval-every",
        "20",
        "--protocol",
        protocol,
        "--device",
        "cpu",
    ]
    assert _main(argv) == 0
    checkpoint = out / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=True)
    torch.save(_tamper({**state, "finished": False}, how), checkpoint)
    (out / "metrics.json").unlink()
    capsys.readouterr()
    _one_line(capsys, 2, argv, str(checkpoint), needle)
    assert not (out / "metrics.json").exists()


def _latency_table(tmp_path: Path) -> dict:
    path = tmp_path / "t.json"
    assert _main(["latency", "--m", "12", "--n", "24", "--layers", "2", "--repeats", "1", "--out", path]) == 0
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda t: t["forms"].pop("coupled"), "forms must map exactly lista, coupled, analytic"),
        (lambda t: t["neurons"]["soft"].pop(), "neurons['soft'] must be a list of 2 finite latencies"),
        (lambda t: t["mechanisms"]["threshold"].update({"1": [0.0, 0.0]}), "mechanisms['threshold'] must map exactly"),
        (lambda t: t["forms"].update(lista=["fast", "slow"]), "forms['lista'] must be a list of 2 finite latencies"),
        (lambda t: t["forms"].update(lista=[-5.0, -5.0]), "forms['lista'] must be a list of 2 finite latencies >= 0"),
        (lambda t: t.update(skip_ms=-1.0), "skip_ms -1.0 is not a finite latency"),
        (lambda t: t.update(constant_ms=-1e9), "constant_ms -1000000000.0 is not allowed"),
        (lambda t: t["key"].update(layers=10**9), "key.layers 1000000000 is not an integer"),
    ],
)
def test_a_damaged_latency_table_is_one_line(tmp_path, capsys, change, needle):
    """Missing forms, short lists, other keys, strings or negative latencies (with which every
    architecture "fits"): refused in one line before the search starts."""
    table = _latency_table(tmp_path)
    change(table)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(table))
    capsys.readouterr()
    _one_line(
        capsys,
        2,
        [
            "search",
            "--strategy",
            "random",
            "--budget",
            "2",
            "--max-latency",
            "1",
            "--latency-table",
            bad,
            *TINY,
            "--out",
            tmp_path / "s",
        ],
        str(bad),
        needle,
    )
    assert not (tmp_path / "s" / "top.json").exists()


def test_the_operator_registries_are_keyed_by_the_vocabulary():
    """architectures.py names every value without importing torch or NNI; the registries that
    build the modules must offer exactly those names."""
    from nni_lista.space import architectures, layers, mechanisms, neurons

    assert tuple(neurons.NEURONS) == architectures.NEURON_NAMES
    assert tuple(layers.FORMS) == architectures.WEIGHT_FORMS
    assert {d: tuple(v) for d, v in mechanisms.MECHANISMS.items()} == architectures.MECHANISM_VALUES
    from nni_lista.space.backbones import BACKBONES
    from nni_lista.search.explore import STRATEGIES
    from nni_lista.search.strategy_names import STRATEGY_INFO

    assert tuple(BACKBONES) == architectures.BACKBONE_NAMES
    assert list(STRATEGIES) == list(STRATEGY_INFO)


def test_the_command_line_parser_imports_neither_nni_nor_the_space():
    """--help and every refusal made while parsing need no NNI (importing it takes seconds)."""
    code = (
        "import sys; from nni_lista import cli; cli.build_parser(); "
        "print(sorted(m for m in sys.modules if m == 'nni' or m.startswith(('nni.', 'nni_lista.space.spaces'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize(
    "make, needle",
    [
        (
            lambda: __import__("nni_lista").LISTASpace.from_preset("full", 20, 40, 100_000),
            "layers 100000 is not allowed",
        ),
        (lambda: __import__("nni_lista").LISTASpace.from_preset("full", 0, 40, 3), "m 0 is not allowed"),
        (lambda: __import__("nni_lista").LISTASpace.from_preset("full", 50, 40, 3), "m 50 is not allowed"),
        (lambda: __import__("nni_lista").LISTASpace.from_preset("full", 10**6, 10**6, 3), "1000000x1000000 network"),
        (
            lambda: __import__("nni_lista.space.ladmm").space.ladmm.DLADMMSpace(20, 40, 100_000),
            "layers 100000 is not allowed",
        ),
        (
            lambda: __import__("nni_lista").build_model("lista", torch.randn(20, 40), 100_000),
            "layers 100000 is not allowed",
        ),
        (
            lambda: __import__("nni_lista").build_model("lista", torch.randn(20, 40), 3, float("nan")),
            "lam nan is not allowed",
        ),
        (lambda: __import__("nni_lista").build_model("lista", torch.randn(50, 40), 3), "m 50 is not allowed"),
        (lambda: __import__("nni_lista").build_model("lista", torch.full((4, 8), float("inf")), 3), "NaN or infinite"),
        (lambda: __import__("nni_lista").build_model("nope", torch.randn(4, 8), 3), "model 'nope' is not allowed"),
    ],
)
def test_public_constructors_check_their_arguments_before_allocating(make, needle):
    """The Python API's constructors of networks and spaces refuse what load_searched_model refuses."""
    from nni_lista.base.errors import UsageError

    with pytest.raises(UsageError, match=re.escape(needle)):
        make()
