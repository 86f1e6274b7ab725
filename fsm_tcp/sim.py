"""A deterministic in-memory network with a virtual clock and a fault schedule.

Engines are wired through ``SimNetwork``; every datagram sent takes the next ``Fault`` of the
schedule (drop, duplicate, delay, reorder), in send order across both directions; when the
schedule runs out every datagram is delivered after the base latency. Nothing sleeps: the
clock jumps to the next arrival or timer, so a whole lifecycle takes milliseconds.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .config import Config
from .engine import Connection
from .errors import FsmTcpError
from .events import Address
from .link import Tracer
from .listener import Listener
from .trace import fault_record

DELIVER, DROP, DUPLICATE, DELAY = "deliver", "drop", "duplicate", "delay"


class Fault(NamedTuple):
    """What happens to one datagram. ``delay`` is extra latency in seconds (reorders too)."""

    kind: str = DELIVER
    delay: float = 0.0

    def describe(self) -> str:
        return self.kind if not self.delay else f"{self.kind}+{self.delay * 1000:g}ms"


class Arrival(NamedTuple):
    time: float
    order: int
    dst: Address
    src: Address
    data: bytes
    mark: str


class SimNetwork:
    """Datagrams in flight, ordered by arrival time, faults applied as they are sent."""

    def __init__(self, faults: Iterable[Fault] = (), latency: float = 0.001) -> None:
        self.now = 0.0
        self.latency = latency
        self._faults = iter(faults)
        self.queue: list[Arrival] = []  # a heap: the simulator's loop pops it directly
        self._order = 0
        self.log: list[dict[str, Any]] = []
        self.record = False
        self.sent = 0
        self.dropped = 0
        self.duplicated = 0
        #: Called as on_fault(src, data, mark) for each dropped or duplicated datagram.
        self.on_fault: Callable[[Address, bytes, str], None] | None = None

    def send(self, src: Address, dst: Address, data: bytes) -> None:
        fault = next(self._faults, None) or Fault()
        self.sent += 1
        if self.record:
            self.log.append(
                {"t": self.now, "src": src, "dst": dst, "data": data, "fault": fault.describe()}
            )
        if fault.kind == DROP:
            self.dropped += 1
            if self.on_fault is not None:
                self.on_fault(src, data, "lost send")
            return
        self._push(self.now + self.latency + fault.delay, dst, src, data, "")
        if fault.kind == DUPLICATE:
            self.duplicated += 1
            if self.on_fault is not None:
                self.on_fault(src, data, "dup")
            self._push(self.now + 2 * self.latency + fault.delay, dst, src, data, "dup")

    def inject(self, t: float, src: Address, dst: Address, data: bytes) -> None:
        """A datagram from outside the conversation (an attacker, garbage), at time ``t``."""
        self._push(t, dst, src, data, "noise")

    def _push(self, t: float, dst: Address, src: Address, data: bytes, mark: str) -> None:
        self._order += 1
        heapq.heappush(self.queue, Arrival(t, self._order, dst, src, data, mark))


class Sim:
    """Hosts (connections and listeners at addresses) around one SimNetwork."""

    def __init__(
        self, net: SimNetwork, config: Config | None = None, seed: int = 0, express: bool = True
    ) -> None:
        self.net = net
        #: Take ``Connection.express`` as a driver does (send the answer, then hand over the
        #: datagram); False: leave it to the engine and check that it gives what was promised.
        self.express = express
        self.express_hits = 0
        self.broken_promises: list[str] = []
        self.config = config or Config()
        self.rng = random.Random(seed)
        self.conns: dict[Address, Connection] = {}
        self.listeners: dict[Address, Listener] = {}
        self.accepted: list[Connection] = []
        self.noise_delivered: dict[Address, int] = {}  # injected datagrams a connection got
        self.tracer: Tracer | None = None
        self._next_port = 40000

    @property
    def now(self) -> float:
        return self.net.now

    def client(self, addr: Address, name: str = "client") -> Connection:
        conn = Connection(self.config, rng=self.rng, tracer=self.tracer, name=name)
        self.conns[addr] = conn
        return conn

    def listener(self, addr: Address, config: Config | None = None) -> Listener:
        tracer = self.tracer
        lst = Listener(config or self.config, rng=self.rng, tracer_for=(lambda _n: tracer))
        self.listeners[addr] = lst
        return lst

    def run(self, until: float, app: Callable[[], None]) -> None:
        """Advance until nothing is pending (every end closed and quiet), or until ``until``.

        One loop with locals: the simulator is the benchmark's inner loop, so it avoids
        per-step allocations and method lookups.
        """
        net, queue, conns = self.net, self.net.queue, self.conns
        send, deliver = net.send, self._deliver
        while True:
            app()
            for addr, conn in conns.items():
                if conn.has_output:
                    for data, dst in conn.datagrams_to_send():
                        send(addr, dst, data)
            now = queue[0].time if queue else None
            for conn in conns.values():
                t = conn.get_timer()
                if t is not None and (now is None or t < now):
                    now = t
            if now is None or now > until:
                return
            net.now = now
            while queue and queue[0].time <= now:
                deliver(heapq.heappop(queue), now)
            for conn in conns.values():
                t = conn.get_timer()
                if t is not None and t <= now:
                    conn.handle_timer(now)

    def _deliver(self, a: Arrival, now: float) -> None:
        conn = self.conns.get(a.dst)
        if conn is not None:
            if a.mark == "noise":
                self.noise_delivered[a.dst] = self.noise_delivered.get(a.dst, 0) + 1
            answer = conn.express_answer(a.data, a.src)
            if answer is None:
                # as a driver draining a burst says: another datagram for this end is queued
                # and comes next (heap order), before any timer or application call
                queue = self.net.queue
                more = bool(queue) and queue[0].time <= now and queue[0].dst == a.dst
                conn.receive_datagram(a.data, a.src, now, more=more)
            elif self.express:  # as a driver does
                self.express_hits += 1
                self.net.send(a.dst, a.src, answer)
                conn.receive_datagram(a.data, a.src, now, answered=True)
            else:  # the engine answers; its first datagram out must be the promised one
                conn.receive_datagram(a.data, a.src, now)
                out = conn.datagrams_to_send()
                if out[:1] != [(answer, a.src)]:
                    self.broken_promises.append(f"{a.data!r} promised {answer!r}, got {out}")
                for data, dst in out:  # at once, as the answer goes when it is taken
                    self.net.send(a.dst, dst, data)
            return
        lst = self.listeners.get(a.dst)
        if lst is None:
            return
        new = lst.receive_datagram(a.data, a.src, now)
        if new is not None:
            self._next_port += 1
            self.conns[(a.dst[0], self._next_port)] = new
            self.accepted.append(new)


# --------------------------------------------------------------------- the lifecycle
CLIENT_ADDR: Address = ("client", 5000)
#: Where the first accepted connection of a run lives (the listener allocates in order).
FIRST_CONNECTION: Address = ("server", 40001)
SERVER_ADDR: Address = ("server", 8000)


@dataclass
class Outcome:
    """What one simulated lifecycle did, for assertions and benchmarks."""

    sent: list[bytes]
    received: list[bytes] = field(default_factory=list)
    chunks: list[tuple[int, int]] = field(default_factory=list)  # (buff_size, got)
    violations: list[str] = field(default_factory=list)
    client_error: FsmTcpError | None = None
    server_error: FsmTcpError | None = None
    client_closed: bool = False
    server_closed: bool = False
    end_time: float = 0.0
    client: Connection | None = None
    server: Connection | None = None
    net: SimNetwork | None = None
    noise_delivered: dict[Address, int] = field(default_factory=dict)
    express_hits: int = 0

    @property
    def complete(self) -> bool:
        return self.received == self.sent


class _Reader:
    """The server application: reads message by message with a cycle of buff_sizes."""

    def __init__(self, out: Outcome, buff_sizes: Sequence[int]) -> None:
        self.out = out
        self.sizes = list(buff_sizes) or [16]
        self.calls = 0
        self.current = bytearray()

    def pump(self, conn: Connection) -> bool:
        """Read what can be read; True once every expected message has been read."""
        out = self.out
        while len(out.received) < len(out.sent):
            expected = out.sent[len(out.received)]
            size = self.sizes[self.calls % len(self.sizes)]
            try:
                got = conn.receive(size)
            except FsmTcpError:
                return True
            if got is None:
                return False
            self.calls += 1
            out.chunks.append((size, len(got)))
            want = min(size, len(expected) - len(self.current))
            if len(got) != want:
                out.violations.append(f"recv({size}) gave {len(got)} bytes, expected {want}")
                return True
            self.current += got
            if not expected.startswith(self.current):
                out.violations.append(f"message {len(out.received)} corrupted: {got!r}")
                return True
            if len(self.current) == len(expected):
                out.received.append(bytes(self.current))
                self.current = bytearray()
        return True


def run_lifecycle(
    messages: Sequence[bytes],
    faults: Iterable[Fault] = (),
    *,
    buff_sizes: Sequence[int] = (16,),
    config: Config | None = None,
    seed: int = 0,
    until: float = 3600.0,
    latency: float = 0.001,
    tracer: Tracer | None = None,
    record: bool = False,
    noise: Sequence[tuple[float, Address, Address, bytes]] = (),
    express: bool = True,
    server_config: Config | None = None,
    mode: str = "stop_and_wait",
) -> Outcome:
    """Handshake, every message client->server, close/recv_close, under ``faults``.

    ``server_config``: the server's, when it differs from the client's ``config`` (a
    dialect spoken by one end only).

    ``noise``: (time, source, destination, datagram) injected besides the conversation.
    ``express``: see ``Sim.express``; a broken promise is a violation.
    ``mode``: how the client sends every message (PROTOCOL.md 6).
    """
    net = SimNetwork(faults, latency=latency)
    for t, src, dst, data in noise:
        net.inject(t, src, dst, data)
    net.record = record
    sim = Sim(net, config, seed, express)
    sim.tracer = tracer
    if tracer is not None:
        net.on_fault = lambda src, data, mark: tracer(
            fault_record(net.now, sim.conns.get(src), mark, data)
        )
    sim.listener(SERVER_ADDR, server_config)
    client = sim.client(CLIENT_ADDR)
    out = Outcome(sent=list(messages), client=client, net=net)
    reader = _Reader(out, buff_sizes)
    client.connect(SERVER_ADDR, 0.0)
    for m in messages:
        client.send(m, 0.0, mode=mode)
    closing = expecting = False
    server: Connection | None = None
    seen = -1

    def app() -> None:
        nonlocal closing, expecting, server, seen
        if not closing and client.is_established:
            closing = True
            client.close(sim.now)
        if server is None:
            if not sim.accepted:
                return
            server = out.server = sim.accepted[0]
        # the reader only has something new to read after a datagram reached the server
        if server.stats.segments_received != seen:
            seen = server.stats.segments_received
            if reader.pump(server) and not expecting and server.is_established:
                expecting = True
                server.expect_close(sim.now)

    sim.run(until, app)
    out.violations.extend(sim.broken_promises)
    out.express_hits = sim.express_hits
    out.end_time = net.now
    out.noise_delivered = sim.noise_delivered
    out.client_error = client.error
    out.client_closed = client.is_closed
    if out.server is not None:
        out.server_error = out.server.error
        out.server_closed = out.server.is_closed
        extra = out.server.next_message_length()
        if out.complete and extra is not None:  # the reader stops at the last one sent
            out.violations.append(f"a message nobody sent ({extra} bytes) was delivered")
    return out
