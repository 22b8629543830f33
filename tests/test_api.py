"""The public API (issue #29 item 4): ``import nni_lista`` gives the problem, the family, the
spaces, training, search and ``load_searched_model`` under stable names, and the Python example
uses only those."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import nni_lista

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "python_api.py"


def test_every_public_name_resolves():
    for name in nni_lista.__all__:
        assert getattr(nni_lista, name) is not None, name
    assert nni_lista.load_searched_model == nni_lista.LISTASpace.load_searched_model
    assert set(dir(nni_lista)) == set(nni_lista.__all__)


def test_importing_the_package_stays_light():
    code = "import sys, nni_lista; assert 'torch' not in sys.modules and 'nni' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0


def test_the_python_example_uses_only_the_public_names_and_runs(tmp_path):
    tree = ast.parse(EXAMPLE.read_text())
    deep = [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nni_lista")
    ]
    deep += [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("nni_lista.")
    ]
    assert not deep, deep
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "nni_lista"
    }
    assert used and used <= set(nni_lista.__all__), used - set(nni_lista.__all__)
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "OMP_NUM_THREADS": "1",
    }  # NNI keeps its experiments under ~/nni-experiments
    out = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("validation NMSE") == 2 and "ALISTA, untrained" in out.stdout


def test_the_readme_python_quickstart_runs(tmp_path):
    """The README's Python block, run as a user would paste it: it prints ALISTA's test NMSE."""
    import re

    block = re.search(r"## Python quickstart\n\n```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert block is not None
    out = subprocess.run(
        [sys.executable, "-c", block.group(1)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) < 0  # an NMSE in dB below 0: better than the zero estimate
