"""The sans-IO listening side: turns SYNs into new connections, routes the rest to them.

PROTOCOL.md 2: the server answers from a new socket per connection, but a client may still
send to the listener (its final ACK, a duplicate SYN); those are routed to the connection
already made for that client address, never to a second one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .config import Config
from .engine import Connection
from .errors import MalformedSegment
from .events import Address
from .link import Tracer
from .segment import parse


@dataclass
class ListenerStats:
    accepted: int = 0
    malformed: int = 0
    stray: int = 0
    half_open_dropped: int = 0


def _deliver(conn: Connection, data: bytes, addr: Address, now: float) -> None:
    conn.receive_datagram(data, addr, now, via_listener=True)


class Listener:
    """Demultiplexes datagrams arriving at the listening address."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        rng: random.Random | None = None,
        max_half_open: int = 1024,
        tracer_for: Callable[[str], Tracer | None] | None = None,
        route: Callable[[Connection, bytes, Address, float], None] | None = None,
    ) -> None:
        self.config = config or Config()
        self.stats = ListenerStats()
        self.max_half_open = max_half_open
        self._rng = rng or random.Random()
        self._tracer_for = tracer_for
        #: How a datagram for an existing connection reaches it; drivers whose connections
        #: live in other threads override the default (deliver at once).
        self._route = route or _deliver
        self._conns: dict[Address, Connection] = {}
        self._half_open: dict[Address, Connection] = {}  # arrival order: oldest first
        self._evicted: list[Connection] = []
        self._prune_at = 64

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> Connection | None:
        """Feed a datagram that reached the listener; returns a connection it just opened."""
        conn = self._conns.get(addr)
        if conn is not None:
            if not conn.is_closed:
                self._route(conn, data, addr, now)
                return None
            del self._conns[addr]
        try:
            seg = parse(data)
        except MalformedSegment:
            self.stats.malformed += 1
            return None
        if not seg.syn or seg.ack or seg.fin:
            self.stats.stray += 1
            return None
        self._bound_half_open(now)
        self._prune_now_and_then()
        name = f"server#{self.stats.accepted + 1}"
        tracer = self._tracer_for(name) if self._tracer_for else None
        conn = Connection(self.config, rng=self._rng, tracer=tracer, name=name)
        conn.listen(now)
        conn.receive_datagram(data, addr, now)
        self._conns[addr] = conn
        self._half_open[addr] = conn
        self.stats.accepted += 1
        return conn

    def forget(self, conn: Connection) -> None:
        """The driver is done with ``conn``; later datagrams from its peer start afresh."""
        if conn.peer is not None and self._conns.get(conn.peer) is conn:
            del self._conns[conn.peer]

    def take_evicted(self) -> list[Connection]:
        """Half-open connections abandoned to make room since the last call (now CLOSED):
        the driver frees what it holds for them (sockets, tasks)."""
        evicted, self._evicted = self._evicted, []
        return evicted

    def half_open(self) -> int:
        """Handshakes pending (counted exactly; O(pending))."""
        return sum(1 for c in self._half_open.values() if c.life == "SYN_RCVD")

    def _bound_half_open(self, now: float) -> None:
        """Keep fewer than max_half_open handshakes pending: the oldest are abandoned first.

        ``_half_open`` is in arrival order and may hold entries that have since completed or
        closed; they are dropped as they reach the front, so each SYN costs O(1) amortised.
        """
        pending = self._half_open
        while len(pending) >= self.max_half_open:
            addr = next(iter(pending))
            conn = pending.pop(addr)
            if conn.life == "SYN_RCVD":
                conn.close(now)
                self._evicted.append(conn)
                self.stats.half_open_dropped += 1

    def _prune_now_and_then(self) -> None:
        """Forget closed connections once the table has doubled: O(1) amortised per SYN."""
        if len(self._conns) < self._prune_at:
            return
        for addr in [a for a, c in self._conns.items() if c.is_closed]:
            del self._conns[addr]
        for addr in [a for a, c in self._half_open.items() if c.life != "SYN_RCVD"]:
            del self._half_open[addr]
        self._prune_at = max(64, 2 * len(self._conns))

    def __len__(self) -> int:
        return len(self._conns)
