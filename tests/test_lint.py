"""ruff (pyflakes and pycodestyle's statement errors, pyproject.toml's [tool.ruff]) finds nothing
in the package, tests, benchmarks and examples; and it would find a planted unused import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).with_name("ruff")


def _ruff(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUFF), "check", "--config", str(REPO / "pyproject.toml"), *map(str, paths)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing():
    result = _ruff(REPO / "nni_lista", REPO / "tests", REPO / "benchmarks", REPO / "examples")
    assert result.returncode == 0, result.stdout[-3000:]


def test_ruff_finds_a_planted_unused_import(tmp_path):
    shutil.copy(REPO / "nni_lista" / "space" / "architectures.py", tmp_path / "architectures.py")
    with open(tmp_path / "architectures.py", "a") as handle:
        handle.write("\nimport itertools  # deliberate: unused\n")
    result = _ruff(tmp_path / "architectures.py")
    assert result.returncode == 1 and "F401" in result.stdout, result.stdout
