"""A fault-injecting UDP proxy ("user-space netem") for any two endpoints of the protocol.

Clients talk to the proxy's listening port as if it were the server. Each client gets an
upstream socket of its own; every upstream address that answers it (the listener, or the
new per-connection socket a server answers from) is mirrored on a proxy port of its own,
so the client learns a proxy address and keeps talking through the proxy.
Loss, duplication, reordering, delay and jitter apply to every datagram, both directions.

Scripted mode (``schedule=``, fsm_tcp.schedule): each session classifies its datagrams and
drops, duplicates, delays or reorders exactly the segments the schedule names; the random
faults then apply to the rest. ``record=True`` keeps every datagram seen, with its fate, in
``proxy.capture`` (for reports and pcap files).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from dataclasses import dataclass, field

from .errors import InvalidArgument
from .events import Address
from .schedule import C2S, S2C, Decision, Schedule, Scheduler
from .udp import RECV_BUFFER

#: Longest a reordered datagram waits for the next one in its direction to overtake it.
REORDER_HOLD = 0.2


@dataclass(frozen=True)
class Faults:
    loss: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0  # seconds
    jitter: float = 0.0  # seconds, uniform in [-jitter, +jitter], never below zero

    def __post_init__(self) -> None:
        for name in ("loss", "dup", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidArgument(f"--{name} must be a probability in [0, 1], got {value}")
        if self.delay < 0 or self.jitter < 0:
            raise InvalidArgument("--delay and --jitter must be >= 0")


@dataclass
class ProxyStats:
    forwarded: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    sessions: int = 0
    mirrors: int = 0


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@dataclass(frozen=True)
class Captured:
    """One datagram as the proxy saw it, between the two real endpoints."""

    t: float  # wall-clock seconds (time.time()), as a capture file wants
    direction: str  # "c2s" or "s2c"
    src: Address
    dst: Address
    data: bytes
    fate: str  # forwarded, dropped, duplicated, delayed N ms, reordered, ...
    label: str = ""  # the scheduler's name for it, in scripted mode


_Held = tuple[socket.socket, bytes, Address]


@dataclass
class _Session:
    client: Address
    upstream: socket.socket
    mirrors: dict[Address, socket.socket] = field(default_factory=dict)  # upstream -> proxy
    scheduler: Scheduler | None = None
    held: dict[str, list[_Held]] = field(default_factory=lambda: {C2S: [], S2C: []})


class FaultProxy:
    """Run with ``await proxy.start()``; stop with ``proxy.close()``."""

    def __init__(
        self,
        listen: Address,
        target: Address,
        faults: Faults | None = None,
        *,
        seed: int | None = None,
        max_sessions: int = 4096,
        schedule: Schedule | None = None,
        record: bool = False,
    ) -> None:
        self.listen_addr = listen
        self.target = target
        self.faults = faults or Faults()
        self.rng = random.Random(seed)
        self.stats = ProxyStats()
        self.max_sessions = max_sessions
        self.schedule = schedule
        self.record = record
        self.capture: list[Captured] = []
        #: Each session's scheduler, in order of arrival (its unfired rules tell a scenario
        #: that never met the segment it names).
        self.schedulers: list[Scheduler] = []
        self._sessions: dict[Address, _Session] = {}
        self._mirror_owner: dict[int, tuple[_Session, Address]] = {}  # fd -> (session, up)
        self._listen: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> Address:
        self._loop = asyncio.get_running_loop()
        self._listen = _bind(*self.listen_addr)
        self._loop.add_reader(self._listen.fileno(), self._from_client_at_listen)
        address: Address = self._listen.getsockname()
        self.listen_addr = address
        return address

    def close(self) -> None:
        loop = self._loop
        socks = [s.upstream for s in self._sessions.values()]
        socks += [m for s in self._sessions.values() for m in s.mirrors.values()]
        if self._listen is not None:
            socks.append(self._listen)
        for sock in socks:
            if loop is not None:
                loop.remove_reader(sock.fileno())
            sock.close()
        self._sessions.clear()
        self._mirror_owner.clear()
        self._listen = None

    # ------------------------------------------------------------------ client side
    def _from_client_at_listen(self) -> None:
        assert self._listen is not None
        for data, client in self._drain(self._listen):
            session = self._session(client)
            if session is not None:
                self._forward(session, C2S, session.upstream, data, self.target)

    def _from_client_at_mirror(self, fd: int, sock: socket.socket) -> None:
        session, upstream = self._mirror_owner[fd]
        for data, _client in self._drain(sock):
            self._forward(session, C2S, session.upstream, data, upstream)

    def _session(self, client: Address) -> _Session | None:
        session = self._sessions.get(client)
        if session is None:
            if len(self._sessions) >= self.max_sessions:
                self._evict_oldest()
            assert self._loop is not None
            upstream = _bind(self.listen_addr[0], 0)
            session = _Session(client, upstream)
            if self.schedule is not None:
                session.scheduler = Scheduler(self.schedule)
                self.schedulers.append(session.scheduler)
            self._sessions[client] = session
            self.stats.sessions += 1
            self._loop.add_reader(upstream.fileno(), self._from_server, session)
        return session

    def _evict_oldest(self) -> None:
        client = next(iter(self._sessions))
        session = self._sessions.pop(client)
        assert self._loop is not None
        for sock in [session.upstream, *session.mirrors.values()]:
            self._mirror_owner.pop(sock.fileno(), None)
            self._loop.remove_reader(sock.fileno())
            sock.close()

    # ------------------------------------------------------------------ server side
    def _from_server(self, session: _Session) -> None:
        for data, upstream in self._drain(session.upstream):
            if upstream == self.target:
                out = self._listen
            else:
                out = session.mirrors.get(upstream) or self._mirror(session, upstream)
            if out is not None:
                self._forward(session, S2C, out, data, session.client, upstream)

    def _mirror(self, session: _Session, upstream: Address) -> socket.socket:
        assert self._loop is not None
        sock = _bind(self.listen_addr[0], 0)
        session.mirrors[upstream] = sock
        self._mirror_owner[sock.fileno()] = (session, upstream)
        self._loop.add_reader(sock.fileno(), self._from_client_at_mirror, sock.fileno(), sock)
        self.stats.mirrors += 1
        return sock

    # ------------------------------------------------------------------ faults
    def _drain(self, sock: socket.socket) -> list[tuple[bytes, Address]]:
        got = []
        for _ in range(64):
            try:
                got.append(sock.recvfrom(RECV_BUFFER))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break  # ICMP errors from a vanished endpoint: nothing to forward
        return got

    def _forward(
        self,
        session: _Session,
        direction: str,
        sock: socket.socket,
        data: bytes,
        dst: Address,
        src: Address | None = None,
    ) -> None:
        """``src``: the server-side sender of an s2c datagram (the client's is dst's peer)."""
        decision = session.scheduler.decide(data, direction) if session.scheduler else None
        if decision is not None and decision.action != "pass":
            fate = self._scripted(session, decision, sock, data, dst)
        else:
            fate = self._random(sock, data, dst)
            if fate == "forwarded":
                self._release_held(session, direction)
        if self.record:
            wire = (session.client, dst) if direction == C2S else (src or dst, session.client)
            label = str(decision.label) if decision is not None else ""
            self.capture.append(Captured(time.time(), direction, *wire, data, fate, label))

    def _scripted(
        self, session: _Session, decision: Decision, sock: socket.socket, data: bytes, dst: Address
    ) -> str:
        action, direction = decision.action, decision.label.direction
        if action == "drop":
            self.stats.dropped += 1
            return "dropped (schedule)"
        if action == "delay":
            self._send_later(sock, data, dst, decision.delay)
            return f"delayed {decision.delay * 1000:g} ms (schedule)"
        if action == "reorder":
            self.stats.reordered += 1
            self._hold(session, direction, sock, data, dst)
            return "held until the next datagram overtakes it (schedule)"
        self.stats.duplicated += 1
        self._send(sock, data, dst)
        self._release_held(session, direction)
        if action == "dup-late":
            self._hold(session, direction, sock, data, dst)
            return "duplicated, the copy after the next datagram (schedule)"
        self._send(sock, data, dst)
        return "duplicated (schedule)"

    def _hold(
        self, session: _Session, direction: str, sock: socket.socket, data: bytes, dst: Address
    ) -> None:
        session.held[direction].append((sock, data, dst))
        assert self._loop is not None
        # if nothing overtakes it (the peer waits for this very datagram), it goes anyway
        self._loop.call_later(REORDER_HOLD, self._release_held, session, direction)

    def _release_held(self, session: _Session, direction: str) -> None:
        held, session.held[direction] = session.held[direction], []
        for sock, data, dst in held:
            self._send(sock, data, dst)

    def _random(self, sock: socket.socket, data: bytes, dst: Address) -> str:
        f, rng = self.faults, self.rng
        if f.loss and rng.random() < f.loss:
            self.stats.dropped += 1
            return "dropped (random)"
        copies = 2 if f.dup and rng.random() < f.dup else 1
        self.stats.duplicated += copies - 1
        fate = "forwarded" if copies == 1 else "duplicated (random)"
        for _ in range(copies):
            delay = f.delay + (rng.uniform(-f.jitter, f.jitter) if f.jitter else 0.0)
            if f.reorder and rng.random() < f.reorder:
                # held back long enough for the next datagrams to overtake it
                delay += max(0.002, 2 * f.delay + f.jitter)
                self.stats.reordered += 1
                fate = "reordered (random)"
            self._send_later(sock, data, dst, max(0.0, delay))
        return fate

    def _send_later(self, sock: socket.socket, data: bytes, dst: Address, delay: float) -> None:
        if delay <= 0:
            self._send(sock, data, dst)
        else:
            assert self._loop is not None
            self._loop.call_later(delay, self._send, sock, data, dst)

    def _send(self, sock: socket.socket, data: bytes, dst: Address) -> None:
        if sock.fileno() < 0:
            return  # the session was closed meanwhile
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
            sock.sendto(data, dst)
            self.stats.forwarded += 1
