"""The package's layers (``nni_lista/__init__.py``) as import-linter contracts in pyproject.toml:
kept by the package, broken by a deliberate upward import in a copy of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, package_parent: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT), str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_package_keeps_its_layers():
    result = _lint(REPO, REPO)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "4 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    shutil.copytree(REPO / "nni_lista", tmp_path / "nni_lista", ignore=shutil.ignore_patterns("__pycache__"))
    neurons = tmp_path / "nni_lista" / "space" / "neurons.py"
    neurons.write_text(
        neurons.read_text() + "\nfrom nni_lista.search import explore  # deliberate: the space importing search code\n"
        "import tianshou  # deliberate: the space importing NNI's RL stack\n"
    )
    labels = tmp_path / "nni_lista" / "space" / "architectures.py"
    labels.write_text(labels.read_text() + "\nimport torch  # deliberate: label maps must not need torch\n")
    layers = tmp_path / "nni_lista" / "space" / "layers.py"
    layers.write_text(layers.read_text() + "\nimport time  # deliberate: the space timing something\n")
    result = _lint(tmp_path, tmp_path)
    assert result.returncode != 0
    assert "nni_lista.space.neurons -> nni_lista.search.explore" in result.stdout
    assert (
        "nni_lista.space.neurons -> tianshou" in result.stdout
        and "nni_lista.space.architectures -> torch" in result.stdout
    )
    assert "nni_lista.space.layers -> time" in result.stdout
    assert "0 kept, 4 broken" in result.stdout


@pytest.mark.parametrize(
    "module", ["nni_lista.space.spaces", "nni_lista.space.layers", "nni_lista.search.explore", "nni_lista.study.runner"]
)
def test_importing_the_package_prints_nothing(module):
    """No gym notice, no NNI warning: a user's script that imports the package prints only its own output."""
    out = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout == "" and out.stderr == "", out.stderr
