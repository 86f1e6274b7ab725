"""One fsm_tcp message over real loopback UDP, receiver in a process of its own: the one
transfer every fsm_tcp figure of the bench is timed with."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .peers import digest, exact

#: Selective repeat's segment size, and the raw UDP ceiling's datagram payload.
BIG_MSS = 1400
#: The course's segment size for its congestion-control experiment.
COURSE_MSS = 8


@dataclass(frozen=True)
class Transfer:
    """One fsm_tcp message transfer, from the sender's side."""

    seconds: float  # send() called to send() returned (every byte acknowledged)
    segments: int  # segments the sender's engine sent meanwhile, retransmissions included
    retransmissions: int


def receiver(conn: Any, options: dict[str, Any], loss: float, seed: int) -> None:
    """Child process: accept one connection, read one message, report its digest."""
    from ..socket_tcp import SocketTCP

    server = SocketTCP(loss_rate=loss, seed=seed, **options)
    server.bind(("127.0.0.1", 0))
    conn.send(server.getsockname())
    child, _ = server.accept()
    message = child.recv_message()
    child.recv_close()
    server.close()
    conn.send(digest(message or b""))


def transfer(
    message: bytes,
    options: dict[str, Any] | None = None,
    mode: str = "stop_and_wait",
    loss: float = 0.0,
    seed: int = 1,
) -> Transfer:
    """``message`` from a ``SocketTCP(**options)`` here to one in another process (the same
    options at both ends: mss, window, cc, busy_poll), sent with ``send(message, mode=mode)``
    at ``loss`` each way. Raises RuntimeError unless it arrived byte-exact."""
    from ..socket_tcp import SocketTCP

    opts = options or {}

    def send(address: tuple[str, int]) -> Transfer:
        client = SocketTCP(loss_rate=loss, seed=seed + 1, **opts)
        try:
            client.connect(address)
            stats = client.conn.stats if client.conn is not None else None
            assert stats is not None  # connect() succeeded
            segments, retransmissions = stats.segments_sent, stats.retransmissions
            start = time.perf_counter()
            client.send(message, mode=mode)
            elapsed = time.perf_counter() - start
            client.close()
            return Transfer(
                elapsed,
                stats.segments_sent - segments,
                stats.retransmissions - retransmissions,
            )
        finally:
            client.close()

    return exact(receiver, (opts, loss, seed), send, message, patience=120.0)


def through_cli(message: bytes, options: dict[str, Any], mode: str) -> float:
    """Seconds ``fsm-tcp send`` reports (its --json summary: connect to close) for
    ``message`` as a file, to ``fsm-tcp serve --once`` writing it to a file: both commands as
    a user runs them, each in a process of its own. Raises RuntimeError unless the file
    arrived byte-exact."""
    with tempfile.TemporaryDirectory(prefix="fsm-tcp-bench-") as folder:
        src, dst = Path(folder, "in.bin"), Path(folder, "out.bin")
        src.write_bytes(message)
        flags = [f"--mode={mode}"] + [f"--{k}={v}" for k, v in options.items()]
        serve = [*_CLI, "serve", "--port", "0", "--once", "--quiet", "--output", str(dst)]
        with subprocess.Popen(serve, stderr=subprocess.PIPE) as server:  # reads any mode
            try:
                port = _announced_port(server)
                send = [*_CLI, "send", "127.0.0.1", str(port), str(src), "--json", *flags]
                done = subprocess.run(send, capture_output=True, timeout=300, check=False)
                if done.returncode != 0:
                    raise RuntimeError(f"fsm-tcp send failed: {done.stderr.decode()[-200:]}")
                server.wait(60)
            finally:
                if server.poll() is None:
                    server.kill()
        if digest(dst.read_bytes()) != digest(message):
            raise RuntimeError("benchmark transfer through the CLI was not byte-exact")
        return float(json.loads(done.stdout.splitlines()[-1])["seconds"])


_CLI = (sys.executable, "-m", "fsm_tcp")


def _announced_port(server: subprocess.Popen[bytes]) -> int:
    assert server.stderr is not None
    line = server.stderr.readline().decode()
    found = re.search(r"listening on [\d.]+:(\d+)", line)
    if not found:
        raise RuntimeError(f"fsm-tcp serve announced no address: {line.strip()!r}")
    return int(found.group(1))
