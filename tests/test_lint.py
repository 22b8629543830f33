"""ruff (pyflakes and pycodestyle's statement errors, pyproject.toml's [tool.ruff]) finds nothing
in the package, tests, benchmarks and examples, `ruff format` would change nothing, mypy passes on the package;
and each would find a planted fault."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).with_name("ruff")


def _ruff(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(RUFF), "check", "--config", str(REPO / "pyproject.toml"), *map(str, paths)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ruff_finds_nothing():
    result = _ruff(REPO / "nni_lista", REPO / "tests", REPO / "benchmarks", REPO / "examples")
    assert result.returncode == 0, result.stdout[-3000:]


def test_ruff_finds_a_planted_unused_import(tmp_path):
    shutil.copy(REPO / "nni_lista" / "space" / "architectures.py", tmp_path / "architectures.py")
    with open(tmp_path / "architectures.py", "a") as handle:
        handle.write("\nimport itertools  # deliberate: unused\n")
    result = _ruff(tmp_path / "architectures.py")
    assert result.returncode == 1 and "F401" in result.stdout, result.stdout


def test_ruff_format_leaves_everything_as_it_is():
    """``ruff format --check`` (line length 120, pyproject.toml) would reformat no file."""
    result = subprocess.run(
        [str(RUFF), "format", "--check", "--config", str(REPO / "pyproject.toml"), "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_ruff_format_would_change_a_planted_long_call(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("x = dict(" + ", ".join(f"key{i}={i}" for i in range(30)) + ")\n")
    result = subprocess.run(
        [str(RUFF), "format", "--check", "--config", str(REPO / "pyproject.toml"), str(planted)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1 and "planted.py" in result.stdout, result.stdout


def _mypy(*paths: str) -> subprocess.CompletedProcess:
    mypy = Path(sys.executable).with_name("mypy")
    return subprocess.run(
        [str(mypy), "--config-file", str(REPO / "pyproject.toml"), "--no-incremental", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_type_checker_passes_on_the_package():
    """mypy over ``nni_lista/`` ([tool.mypy] in pyproject.toml: the modules still listed there are skipped)."""
    result = _mypy()
    assert result.returncode == 0, result.stdout[-3000:]


def test_type_checker_finds_a_planted_error(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def size(n: int) -> int:\n    return n\n\n\nsize('four')\n")
    result = _mypy(str(planted))
    assert result.returncode == 1 and "arg-type" in result.stdout, result.stdout
