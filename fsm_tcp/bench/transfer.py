"""One fsm_tcp message over real loopback UDP, receiver in a process of its own: the one
transfer every fsm_tcp figure of the bench is timed with."""

from __future__ import annotations

import time
from dataclasses import dataclass
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
