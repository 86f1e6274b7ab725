"""Stop-and-wait on one core, this tree against another (issue 16 point 4): the other tree is
a git revision, extracted into a temporary directory (never committed, removed afterwards);
both trees run the same two scripts, receiver and sender, pinned to the same CPU, so that
fsm_tcp's per-segment work is all that differs."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: This tree: the directory holding the fsm_tcp package measured.
HERE = Path(__file__).resolve().parents[2]

#: Both scripts pin themselves before importing fsm_tcp, so that SocketTCP's default
#: (busy-polling only with 2+ CPUs) sees the one CPU, and print fsm_tcp's path first, so that
#: the tree measured is known to be the tree meant.
PIN = "import os, sys\nos.sched_setaffinity(0, {int(sys.argv[1])})\nimport fsm_tcp\n"
RECEIVER = (
    PIN
    + """\
import hashlib
from fsm_tcp.socket_tcp import SocketTCP
server = SocketTCP()
server.bind(("127.0.0.1", 0))
print(fsm_tcp.__file__, server.getsockname()[1], flush=True)
child, _ = server.accept()
message = child.recv_message()
child.recv_close()
server.close()
print(hashlib.sha256(message or b"").hexdigest(), flush=True)
"""
)
SENDER = (
    PIN
    + """\
import random, time
from fsm_tcp.socket_tcp import SocketTCP
port, size, seed = map(int, sys.argv[2:5])
message = random.Random(seed).randbytes(size)
client = SocketTCP()
client.connect(("127.0.0.1", port))
start = time.perf_counter()
client.send(message)
elapsed = time.perf_counter() - start
client.close()
print(fsm_tcp.__file__, elapsed, flush=True)
"""
)
SEED = 23
PATIENCE = 300.0


def one_cpu() -> int:
    """The CPU both ends run on: the first this process may run on (0 where the system does
    not say; pinning then fails in the scripts, with one line saying so)."""
    allowed = getattr(os, "sched_getaffinity", None)
    return min(allowed(0)) if allowed is not None else 0


def git(*args: str) -> bytes:
    """``git args`` run in this tree; RuntimeError with git's own words if it fails."""
    try:
        done = subprocess.run(["git", *args], cwd=HERE, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise RuntimeError("git is not installed") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"git {args[0]}: {said[-1] if said else 'failed'}")
    return done.stdout


def short_name(revision: str) -> str:
    return git("rev-parse", "--short", f"{revision}^{{commit}}").decode().strip()


@contextlib.contextmanager
def checked_out(revision: str) -> Iterator[Path]:
    """The fsm_tcp package of ``revision`` in a temporary directory, removed afterwards."""
    archive = git("archive", "--format=tar", f"{revision}^{{commit}}", "fsm_tcp")
    root = Path(tempfile.mkdtemp(prefix="fsm-tcp-tree-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(root, filter="data")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_script(tree: Path, script: str, *args: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_line(proc: subprocess.Popen[str], tree: Path, what: str) -> list[str]:
    """The script's line (fsm_tcp's path, then what it reports), checked to be from ``tree``."""
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line:
        _, err = proc.communicate(timeout=10)
        said = err.strip().splitlines()
        raise RuntimeError(f"the {what} ended early: {said[-1] if said else 'no output'}")
    if not Path(line[0]).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"the {what} imported fsm_tcp from {line[0]}, not from {tree}")
    return line[1:]


def stop_and_wait_on_one_core(tree: Path, size: int, cpu: int) -> float:
    """Seconds for ``tree``'s SocketTCP.send() of ``size`` bytes, both ends pinned to ``cpu``.
    Raises RuntimeError unless the receiver got them byte-exact."""
    from .peers import digest, payload

    receiver = run_script(tree, RECEIVER, cpu)
    sender: subprocess.Popen[str] | None = None
    try:
        (port,) = first_line(receiver, tree, "receiver")
        sender = run_script(tree, SENDER, cpu, port, size, SEED)
        out, err = sender.communicate(timeout=PATIENCE)
        if sender.returncode != 0:
            said = err.strip().splitlines()
            raise RuntimeError(f"the sender failed: {said[-1] if said else sender.returncode}")
        path, elapsed = out.split()
        if not Path(path).resolve().is_relative_to(tree.resolve()):
            raise RuntimeError(f"the sender imported fsm_tcp from {path}, not from {tree}")
        got, _ = receiver.communicate(timeout=30)
        if got.strip() != digest(payload(size, SEED)):
            raise RuntimeError("benchmark transfer was not byte-exact")
        return float(elapsed)
    finally:
        for proc in (receiver, sender):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
