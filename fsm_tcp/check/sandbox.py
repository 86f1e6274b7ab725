"""Runs somebody else's program: its own process group and session, a scratch working
directory, a scrubbed environment, resource limits (limits.py), at most a capped amount of
its output read back, and the whole group killed when the scenario ends.

What this does not contain (README, "Checking an implementation"): the network (a network
namespace needs privileges), a process that calls ``setsid`` (it leaves the group; the
process-count watch no longer sees it), and, when the checker runs as root, the kernel's
process limit (root is exempt from RLIMIT_NPROC: the watch counts the group's processes
instead and kills it past the bound).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import limits as limits_module

LIMITS_SCRIPT = Path(limits_module.__file__).resolve()
#: How often a running program's group is looked at (process count), in seconds.
WATCH_EVERY = 0.05
#: Environment variables a program keeps (the rest is dropped: tokens, proxies, paths).
KEPT = ("PATH", "LANG", "LC_ALL", "TERM", "SYSTEMROOT")
#: What a submission folder copy may hold: files up to this size, this many, this much.
COPY_FILE_MAX, COPY_FILES_MAX, COPY_TOTAL_MAX = 1 << 20, 2000, 32 << 20
SKIPPED_DIRS = frozenset({".git", "__pycache__", ".venv", "venv", "node_modules"})


@dataclass(frozen=True)
class Limits:
    """Per program run. 0 leaves a limit as it is."""

    cpu_seconds: int = 60
    address_space: int = 1 << 30  # bytes
    file_size: int = 64 << 20  # bytes, each file it writes (its stdout included)
    open_files: int = 256
    processes: int = 64  # in its group (watched) and, not as root, RLIMIT_NPROC
    output: int = 1 << 20  # bytes of its stdout/stderr/out file read back

    def argv(self) -> list[str]:
        nproc = 0 if os.geteuid() == 0 else _user_processes() + self.processes
        values = (self.cpu_seconds, self.address_space, self.file_size, self.open_files, nproc)
        return [sys.executable, "-I", str(LIMITS_SCRIPT), *map(str, values), "--"]


def _user_processes() -> int:
    """Processes of this user now: RLIMIT_NPROC counts them all, not the group's."""
    uid, count = os.getuid(), 0
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                count += 1
    return count


def scrubbed_env(home: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in KEPT if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(
        HOME=str(home),
        TMPDIR=str(home),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",  # a HANG still shows what it printed
        PYTHONIOENCODING="utf-8",
    )
    return env


def copy_submission(source: Path, into: Path) -> Path:
    """A copy of the program's folder to work in (it may write next to its files, and it
    cannot change the original). Large or many files are left out."""
    into.mkdir(parents=True, exist_ok=True)
    files = total = 0
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if any(part in SKIPPED_DIRS for part in rel.parts) or not path.is_file():
            continue
        size = path.stat().st_size
        if size > COPY_FILE_MAX or files >= COPY_FILES_MAX or total + size > COPY_TOTAL_MAX:
            continue
        (into / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, into / rel)
        files, total = files + 1, total + size
    return into


def read_capped(path: Path, cap: int) -> bytes | None:
    """At most ``cap`` bytes of a file the program wrote (None: it wrote none)."""
    try:
        with path.open("rb") as f:
            return f.read(cap)
    except OSError:
        return None


class Group:
    """A program started in its own session and process group, under limits."""

    def __init__(
        self, command: str | list[str], work: Path, cwd: Path, home: Path, limits: Limits
    ) -> None:
        """``work``: where its stdout and stderr go; ``cwd``: where it runs; ``home``: its
        HOME and TMPDIR."""
        program = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        self.stdout, self.stderr = work / "stdout", work / "stderr"
        self.limits = limits
        self.too_many = 0  # the process count that got it killed, if any
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(
                [*limits.argv(), *program],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd,
                env=scrubbed_env(home),
                start_new_session=True,  # a group of its own: killed whole, children too
            )
        self.started = time.monotonic()
        self.pgid = self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, until: float) -> bool:
        """True when the program ended before ``until`` (monotonic). Meanwhile its group's
        processes are counted; past the bound the group is killed (a CRASH)."""
        while True:
            left = until - time.monotonic()
            try:
                self.proc.wait(max(0.0, min(WATCH_EVERY, left)))
                return True
            except subprocess.TimeoutExpired:
                pass
            count = len(members(self.pgid))
            if count > self.limits.processes:
                self.too_many = count
                self.kill()
                return True
            if left <= 0:
                return False

    def exit_status(self) -> int | None:
        return self.proc.poll()

    def kill(self) -> None:
        """SIGKILL the whole group until none of it is left (a forking program keeps adding
        members while it is being killed)."""
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(0.05)
            if not members(self.pgid):
                return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(1.0)

    def read(self, path: Path) -> bytes | None:
        return read_capped(path, self.limits.output)


def members(pgid: int) -> list[int]:
    """Live processes (zombies excepted) in process group ``pgid``; Linux only, else the
    leader alone."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except OSError:
            return []
        return [pgid]
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found
