"""fsm-tcp check runs somebody else's code (issue 15, point 6): hostile programs each get
CRASH or HANG within their bound, leave no process behind, and the checker is fine after.

Each program binds the server's port first (as a server under test would), then misbehaves:
unbounded allocation, a fork loop, gigabytes to stdout and to a file, SIGTERM ignored and
sleeping forever. Short bounds (SCALE) keep the hangs short.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fsm_tcp.check import check
from fsm_tcp.check.runner import SERVER, Options, Program, module_program
from fsm_tcp.check.sandbox import Limits, members, scrubbed_env

HERE = Path(__file__).resolve().parent
SCALE = 0.05
#: What each hostile program must get in the no-fault run (the rest is NOT RUN: no
#: conversation is possible with any of them).
HOSTILE = {
    "allocate": "CRASH",  # MemoryError under the address-space limit
    "fork_loop": "CRASH",  # killed past the process-count bound
    "flood_stdout": "CRASH",  # the file-size limit on its redirected output
    "flood_file": "CRASH",
    "sleep_forever": "HANG",  # SIGTERM ignored: the group is killed with SIGKILL
}


def _processes_mentioning(token: str) -> list[str]:
    """Command lines of live processes holding ``token`` (zombies hold nothing)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if token in cmdline and state != "Z":
            found.append(cmdline)
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes through /proc")
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_program_gets_its_verdict_and_leaves_no_process(
    name: str, tmp_path: Path
) -> None:
    token = f"hostile-{name}-{os.getpid()}"
    script = tmp_path / f"{token}.py"
    shutil.copy(HERE / "hostile" / f"{name}.py", script)
    program = Program(SERVER, f"python3 {script.name} {{port}}", "stdout", name, tmp_path)
    outcome = check([program], Options(timeout_scale=SCALE, only=("lost-syn",)))
    verdicts = {r.scenario.name: r.verdict for r in outcome.results}
    assert verdicts["no-faults"].verdict == HOSTILE[name], verdicts["no-faults"].detail
    assert {v.verdict for n, v in verdicts.items() if n != "no-faults"} == {"NOT RUN"}
    assert outcome.roles[SERVER].no_conversation
    assert _processes_mentioning(token) == []
    # nothing it wrote reached the folder it came from: it ran in a scratch copy
    assert sorted(p.name for p in tmp_path.iterdir()) == [script.name]


@pytest.mark.timeout(60)
def test_the_checker_is_fine_after_hostile_programs() -> None:
    program = module_program(SERVER, HERE / "check_mutants" / "clean.py", "SocketTCP")
    outcome = check([program], Options(timeout_scale=0.3, only=("lost-data",)))
    assert {r.verdict.verdict for r in outcome.results} == {"PASS"}


def test_the_environment_is_scrubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = scrubbed_env(tmp_path)
    assert "GITHUB_TOKEN" not in env and "PYTHONPATH" not in env
    assert env["HOME"] == env["TMPDIR"] == str(tmp_path) and env["PATH"]


def test_limits_run_the_program_through_the_limits_script() -> None:
    argv = Limits(cpu_seconds=7, address_space=1 << 20).argv()
    assert argv[1] == "-I" and argv[2].endswith("limits.py") and argv[-1] == "--"
    assert argv[3:5] == ["7", str(1 << 20)]
    assert members(os.getpgrp())  # this test's own group has a member: the test itself


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes through /proc")
@pytest.mark.timeout(60)
def test_ctrl_c_ends_the_check_at_once_and_kills_the_program(tmp_path: Path) -> None:
    token = f"hostile-interrupted-{os.getpid()}"
    shutil.copy(HERE / "hostile" / "sleep_forever.py", tmp_path / f"{token}.py")
    check = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fsm_tcp",
            "check",
            "server",
            "--cmd",
            f"python3 {token}.py {{port}}",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # a test runner may start us with SIGINT ignored; the check must see it as a user would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:

        def program() -> list[str]:  # the check's own command line names the token too
            return [c for c in _processes_mentioning(token) if "fsm_tcp" not in c]

        deadline = time.monotonic() + 30
        while not program() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert program(), "the program never started"
        check.send_signal(signal.SIGINT)
        out, _ = check.communicate(timeout=20)  # not the 60 s bound of the no-fault run
    finally:
        check.kill()
    assert check.returncode == 130, out
    assert "NOT RUN the check was interrupted" in out and "interrupted" in out.splitlines()[-1]
    assert _processes_mentioning(token) == []
