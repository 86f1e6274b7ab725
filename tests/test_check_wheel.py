"""The package as users get it (issue 15, point 7): the built wheel holds every subpackage,
installs into a fresh virtual environment, and its ``fsm-tcp`` runs --help, check --list, a
demo and a short check from there (nothing of this source tree on the path).

Part of the default run, as users get the package this way; it needs the package index for
the build backend and the dependencies (``-m wheel`` runs it alone).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = Path(__file__).resolve().parent / "check_mutants"


def _run(*argv: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


def _source_copy(into: Path) -> Path:
    """The tree as a clone has it (tracked and new files, nothing ignored: no .venv)."""
    listed = _run("git", "ls-files", "-co", "--exclude-standard", cwd=ROOT).stdout.split("\n")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, into / name)
    return into


@pytest.mark.wheel
@pytest.mark.skipif(shutil.which("git") is None, reason="lists the tree with git")
@pytest.mark.timeout(900)
def test_the_wheel_installs_into_a_fresh_venv_and_runs(tmp_path: Path) -> None:
    source = _source_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, source, cwd=tmp_path)
    (wheel,) = dist.glob("fsm_tcp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "fsm_tcp").rglob("__init__.py")}
    assert {f"{p}/__init__.py" for p in packages} <= names  # every subpackage
    assert {"fsm_tcp/check/driver.py", "fsm_tcp/check/limits.py"} <= names
    assert "fsm_tcp/check/examples/run_autograder" in names and "fsm_tcp/py.typed" in names

    venv = tmp_path / "fresh"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=tmp_path)
    fsm_tcp = venv / "bin" / "fsm-tcp"
    work = tmp_path / "elsewhere"  # not the source tree: only the installed package counts
    work.mkdir()
    assert "check" in _run(fsm_tcp, "--help", cwd=work).stdout
    listed = _run(fsm_tcp, "check", "--list", cwd=work).stdout
    assert "lost-ack-data-last" in listed and "loss-20-seed-3" in listed
    demo = _run(fsm_tcp, "demo", "--quiet", "--size", "2000", "--loss", "0.1", cwd=work)
    assert "verified:        byte-exact" in demo.stdout
    shutil.copy(MUTANTS / "clean.py", work / "SocketTCP.py")
    shutil.copy(MUTANTS / "mutant_base.py", work)
    check = _run(
        fsm_tcp, "check", "--module", "SocketTCP.py", "--scenario", "lost-hs-ack",
        "--timeout-scale", "0.3", cwd=work,
    )  # fmt: skip
    assert "6 scenarios: 6 PASS" in check.stdout  # both roles: no-faults, len-1-digit, lost-hs-ack
