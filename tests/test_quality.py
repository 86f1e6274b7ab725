"""The package stays mypy --strict clean and ruff clean (both come with the test extra)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_mypy_strict_is_clean() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    result = _run("ruff", "check", "fsm_tcp", "tests")
    assert result.returncode == 0, result.stdout + result.stderr
    result = _run("ruff", "format", "--check", "fsm_tcp", "tests")
    assert result.returncode == 0, result.stdout + result.stderr
