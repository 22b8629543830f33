"""How long a hostile input takes to be refused, as a user meets it: a fresh `nni-lista` process each.

    .venv/bin/python benchmarks/hostile_cli.py [--out results/hostile]

Each case of the hostile-files issue (#33) is run as its own process, ``python -m nni_lista ...``
(startup and imports included, as a user would wait for them), with its wall time, its peak
resident memory (``ru_maxrss`` of the child), its exit code and how many lines it wrote to
stderr. A case passes when it exits with 2 after one line, within 5 s and under 1 GB. The
Python API's cases (``LISTASpace.load_searched_model``) are timed in one process after the import,
which is reported apart. The files are made under a temporary directory (the tampered
checkpoints from one short training run, not timed). Timings come from a shared 2-core machine:
run it idle. Writes ``OUT/timing.md`` and ``OUT/timing.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from nni_lista.base.io import write_json, write_text
from nni_lista.base.tables import markdown_table

SECONDS, PEAK_BYTES = 5.0, 1 << 30
TINY = [
    "--m",
    "12",
    "--n",
    "24",
    "--layers",
    "2",
    "--max-steps",
    "60",
    "--eval-every",
    "20",
    "--batch",
    "16",
    "--device",
    "cpu",
]


def run(argv: list, cwd: Path) -> dict:
    """One fresh process: wall seconds, peak resident bytes, exit code, stderr lines."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "nni_lista", *map(str, argv)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    err = child.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    return {
        "seconds": round(seconds, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),
        "exit": code,
        "lines": len(err.strip().splitlines()),
        "message": err.strip()[-300:],
    }


def make_cases(tmp: Path) -> dict[str, list]:
    """The cases by name -> argv (files made under ``tmp``)."""
    import torch

    from nni_lista.problem import problems

    deep = {
        "deep": '{"layer200000/neuron": "soft"}',
        "zeros": '{"layer' + "0" * 40 + '200000/neuron": "soft"}',
        "digits": '{"layer' + "7" * 5000 + '/neuron": "soft"}',
    }
    cases: dict[str, list] = {}
    for name, text in deep.items():
        (tmp / f"{name}.json").write_text(text)
        cases[f"retrain --arch ({name} layer number)"] = [
            "retrain",
            "--arch",
            tmp / f"{name}.json",
            "--out",
            tmp / "o",
            *TINY[:4],
        ]
        cases[f"latency --arch ({name} layer number)"] = [
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
            tmp / f"{name}.json",
            "--out",
            tmp / "t.json",
        ]
    cases["retrain --arch /dev/zero"] = ["retrain", "--arch", "/dev/zero", "--out", tmp / "o", *TINY[:4]]
    big = tmp / "big.json"
    with open(big, "wb") as handle:
        handle.truncate(59 << 20)  # sparse: 59 MB that cost no disk
    cases["latency --arch (a 59 MB file)"] = [
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
        big,
        "--out",
        tmp / "t.json",
    ]
    records = {
        "layers 100000": {"layers": 100_000},
        "m = n = 60000": {"problem": {"synthetic": {"m": 60_000, "n": 60_000}}},
        "problem {}": {"problem": {}},
        "an unknown problem key": {"problem": {"synthetic": {"m": 12, "n": 24, "colour": 3}}},
        "top [1, 2]": {"top": [1, 2]},
    }
    for name, change in records.items():
        run_dir = tmp / f"run-{len(cases)}"
        run_dir.mkdir()
        record = {
            "top": [{"arch": {"layer1/neuron": "soft"}, "metric": 3.0}],
            "history": [],
            "problem": {"synthetic": {"m": 12, "n": 24}},
            "layers": 3,
            "training": {"max_steps": 5},
            "space": "full",
            "backbone": "lista",
        } | change
        (run_dir / "top.json").write_text(json.dumps(record))
        cases[f"pareto (top.json: {name})"] = ["pareto", run_dir, "--out", tmp / "front.png"]
    good = problems.make_synthetic(problems.SyntheticSettings(m=12, n=24, n_val=20, n_test=20))
    for name, change in {
        "stride-0 tensors": {"sensing": torch.ones(1).expand(40_000, 80_000)},
        "settings that disagree with the tensors": "lie",
    }.items():
        path = tmp / f"p-{len(cases)}.pt"
        problems.save(good, path)
        data = torch.load(path, weights_only=True)
        data.update({"settings": {**data["settings"], "m": 10**9, "n": 10**9}} if change == "lie" else change)
        torch.save(data, path)
        cases[f"train --problem ({name})"] = [
            "train",
            "--model",
            "ista",
            "--problem",
            path,
            "--layers",
            "2",
            "--out",
            tmp / "o",
        ]
    trained = tmp / "trained"  # one short stage-wise run; its checkpoint is tampered with below
    assert run(["train", "--model", "lista", "--out", trained, *TINY, "--protocol", "stagewise"], tmp)["exit"] == 0
    state = torch.load(trained / "checkpoint.pt", weights_only=True)
    tampered = {
        "no stages_done": lambda s: s.pop("stages_done"),
        "stages_done a string": lambda s: s.update(stages_done="3"),
        "steps -1e18": lambda s: s.update(steps=-(10**18)),
        "a tensor of another shape": lambda s: s["model"].update({next(iter(s["model"])): torch.zeros(3, 3)}),
    }
    for name, change in tampered.items():
        out = tmp / f"tampered-{len(cases)}"
        out.mkdir()
        copy = {**state, "model": dict(state["model"])}
        change(copy)
        torch.save(copy, out / "checkpoint.pt")
        cases[f"train, resuming a checkpoint ({name})"] = [
            "train",
            "--model",
            "lista",
            "--out",
            out,
            *TINY,
            "--protocol",
            "stagewise",
        ]
    table = tmp / "table.json"
    assert (
        run(["latency", "--m", "12", "--n", "24", "--layers", "2", "--repeats", "1", "--out", table], tmp)["exit"] == 0
    )
    good_table = json.loads(table.read_text())
    changes = {
        "a missing form": lambda t: t["forms"].pop("coupled"),
        "a short list": lambda t: t["neurons"]["soft"].pop(),
        "an integer key": lambda t: t["mechanisms"]["threshold"].update({"1": [0.0, 0.0]}),
        "string values": lambda t: t["forms"].update(lista=["fast", "slow"]),
        "negative latencies": lambda t: t["forms"].update(lista=[-5.0, -5.0]),
    }
    for name, change in changes.items():
        bad = json.loads(json.dumps(good_table))
        change(bad)
        path = tmp / f"table-{len(cases)}.json"
        path.write_text(json.dumps(bad))
        cases[f"search --latency-table ({name})"] = [
            "search",
            "--strategy",
            "random",
            "--budget",
            "2",
            "--max-latency",
            "1",
            "--latency-table",
            path,
            *TINY[:6],
            "--out",
            tmp / "s",
        ]
    return cases


API_CASES = {
    "layers=100000": {"layers": 100_000},
    "m=0": {"m": 0},
    "m > n": {"m": 50, "n": 40},
    "lam=nan": {"lam": float("nan")},
    "m = n = 1e6": {"m": 1_000_000, "n": 1_000_000},
}


def api_cases() -> tuple[float, dict]:
    """The Python API's cases in this process: the import's seconds, then each call's."""
    started = time.perf_counter()
    from nni_lista import LISTASpace
    from nni_lista.base.errors import UsageError

    imported = time.perf_counter() - started
    found = {}
    for name, change in API_CASES.items():
        started = time.perf_counter()
        try:
            LISTASpace.load_searched_model("lista", **({"m": 20, "n": 40, "layers": 3} | change))
            error = None
        except UsageError as exc:
            error = str(exc)
        found[name] = {"seconds": round(time.perf_counter() - started, 4), "usage_error": error}
    return imported, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/hostile"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        cases = make_cases(tmp)
        found = {case: run(argv, tmp) for case, argv in tqdm(cases.items(), desc="hostile cases", unit="case")}
    rows = [
        [
            case,
            f"{r['seconds']:.2f}",
            f"{r['peak_mb']:.0f}",
            str(r["exit"]),
            str(r["lines"]),
            "yes"
            if r["exit"] == 2 and r["lines"] == 1 and r["seconds"] < SECONDS and r["peak_mb"] * 2**20 < PEAK_BYTES
            else "NO",
        ]
        for case, r in found.items()
    ]
    imported, api = api_cases()
    rows += [
        [
            f"Python: load_searched_model('lista', {case})",
            f"{r['seconds']:.4f} (after the import)",
            "",
            "UsageError" if r["usage_error"] else "none",
            "1" if r["usage_error"] else "",
            "yes" if r["usage_error"] and r["seconds"] < SECONDS else "NO",
        ]
        for case, r in api.items()
    ]
    table = markdown_table(
        ["case", "seconds", "peak MB", "exit", "stderr lines", f"one line, exit 2, < {SECONDS:g} s, < 1 GB"], rows
    )
    slowest = max(r["seconds"] for r in found.values())
    summary = (
        f"{sum(row[-1] == 'yes' for row in rows)} of {len(rows)} cases pass; slowest command {slowest:.2f} s; "
        f"`from nni_lista import LISTASpace` took {imported:.2f} s"
    )
    write_json(args.out / "timing.json", {"commands": found, "python_api": api, "import_seconds": round(imported, 2)})
    write_text(args.out / "timing.md", f"{summary}\n\n{table}\n")
    print(table)
    print(summary)
    print(f"wrote {args.out}/timing.md and timing.json")


if __name__ == "__main__":
    main()
