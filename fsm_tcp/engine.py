"""The sans-IO protocol engine: one connection, driven by datagrams, timer expiries and calls.

Nothing here touches a socket, a thread, a sleep or a clock: every entry point takes ``now``
(seconds, any monotonic origin) and the caller collects what to send with
``datagrams_to_send()``, when to call back with ``get_timer()``, data with ``receive(n)``
and what happened with ``next_event()`` (after aioquic's QuicConnection). A driver may also
send the answer ``express_answer()`` promises for a datagram before handing it over; the
engine then queues that answer no more (see ``Connection.express``).

State lives in three ``transitions`` machines declared in :mod:`fsm_tcp.machines`; this
module only holds the callbacks those tables name, and the per-segment bookkeeping that
changes no state (see the module doc there for why that stays plain code).
"""

from __future__ import annotations

import random
import weakref
from collections import deque
from typing import Any

from . import dialects as D
from . import machines as M
from .config import Config, Stats
from .errors import (
    ConnectionClosed,
    ConnectionTimeout,
    FsmTcpError,
    InvalidArgument,
    MalformedSegment,
    MessageTooLarge,
    ProtocolViolation,
)
from .events import Address, Closed, Established, Event, MessageReceived, MessageSent
from .link import NEVER, Express, Numbering, Outbox, Owner, Shared, Timer, Tracer, Wire
from .receiver import Receiver
from .rto import RtoEstimator
from .segment import Segment, parse
from .sender import MODES, STOP_AND_WAIT, Sender

# Config, Stats and the events live in modules of their own; these names stay importable
# from here, as they always were.
__all__ = [
    "Address",
    "Closed",
    "Config",
    "Connection",
    "Established",
    "Event",
    "Express",
    "MessageReceived",
    "MessageSent",
    "Stats",
    "Tracer",
]

# The sender's and the receiver's machines live with their models (sender.py, receiver.py).
_LIFE = M.build(M.LIFECYCLE)
_FIRES_FROM = {t.name: t.fires_from() for t in M.TABLES}
#: The closer's last segment after each answer to its FIN, as the recorded dialects pair
#: them (y+1 -> y+2, y -> y, the answerer's own z+1 -> y+1).
LAST_AFTER = {("fin", 1): 2, ("fin", 0): 0, ("own", 1): 1}
_FIRES_FROM = {t.name: t.fires_from() for t in M.TABLES}


class Connection:
    """One end of one connection. See the module doc for the driving contract.

    It composes a :class:`~fsm_tcp.sender.Sender` (``snd``) and a
    :class:`~fsm_tcp.receiver.Receiver` (``rcv``) and shares with them the objects of
    :mod:`fsm_tcp.link`; it is their :class:`~fsm_tcp.link.Owner` (the calls under "for the
    connection's parts" below).
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        rng: random.Random | None = None,
        tracer: Tracer | None = None,
        name: str = "",
    ) -> None:
        self._config = cfg = config or Config()
        self.name = name
        self.tracer = tracer
        self._rng = rng or random.Random()
        # The lifecycle's state; only the shared machine above writes it. The sender and the
        # receiver hold their own (``tx``, ``rx`` below read them).
        self.life = M.LIFECYCLE.initial
        self._opened = False
        self._peer_addr: Address = ()  # () until known; hot paths read it unchecked
        self.error: FsmTcpError | None = None
        self.stats = stats = Stats()
        self.rto = RtoEstimator(cfg.initial_rto, cfg.min_rto, cfg.max_rto, cfg.granularity)
        self.num = Numbering()
        self.timer = Timer(self.rto, stats)
        self.outbox = Outbox(stats)
        if tracer is not None:
            self.outbox.on_send = self._trace_sent
        # dialect: fixed profile, or auto's adaptation (never in secure mode: strict there)
        fixed = D.resolve(cfg.dialect)
        if fixed is None and cfg.secure:
            fixed = D.CANONICAL
        adapt = None if fixed is not None else D.Adaptation()
        self.wire = Wire(
            fixed or D.CANONICAL,
            adapt,
            cfg.mss,
            weakref.WeakMethod(self._dialect_changed),
            tracer is not None,
        )
        self._isn = 0
        self._seg: Segment = Segment(False, False, False, 0)
        self._from: Address = ()
        self._events: deque[Event] = deque()
        self._sent_at = 0.0
        self._retransmitted = False
        self._fin_seq = 0
        self._close_requested = False
        self._awaiting_fin = False
        self._wait_span = 0.0
        self._synack_seq = 0  # z: the SYN-ACK's SEQ, either side (a close may count from it)
        self._listener_addr: Address = ()  # client: where the SYN went
        self._via_listener = False  # the datagram being handled reached the listener
        self._deferred: list[tuple[bytes, Address]] = []
        self._heard = False  # client: the peer sent more than handshake segments
        # auto: the trace's share of the learner's log, the SYN's copies and the SYN-ACK's
        # repeats (the handshake ACK's tries), FIN repeats (the answer's), FIN copies sent
        # where other rules put it
        self._logged = 0
        self._syn_sends = 0
        self._helps = 0  # auto client: handshake ACK copies sent to the listener
        self._synack_refusals = D.Refusals()
        self._synack_at = 0.0
        self._quiet = False  # auto client: silent after a new handshake rule (see _try_handshake)
        self._fin_repeats = 0
        self._fin_moved = False  # answerer: the closer's FIN came at a second number
        self._fin_others: list[int] = []
        # The parts hold their owner weakly: a connection dropped (an evicted half-open one,
        # say) is freed at once, not left to the cycle collector.
        owner: Owner = weakref.proxy(self)
        shared = Shared(owner, cfg, stats, self.num, self.timer, self.wire, self.outbox)
        self.snd = Sender(shared)
        self.rcv = Receiver(shared)

    # ================================================================ driving API
    def connect(self, address: Address, now: float) -> None:
        """Active open: send SYN to ``address`` (the listener)."""
        self._require_fresh("connect")
        self._opened = True
        self.rcv.closed = False
        self.timer.now = now
        self.peer = address
        self._listener_addr = tuple(address)
        self.wire.client = True
        self._fire("open_active")

    def listen(self, now: float = 0.0) -> None:
        """Passive open: this connection will take the first SYN it is given. ``now`` puts
        the passive open on the driver's clock (traces show when it happened)."""
        self._require_fresh("listen")
        self._opened = True
        self.rcv.closed = False
        self.timer.now = now
        self._fire("open_passive")

    def send(self, message: bytes, now: float, mode: str = STOP_AND_WAIT) -> None:
        """Queue one message (any bytes, 0 B included); it goes out after those before it.

        ``mode``: "stop_and_wait", "go_back_n" or "selective_repeat" (PROTOCOL.md 6), for
        this message. A windowed mode numbers segments as PROTOCOL.md does; while the peer's
        dialect numbers them otherwise, it sends with a window of one.
        """
        if mode not in MODES:
            raise InvalidArgument(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if not isinstance(message, bytes | bytearray | memoryview):
            raise InvalidArgument(f"send() takes bytes, not {type(message).__name__}")
        if self._close_requested or self.life not in (M.ESTABLISHED, M.SYN_SENT, M.SYN_RCVD):
            raise ConnectionClosed(f"cannot send in state {self.life}")
        if len(message) > self.config.max_message_size:
            raise MessageTooLarge(
                f"message of {len(message)} bytes exceeds max_message_size "
                f"{self.config.max_message_size}"
            )
        self.timer.now = now
        self.snd.enqueue(bytes(message), mode)
        self._start_next_message()

    def receive(self, buff_size: int) -> bytes | None:
        """Up to ``buff_size`` bytes of the current message, or None if they are not here yet.

        PROTOCOL.md 3: returns once min(unread bytes of the current message, buff_size) bytes
        are held; never bytes of the next message. ``b""`` at end of stream (the peer closed)
        and for a zero-length message.
        """
        return self.rcv.receive(buff_size)

    def receivable(self, buff_size: int) -> bool:
        """True when ``receive(buff_size)`` would return data or raise (it decides by this):
        a driver's cheap check while it waits (a first ``receive`` call has told the engine
        that it waits)."""
        return self.rcv.receivable(buff_size)

    @property
    def send_progress(self) -> tuple[int, int]:
        """(bytes acknowledged, length) of the message being sent; (0, 0) when idle."""
        return self.snd.progress()

    def next_message_length(self) -> int | None:
        """Length of the next unread message once its length segment is in, else None."""
        bounds = self.rcv.bounds
        return bounds[0] if bounds else None

    def await_message(self) -> None:
        """The application waits for ``next_message_length``: the wait is bounded like a
        ``receive`` (a ConnectionTimeout once a sender would have given up)."""
        self.rcv.await_message()

    @property
    def at_eof(self) -> bool:
        """Nothing more will arrive: every message is read and the peer closed (or we did)."""
        return not self.rcv.bounds and (self.rcv.peer_fin or self.life == M.CLOSED)

    def close(self, now: float) -> None:
        """Active close (PROTOCOL.md 4, Host A), once every queued message is acknowledged."""
        self.timer.now = now
        if self.life in (M.LISTEN, M.SYN_SENT, M.SYN_RCVD):
            self._fire("close")
            return
        self._close_requested = True
        self._maybe_start_close()

    def expect_close(self, now: float) -> None:
        """recv_close(): wait (bounded) for the peer's FIN; answer it per PROTOCOL.md 4."""
        self.timer.now = now
        self._awaiting_fin = True
        self._arm_peer_wait()

    def receive_datagram(
        self,
        data: bytes,
        addr: Address,
        now: float,
        answered: bool = False,
        via_listener: bool = False,
        more: bool = False,
    ) -> None:
        """Feed one datagram that arrived from ``addr``.

        ``answered``: it matched ``express`` and the driver has sent the promised answer.
        ``via_listener``: it reached the listening socket (routed here by a Listener).
        ``more``: another datagram is already queued behind this one; its in-order ACK may
        then wait for the next one's (output is complete once ``datagrams_to_send`` runs).
        """
        self.timer.now = now
        self.outbox.more = more
        stats = self.stats
        snd = self.snd
        if answered:
            if snd.held_acks:  # (settle()'s own test, without the call: once per segment)
                snd.settle()
            self._take_express(data, addr)
            return
        if addr != self._peer_addr and not self._may_adopt(addr):
            stats.foreign += 1
            if not more:
                snd.settle()  # the burst ended with this one: what it held is due
            return
        if self.wire.reads_short and not data.startswith(b"0|||0|||0|||"):
            limit = self._read_limit()  # a dialect's small buffer: the rest is lost
            data = data[:limit]
        if self.tracer is None and self.life == M.ESTABLISHED:
            # The fast path: the two datagrams a transfer is made of, matched as bytes
            # against wire forms prepared when the state was set up, so they skip parsing;
            # they do exactly what the general path would. Anything else - a leading zero,
            # a duplicate, the last chunk - returns False and takes the general path.
            if data == snd.ack_wire:  # the ACK of the chunk in flight (not the last one)
                if snd.fast_ack():
                    return
            elif snd.tx == M.TX_IDLE:
                if self.rcv.fast_chunk(data):  # the next chunk
                    return
            elif snd.window_ack(data, more):  # a windowed sender's plain cumulative ACK
                self._heard = True
                return
        snd.settle()  # ACKs held from the burst so far come first
        self.outbox.express = None
        try:
            seg = parse(data)
        except MalformedSegment as exc:
            stats.malformed += 1
            self.trace("malformed", data=data[:64].hex(), why=str(exc))
            return
        stats.segments_received += 1
        if self.tracer is not None:
            self._trace_segment("recv", seg)
        self._seg = seg
        self._from = addr
        self.wire.evidence = data
        self._via_listener = via_listener
        if self.life == M.ESTABLISHED and not (seg.syn or seg.fin):
            if seg.ack:
                self._heard = True
                if not self._late_handshake_ack(seg):
                    self.snd.on_ack(seg)
            else:
                self._on_data(seg)
                if self.rcv.held and self.num.seq in self.rcv.held:
                    self.rcv.drain()
        else:
            self._on_control(seg)
            if self._deferred and self.life != M.SYN_RCVD:
                self._replay_deferred()

    def _replay_deferred(self) -> None:
        """What reached the connection socket while the handshake ACK was awaited on the
        listener, in arrival order, as a server reading that socket at last would."""
        deferred, self._deferred = self._deferred, []
        for data, addr in deferred:
            self.receive_datagram(data, addr, self.timer.now)

    def express_answer(self, data: bytes, addr: Address) -> bytes | None:
        """The answer ``express`` promises for ``data`` from ``addr``, or None if it promises
        none: a driver sends it at once, then calls ``receive_datagram(..., answered=True)``."""
        express = self.outbox.express
        if (
            express is not None
            and len(data) == express[1]
            and data.startswith(express[0])
            and addr == express[3]
        ):
            self.outbox.matched = data
            return express[2]
        return None

    def handle_timer(self, now: float) -> None:
        """Call when ``now`` has reached ``get_timer()``; early calls do nothing."""
        timer = self.timer
        if timer.deadline is None or now < timer.deadline:
            return
        self.snd.settle()  # (a driver ends a burst before timers: nothing is held here)
        if (
            self.life == M.ESTABLISHED
            and self.snd.tx == M.TX_IDLE
            and timer.heard + self._wait_span > now
        ):
            # a wait on the peer, who spoke since it began: it goes on from then
            timer.deadline = timer.heard + self._wait_span
            return
        timer.now = now
        self.outbox.express = None
        timer.deadline = None
        if self._quiet:
            self._end_quiet()
            return
        timer.retries += 1
        if self.life == M.ESTABLISHED:
            if self.snd.tx == M.TX_IDLE:
                if self._awaiting_fin or self.rcv.wanted:
                    self._fire("timeout")
                # else: the application stopped waiting on the peer; the deadline lapses
            elif self.can_retry():
                self.snd.on_timeout()  # bookkeeping: the stage stays the same
                # twice unanswered: it may be waiting for the ACK on its listener
                if self.timer.retries >= 2 and self._unanswered_since_handshake():
                    self._help_handshake()
            else:
                self.snd.fire("tx_timeout")
        elif (self.life, "timeout") in _FIRES_FROM["lifecycle"]:
            self._fire("timeout")

    def get_timer(self) -> float | None:
        return self.timer.deadline

    def datagrams_to_send(self) -> list[tuple[bytes, Address]]:
        if self.rcv.pending_ack is not None:
            self.rcv.flush_ack()
        outbox = self.outbox
        out, outbox.out = outbox.out, []
        return out

    @property
    def has_output(self) -> bool:
        return bool(self.outbox.out) or self.rcv.pending_ack is not None

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        """Knobs read per segment (limits, buffer, retries) take effect at once; those that
        built something (timers, MSS, dialect) stay as built."""
        self._config = self.snd.config = self.rcv.config = config

    @property
    def express(self) -> Express | None:
        """A promise to drivers: a datagram from ``peer`` of exactly ``length`` bytes that
        starts with ``prefix`` is answered by ``answer`` and nothing else, as
        ``(prefix, length, answer, peer)``. A driver may send ``answer`` the moment such a
        datagram arrives and then hand it over with ``receive_datagram(..., answered=True)``,
        so the bookkeeping runs while the peer works. None when no such promise holds (any
        other event withdraws it)."""
        return self.outbox.express

    @property
    def seq(self) -> int:
        """PROTOCOL.md 3's shared counter: the next byte either way."""
        return self.num.seq

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    @property
    def peer(self) -> Address | None:
        """The address this connection talks to (the server's connection socket, for a client)."""
        return self._peer_addr or None

    @peer.setter
    def peer(self, address: Address) -> None:
        self._peer_addr = self.outbox.peer = tuple(address)

    @property
    def is_closed(self) -> bool:
        """CLOSED after having been opened (a fresh connection is CLOSED too)."""
        return self._opened and self.life == M.CLOSED

    @property
    def is_established(self) -> bool:
        return self.life == M.ESTABLISHED

    @property
    def tx(self) -> str:
        """The sender machine's state (it lives in ``snd``)."""
        return self.snd.tx

    @property
    def rx(self) -> str:
        """The receiver machine's state (it lives in ``rcv``)."""
        return self.rcv.rx

    @property
    def sending(self) -> bool:
        """True while a message is queued or not yet fully acknowledged."""
        return self.snd.busy

    @property
    def unread(self) -> int:
        return self.rcv.unread

    # ================================================================ for the connection's parts
    # link.Owner: what the sender and the receiver may ask of the connection.
    def abort(self, error: FsmTcpError) -> None:
        """The connection fails with ``error`` (the lifecycle's ``abort``)."""
        self.error = error
        self._fire("abort")

    def set_error(self, error: FsmTcpError) -> None:
        """What the application will be told, while the lifecycle goes on (a close)."""
        self.error = error

    def peer_alive(self) -> None:
        """Something valid came from the peer: any bounded wait on it counts from now
        (``handle_timer`` moves the deadline when it expires: see ``Timer.heard``)."""
        timer = self.timer
        timer.heard = timer.now

    def await_peer(self) -> None:
        """The application waits on the peer: bound the wait like any other."""
        self._arm_peer_wait()

    def message_sent(self, length: int) -> None:
        """The sender's message is acknowledged whole: tell the driver, start the next one,
        or the close that waited for it."""
        self._events.append(MessageSent(length))
        self.snd.start_next()
        self._maybe_start_close()
        self._arm_peer_wait()

    def message_received(self, length: int) -> None:
        self._events.append(MessageReceived(length))

    def take_in_order(self, seg: Segment, evidence: bytes) -> None:
        """A segment the receiver held out of order, now next in order: handled as if it
        had just arrived (its meaning, length or chunk, is decided here)."""
        self._seg = seg
        self.wire.evidence = evidence
        self._on_data(seg)

    def before_transition(self, machine: str, ev: Any) -> None:
        """Before any transition of this connection's machines (the sender's and the
        receiver's models pass theirs here): counted, traced, and express withdrawn."""
        self.stats.transitions += 1
        self.outbox.express = None
        if self.tracer is not None:
            tr = ev.transition
            self.trace(
                "transition",
                machine=machine,
                trigger=ev.event.name,
                src=tr.source,
                dst=tr.dest or tr.source,
            )

    def trace(self, kind: str, **fields: Any) -> None:
        """A trace record, stamped with the time and the three machines' states."""
        if self.tracer is not None:
            self.tracer(
                {
                    "t": self.timer.now,
                    "conn": self.name,
                    "kind": kind,
                    "life": self.life,
                    "tx": self.tx,
                    "rx": self.rx,
                    **fields,
                }
            )

    # ================================================================ plumbing
    def _fire(self, trigger: str) -> bool:
        """Fire a declared trigger of the lifecycle; the only way its state changes (the
        sender's and the receiver's machines run on their own models: ``snd.fire``)."""
        return bool(_LIFE.events[trigger].trigger(self))

    def _fire_if_declared(self, trigger: str) -> None:
        if (self.life, trigger) in _FIRES_FROM["lifecycle"]:
            if not self._fire(trigger):
                self.stats.ignored += 1
        else:
            self.stats.ignored += 1

    def _trace_segment(self, kind: str, seg: Segment, **extra: Any) -> None:
        self.trace(
            kind,
            flags=seg.flags(),
            seq=seg.seq,
            data=seg.data[:24].hex(),
            length=len(seg.data),
            **extra,
        )

    def _trace_sent(self, pkt: bytes, retransmission: bool) -> None:
        if retransmission:  # fsm_tcp.plot marks these
            self._trace_segment("send", parse(pkt), retransmission=True)
        else:
            self._trace_segment("send", parse(pkt))

    def _require_fresh(self, what: str) -> None:
        if self._opened:
            raise ConnectionClosed(f"{what}() needs a fresh connection, this one is {self.life}")

    def _may_adopt(self, addr: Address) -> bool:
        """A SYN-ACK comes from the server's new connection socket (PROTOCOL.md 2)."""
        peer = self.peer
        return (self.life == M.SYN_SENT and peer is not None and addr[:1] == peer[:1]) or (
            self.life == M.LISTEN and peer is None
        )

    def _send_timed(self, pkt: bytes) -> None:
        """Send a segment that expects an answer, and time it for RTT (Karn) and RTO."""
        self._sent_at = self.timer.now
        self._retransmitted = False
        self.outbox.emit(pkt)
        self.timer.arm()

    def _resend_timed(self, pkt: bytes) -> None:
        self.stats.retransmissions += 1
        self._retransmitted = True
        self.rto.back_off()
        self.outbox.emit(pkt)
        self.timer.arm()

    def _answered(self) -> None:
        """The segment in flight was acknowledged: sample RTT (Karn's rule), reset back-off."""
        self.timer.acked(self._sent_at if RtoEstimator.karn_ok(self._retransmitted) else -1.0)

    # ================================================================ dialect
    def _dialect_changed(self) -> None:
        """auto adapted the working dialect (``Wire.on_change``): what was prepared for the
        old one goes where the new one cannot match bytes, and the trace says why."""
        if not self.wire.fast_ok:
            self.snd.ack_wire = self.rcv.head = NEVER
            self.outbox.express = None
        adapt = self.wire.adapt
        assert adapt is not None
        log, self._logged = adapt.log[self._logged :], len(adapt.log)
        self.trace("dialect", findings=[f.describe() for f in adapt.findings], log=log)

    @property
    def dialect(self) -> D.Dialect:
        """The dialect this end speaks now (auto: as adapted so far)."""
        return self.wire.dialect

    @property
    def dialect_findings(self) -> list[D.Finding]:
        """auto: what the peer was seen to bend; then, marked ``inferred`` and never
        reported as found, the values auto worked with that the peer never showed (what
        ``fsm-tcp check`` must speak to it too)."""
        adapt = self.wire.adapt
        return [*adapt.findings, *adapt.assumed()] if adapt is not None else []

    @property
    def dialect_hints(self) -> list[D.Finding]:
        """auto: what it uses on a hint (something another explanation also fits)."""
        adapt = self.wire.adapt
        return list(adapt.hints) if adapt is not None else []

    @property
    def dialect_log(self) -> list[str]:
        """auto: every rule tried, assumed or hinted, one line each (``--debug``)."""
        adapt = self.wire.adapt
        return list(adapt.log) if adapt is not None else []

    def _read_limit(self) -> int:
        """A dialect that reads control segments with a buffer as long as its own: what it
        reads of one (its own, numbered as the one it awaits; 3 digits at least)."""
        flight = self.snd.flight
        awaited = max(self.num.seq, self._isn, self._fin_seq, self._synack_seq, 100) + 3
        if flight:
            awaited = max(awaited, flight[-1][1])
        d = self.wire.dialect
        return (
            d.control_length(awaited)
            - len(d.control_filler)
            + max(len(d.control_filler), len(d.fin_filler))
        )

    def _late_handshake_ack(self, seg: Segment) -> bool:
        """auto server: the handshake ACK arrives after data that stood for it, before any
        length was taken: now the counter's start is known."""
        adapt = self.wire.adapt
        offset = seg.seq - self._isn
        if (
            adapt is None
            or self._listener_addr
            or adapt.known("handshake_ack_offset")
            or self.rcv.len_acks
            or self.snd.tx != M.TX_IDLE
            or not 0 <= offset <= 3
        ):
            return False
        self.wire.observe("handshake_ack_offset", offset)
        self.num.seq = self.num.rcv_nxt = self._isn + offset
        return True

    # ================================================================ per-segment paths
    def _take_express(self, data: bytes, addr: Address) -> None:
        """The datagram matched ``express`` and its answer is out: do what the fast path does,
        without queueing the answer again. (``express_answer`` matched this very datagram,
        so it is not matched again; the fast path's dispatch is written out: this runs once
        per segment at both ends.)"""
        outbox = self.outbox
        express = outbox.express
        if express is None or outbox.matched is not data:  # express_answer() matched it
            raise ProtocolViolation("answered=True for a datagram that does not match express")
        outbox.matched = None
        outbox.answered = True
        snd = self.snd
        if data == snd.ack_wire:
            handled = snd.fast_ack()
        else:
            handled = snd.tx == M.TX_IDLE and self.rcv.fast_chunk(data)
        if not handled or outbox.answered:  # a broken promise is a bug here
            outbox.answered = False
            raise ProtocolViolation(f"express answer {express[2]!r} was not this engine's")

    def _on_data(self, seg: Segment) -> None:
        """A data or length segment in ESTABLISHED: the hot path of a receiver."""
        self._heard = True
        snd = self.snd
        if snd.tx != M.TX_IDLE and not snd.implies_ack(seg.seq, self.wire.dialect.length_seq_gap):
            self.rcv.stale_or_ahead(seg)  # the peer moved on only if it has our last segment
            return
        self.rcv.on_data(seg)

    def _on_control(self, seg: Segment) -> None:
        """Segments that can change the lifecycle: dispatched through the table."""
        if seg.syn and seg.fin:
            self.stats.malformed += 1
            return
        if seg.syn:
            trigger = "rcv_synack" if seg.ack else "rcv_syn"
        elif seg.fin:
            trigger = "rcv_finack" if seg.ack else "rcv_fin"
            if trigger == "rcv_fin" and self.life == M.ESTABLISHED and not self._ready_for_fin(seg):
                self.stats.ignored += 1
                return
        else:
            trigger = "rcv_ack" if seg.ack else "rcv_data"
        self._fire_if_declared(trigger)

    def _ready_for_fin(self, seg: Segment) -> bool:
        """Settle the data machines before a FIN in ESTABLISHED is taken."""
        if self.snd.tx != M.TX_IDLE:
            if self.snd.implies_ack(seg.seq, self.wire.dialect.fin_seq_gap):
                pass  # the FIN proves our last segment arrived: acknowledged
            elif self.is_peer_fin():
                self.snd.fire("tx_cancel")  # the peer closes without our data
            else:
                return False
        if not self.is_peer_fin():
            return False
        if self.rcv.rx == M.RX_DATA:
            self.rcv.fire("rx_truncate")
        return True

    def _start_next_message(self) -> None:
        self.snd.start_next()

    def _maybe_start_close(self) -> None:
        """PROTOCOL.md 6: teardown starts only when every segment of every message is
        acknowledged (the sender is idle only then)."""
        if self._close_requested and self.life == M.ESTABLISHED and not self.snd.busy:
            self._fire("close")

    def _settle_established(self) -> None:
        """Entering ESTABLISHED (either side): start what the user already asked for."""
        self._events.append(Established(self.peer or ()))
        self._start_next_message()
        self._maybe_start_close()
        self._arm_peer_wait()

    def _unanswered_since_handshake(self) -> bool:
        """auto client: nothing came back since the SYN-ACK, so the server may be waiting
        for the handshake ACK on its listener."""
        return self.wire.tolerant and bool(self._listener_addr) and not self._heard

    def _help_handshake(self) -> None:
        """Send the handshake ACK to the listener too (what one recorded client does)."""
        self.wire.helped = True
        self._helps += 1
        ack = self.wire.ctl(b"0|||1|||0", self._isn + self.wire.dialect.handshake_ack_offset)
        self.outbox.emit_to(ack, self._listener_addr)

    def _arm_peer_wait(self) -> None:
        if (
            self.life == M.ESTABLISHED
            and self.snd.tx == M.TX_IDLE
            and self.timer.deadline is None
            and (self._awaiting_fin or self.rcv.wanted)
        ):
            self._wait_span = self._sender_patience()
            self.timer.deadline = self.timer.now + self._wait_span

    def _sender_patience(self) -> float:
        """How long a peer sender keeps retransmitting one segment before it gives up.

        The peer's RTO is about ours; twice the sum of its backed-off timeouts covers any
        difference, so a waiting reader never gives up on a peer that is still trying.
        One long deadline instead of RTO steps: the wait costs no timer events while data
        flows or is being retransmitted.
        """
        cfg, rto = self.config, self.rto.rto
        return 2.0 * sum(min(rto * 2.0**k, cfg.max_rto) for k in range(cfg.max_retries + 1))

    def _finish(self, reason: str, error: FsmTcpError | None = None) -> None:
        """Every transition to CLOSED ends here."""
        self.timer.deadline = None
        self.rcv.closed = True
        if error is not None and self.error is None:
            self.error = error
        self.snd.drop_all()
        self._events.append(Closed(reason, error))

    # ================================================================ table callbacks
    def on_transition(self, ev: Any) -> None:
        """Every machine calls this before each transition it executes (``machines.build``)."""
        self.before_transition("lifecycle", ev)

    # Conditions: each says what it checks.
    def can_retry(self, _ev: Any = None) -> bool:
        return self.timer.retries <= self.config.max_retries

    def can_retry_close(self, _ev: Any = None) -> bool:
        return self.timer.retries < self.config.close_tries or self._handshake_on_trial()

    def _handshake_on_trial(self) -> bool:
        """auto client: nothing came back since the SYN-ACK and handshake rules are left to
        try: the server may not have taken our handshake ACK yet, so the FIN waits too."""
        adapt = self.wire.adapt
        return (
            adapt is not None
            and self._unanswered_since_handshake()
            and adapt.tries("handshake") < len(D.RULES["handshake"])
            and self.timer.retries < self.config.max_retries
        )

    def acks_our_syn(self, _ev: Any = None) -> bool:
        if self.life != M.SYN_SENT:
            return self._seg.seq == self._synack_seq  # a duplicate of the one we took
        d = self.wire.dialect
        return d.synack_seq == "client" and d.synack_offset == 1 and self._seg.seq == self._isn + 1

    def numbers_synack_own(self, _ev: Any = None) -> bool:
        """Dialect: the server numbers its SYN-ACK from its own ISN, not x+1 (auto takes
        any number: the SYN-ACK is told by its flags and the listener's host)."""
        d = self.wire.dialect
        return d.synack_seq == "own" or d.synack_offset != 1 or self.wire.tolerant

    def completes_handshake(self, _ev: Any = None) -> bool:
        """The handshake ACK, or (desync a) the first data segment, at the dialect's SEQ."""
        seq = self._seg.seq - self._isn
        if self.wire.tolerant:  # an ACK x..x+3, or (desync a) data up to two further on
            return 0 <= seq <= 3 or (seq <= 5 and not self._seg.ack)
        d = self.wire.dialect
        if self._seg.ack:
            return seq == d.handshake_ack_offset
        return seq == d.handshake_ack_offset + d.length_seq_gap

    def awaits_ack_at_listener(self, _ev: Any = None) -> bool:
        """Dialect: the server reads the handshake ACK on the listener only; what reaches the
        connection socket before it waits there (unread, as in the kernel's queue)."""
        return self.wire.dialect.handshake_ack_to == "listener" and not self._via_listener

    def is_original_syn(self, _ev: Any = None) -> bool:
        return self._seg.seq == self._isn

    def is_peer_fin(self, _ev: Any = None) -> bool:
        if self.rcv.peer_fin and self.wire.tolerant:  # auto has it: only a repeat is that FIN
            return self._seg.seq == self._fin_seq
        gap = self._seg.seq - self.num.seq
        return gap == self.wire.dialect.fin_seq_gap or (self.wire.tolerant and 0 <= gap <= 2)

    def acks_our_fin(self, _ev: Any = None) -> bool:
        return self._close_answer_variant(self._seg.seq) is not None

    def is_close_answer_fin(self, _ev: Any = None) -> bool:
        """A FIN numbered as the answer to ours: the peer has our FIN (its ACK was lost)."""
        return not self._seg.ack and self.acks_our_fin()

    def acks_our_finack(self, _ev: Any = None) -> bool:
        return self._last_ack_variant(self._seg.seq) is not None

    def is_last_ack_as_fin(self, _ev: Any = None) -> bool:
        """Dialect: the closer's last segment carries FIN instead of ACK."""
        return (
            self.wire.dialect.last_flag == "fin" or self.wire.tolerant
        ) and self.acks_our_finack()

    def may_reack(self, _ev: Any = None) -> bool:
        """Stale data is answered, except a blind guess in secure mode (see Receiver.in_window)."""
        return not self.config.secure or self.rcv.in_window(self._seg)

    # Actions.
    def reset_retries(self, _ev: Any = None) -> None:
        self.timer.retries = 0

    def send_syn(self, _ev: Any = None) -> None:
        cfg = self.config
        self._isn = self._rng.getrandbits(32) if cfg.secure else self._rng.randint(0, 100)
        self._syn_sends = 1
        self._send_timed(self.wire.ctl(b"1|||0|||0", self._isn))

    def resend_syn(self, _ev: Any = None) -> None:
        self._syn_sends += 1
        self._resend_timed(self.wire.ctl(b"1|||0|||0", self._isn))

    def accept_syn(self, _ev: Any = None) -> None:
        self.peer = self._from
        self._isn = x = self._seg.seq
        if self.wire.tolerant:
            self._learn_format()
        d = self.wire.dialect
        own = d.synack_seq == "own"
        self._synack_seq = d.synack_for(x, self._rng.randint(0, 100) if own else 0)
        self.num.seq = self.num.rcv_nxt = x + d.handshake_ack_offset
        self._send_timed(self.wire.ctl(b"1|||1|||0", self._synack_seq))

    def send_synack(self, _ev: Any = None) -> None:
        self.outbox.emit(self.wire.ctl(b"1|||1|||0", self._synack_seq))

    def resend_synack(self, _ev: Any = None) -> None:
        self._resend_timed(self.wire.ctl(b"1|||1|||0", self._synack_seq))

    def defer_segment(self, _ev: Any = None) -> None:
        """Kept until the handshake completes, then handled in arrival order."""
        if len(self._deferred) < 64:
            self._deferred.append((self.wire.evidence, self._from))

    def complete_handshake(self, _ev: Any = None) -> None:
        self.peer = self._from  # from now on, only the server's connection socket
        self._answered()
        self._synack_seq = z = self._seg.seq
        if self.wire.tolerant:
            self._learn_format()
            kind, offset = D.synack_rule(self._isn, z)
            self.wire.observe("synack_seq", kind)
            if kind == "client":
                self.wire.observe("synack_offset", offset)
        self._synack_refusals.restart_with(1)  # a SYN-ACK again: our ACK may be lost
        self._synack_at = self.timer.now
        self.num.seq = self.num.rcv_nxt = self._isn + self.wire.dialect.handshake_ack_offset
        self._send_handshake_ack()
        self._settle_established()

    def send_handshake_ack(self, _ev: Any = None) -> None:
        """The SYN-ACK came again: our handshake ACK did not arrive where it is awaited."""
        if self._unanswered_since_handshake():
            self._try_handshake()
        if self._quiet:
            return  # see _try_handshake
        self._send_handshake_ack()
        if self._unanswered_since_handshake():  # each time: the last copy may be lost
            self._help_handshake()  # auto: maybe it awaits the ACK on the listener

    def _try_handshake(self) -> None:
        """auto client: the server keeps re-sending its SYN-ACK past what our SYN's copies
        explain, so it does not take our handshake ACK's number: try the next one."""
        adapt = self.wire.adapt
        assert adapt is not None
        refused = self._synack_refusals
        # copies closer than half an RTO are one (a duplicate); a server that lost our ACK
        # re-sends its SYN-ACK once or twice before our next copy or our data reaches it
        if self.timer.now - self._synack_at < self.rto.rto / 2:
            return
        self._synack_at = self.timer.now
        refused.sent()
        if not refused.standing():
            return
        if self._helps == 1:
            # the one copy sent to the listener so far may be lost: a server awaiting it
            # there (a recorded dialect) gets another before its rule is given up
            return
        what = f"peer re-sends SYN-ACK seq={self._synack_seq} to ACK seq={self.num.seq}"
        if not adapt.try_next("handshake", what):
            return  # every rule tried: the data's own retry bound ends it
        self.wire.adapted()
        self._synack_refusals.next_rule()
        # Quiet time (RFC 793 3.3, scaled to the connection): copies sent under the old
        # rule may still be on their way, and the new rule can give one of their numbers a
        # meaning (a length at x+2 is the next length after "0" at x+1). Nothing goes out
        # under the new rule until one RTO has let them arrive, while the server, not yet
        # connected, drops them.
        self._quiet = True
        self.timer.deadline = self.timer.now + self.rto.rto

    def _end_quiet(self) -> None:
        """The quiet time after a new handshake rule is over: the handshake ACK, and what
        was in flight, where the new rule puts them."""
        self._quiet = False
        self.num.seq = self.num.rcv_nxt = self._isn + self.wire.dialect.handshake_ack_offset
        self._send_handshake_ack()
        if self._helps:
            self._help_handshake()
        self.timer.retries = 0  # a new question: what is in flight gets its full retries
        if self.life == M.FIN_WAIT_1:  # an empty conversation: the FIN moves too
            self._fin_seq = self.wire.dialect.fin_seq_for(self.num.seq)
            self._fire("timeout")
        else:
            self.snd.renumber()
            if self.timer.deadline is None and self.snd.tx != M.TX_IDLE:
                self.timer.arm()  # more in flight than a length: the timer resends it

    def _send_handshake_ack(self) -> None:
        ack = self.wire.ctl(b"0|||1|||0", self._isn + self.wire.dialect.handshake_ack_offset)
        if self.wire.dialect.handshake_ack_to == "listener" and self._listener_addr:
            self.outbox.emit_to(ack, self._listener_addr)
        else:
            self.outbox.emit(ack)

    def note_established(self, _ev: Any = None) -> None:
        self._answered()
        if self.wire.tolerant:
            self._learn_handshake()
        self._settle_established()

    def _learn_format(self) -> None:
        """auto: a handshake segment shows how the peer pads SEQ and fills control DATA."""
        fields = self.wire.evidence.split(b"|||", 4)
        seq, data = fields[3], fields[4]
        self.wire.observe("seq_width", D.seq_width_of(seq))
        self.wire.observe("control_filler", data)

    def _learn_handshake(self) -> None:
        """auto, server side: the numbers the client's handshake ACK (or first data) used."""
        seg, x = self._seg, self._isn
        adapt = self.wire.adapt
        why = "the handshake ACK came to the listener (a client may send a copy there too)"
        if (
            self._via_listener
            and adapt is not None
            and adapt.hint("handshake_ack_to", "listener", why)
        ):
            self.wire.adapted()
        if seg.ack:
            offset = seg.seq - x
            self.wire.observe("handshake_ack_offset", offset)
        else:  # data instead of the ACK: how its SEQ splits between the two is a guess
            # (PROTOCOL.md's x+2 where the space allows it; the rest is the length's gap)
            ahead = seg.seq - x
            offset = max(min(ahead, 2), ahead - max(D.SPACE["length_seq_gap"]))
            if self.wire.adapt is not None and self.wire.adapt.assume(
                {"handshake_ack_offset": offset}, "data came before the handshake ACK"
            ):
                self.wire.adapted()
        self.num.seq = self.num.rcv_nxt = x + offset

    def process_early_segment(self, _ev: Any = None) -> None:
        self._on_data(self._seg)

    def fail_timeout(self, _ev: Any = None) -> None:
        self._finish(
            "timeout",
            ConnectionTimeout(
                f"handshake with {self.peer} timed out after "
                f"{self.config.max_retries} retransmissions"
            ),
        )

    def note_closed(self, _ev: Any = None) -> None:
        self._finish("closed")

    def note_peer_silent(self, _ev: Any = None) -> None:
        if self.rcv.wanted or self.rcv.rx == M.RX_DATA:
            self._finish(
                "timeout",
                ConnectionTimeout(f"no data from {self.peer} for {self._wait_span:.3f} s"),
            )
            return
        self.rcv.peer_fin = True  # recv_close(): all data is in, the peer just never said FIN
        self._finish("peer sent no FIN; closed after waiting")

    def note_failure(self, _ev: Any = None) -> None:
        assert self.error is not None
        self._finish("failed", self.error)

    def note_peer_gone(self, _ev: Any = None) -> None:
        self._finish("no answer to FIN; peer assumed gone")

    def send_fin(self, _ev: Any = None) -> None:
        self._fin_seq = self.num.seq + self.wire.dialect.fin_seq_gap
        self._send_timed(self.wire.ctl(b"0|||0|||1", self._fin_seq))

    def resend_fin(self, _ev: Any = None) -> None:
        self._resend_timed(self.wire.ctl(b"0|||0|||1", self._fin_seq))
        adapt = self.wire.adapt
        if (
            adapt is not None
            and self.life == M.FIN_WAIT_1
            and not adapt.known("fin_seq_gap")
            and self._deviant_numbers()
        ):
            # a peer that numbers otherwise may expect its FIN elsewhere: a copy where each
            # other rule puts it (a strict answerer ignores the others; its answer says
            # which it took)
            if not self._fin_others:
                adapt.log.append(f"trying every FIN gap: no answer to FIN seq={self._fin_seq}")
                self.wire.adapted()
            others = [self.num.seq + g for g in D.SPACE["fin_seq_gap"]]
            self._fin_others = [y for y in others if y != self._fin_seq]
            for y in self._fin_others:
                self.outbox.emit(self.wire.ctl(b"0|||0|||1", y))

    def answer_fin(self, _ev: Any = None) -> None:
        """The answer to the peer's FIN, in the dialect's shape (FIN+ACK, or ACK then FIN);
        as first answer, retransmission and reply to a duplicate."""
        seg = self._seg
        if seg.fin and not seg.ack:
            # (a FIN while we close ourselves may be the answer to ours: it shows nothing)
            if self.wire.tolerant and not self.rcv.peer_fin and not self._close_requested:
                self.rcv.confirm_data_ack()
                self.wire.observe_counted("fin_seq_gap", seg.seq - self.num.seq)
                self.wire.observe("fin_filler", seg.data)
            elif self.rcv.peer_fin and seg.seq == self._fin_seq:
                self._fin_repeated()
            elif self.rcv.peer_fin:
                self._fin_moved = True  # two FIN numbers: no last segment is clear now
            self._fin_seq = seg.seq
            self.rcv.peer_fin = True
        d = self.wire.dialect
        answer = self._close_answer_seq()
        if d.close_shape == "fin+ack":
            self.outbox.emit(self.wire.ctl(b"0|||1|||1", answer))
        else:
            self.outbox.emit(self.wire.ctl(b"0|||1|||0", answer))
            self.outbox.emit(self.wire.ctl(b"0|||0|||1", answer))
        self.timer.arm()

    def _fin_repeated(self) -> None:
        """auto: the FIN came again, so our answer may not be in the closer's arithmetic.
        Tried only with a peer that has shown other numbers than PROTOCOL.md's: from one
        that has not, a repeat is a lost answer, and trying would make a false finding."""
        adapt = self.wire.adapt
        self._fin_repeats += 1
        if adapt is None or self._fin_repeats < 2 or not self._deviant_numbers():
            return
        what = f"peer repeats FIN seq={self._fin_seq}"
        if adapt.try_next("close_answer", what):
            self.wire.adapted()

    def _deviant_numbers(self) -> bool:
        """auto: the peer numbers something otherwise than PROTOCOL.md (seen, or the rule
        it took): only then is silence or a repeat worth trying another rule for; from a
        peer that has shown only PROTOCOL.md's numbers it is a loss."""
        adapt = self.wire.adapt
        numbers = (*D.NUMBERING, "fin_seq_gap", "handshake_ack_offset", "synack_seq")
        return adapt is not None and (
            any(f.variable in numbers for f in adapt.findings)
            or any(getattr(self.wire.dialect, v) != getattr(D.CANONICAL, v) for v in D.NUMBERING)
        )

    def wait_for_peer_fin(self, _ev: Any = None) -> None:
        self._answered()
        self._learn_close_answer()
        if self.wire.tolerant:
            self.wire.observe("close_shape", "ack,fin")
        self.timer.arm()

    def rearm_close_wait(self, _ev: Any = None) -> None:
        self.timer.arm()

    def send_last_ack(self, _ev: Any = None) -> None:
        if self.life == M.TIME_WAIT and self.timer.retries == 0:
            self._learn_close_answer()
            if self._seg.fin and not self._seg.ack:
                self.rcv.peer_fin = True  # four-segment close: this ACKs the peer's own FIN
                self.wire.observe("close_shape", "ack,fin")
        burst = self.wire.dialect.final_spacing == "burst"
        copies = self._final_copies() if burst else 1
        for _ in range(copies):
            self.repeat_last_ack()
        if burst:
            self.timer.retries = copies  # all sent: one more timeout to absorb repeats, then done
        self.timer.arm()

    def repeat_last_ack(self, _ev: Any = None) -> None:
        d = self.wire.dialect
        flags = b"0|||0|||1" if d.last_flag == "fin" else b"0|||1|||0"
        self.outbox.emit(self.wire.ctl(flags, self._fin_seq + d.last_ack_offset))

    def can_repeat_last_ack(self, _ev: Any = None) -> bool:
        """The closer's last segment goes out ``final_copies`` times, one timeout apart."""
        return self.timer.retries < self._final_copies()

    def _final_copies(self) -> int:
        copies = self.wire.dialect.final_copies
        return self.config.close_tries if copies == D.CANONICAL.final_copies else copies

    def _close_answer_seq(self) -> int:
        d = self.wire.dialect
        return (self._fin_seq if d.close_base == "fin" else self._synack_seq) + (
            d.close_answer_offset
        )

    def _close_answer_variant(self, seq: int) -> tuple[str, int] | None:
        """(base, offset) by which ``seq`` answers our FIN: the dialect's, or (auto) the
        first rule of the space that gives it."""
        variants = self._close_answer_variants(seq)
        return variants[0] if variants else None

    def _close_answer_variants(self, seq: int) -> list[tuple[str, int]]:
        """Every (base, offset) by which ``seq`` answers our FIN, the working one first."""
        found = [(base, offset) for base, offset, _y in self._close_answers(seq)]
        return list(dict.fromkeys(found))

    def _close_answers(self, seq: int) -> list[tuple[str, int, int]]:
        """Every (base, offset, y) by which ``seq`` answers our FIN at y (auto may have
        sent copies of it at other numbers), the working rule first."""
        d = self.wire.dialect
        variants = [(d.close_base, d.close_answer_offset)]
        if self.wire.tolerant:
            # A FIN+ACK is an answer in any rule of the space. A plain ACK at or below our
            # counter may be a late ACK of our data; above it, it is taken from a peer whose
            # SYN-ACK was in its own numbering (its answer is), or once the shape is known (a
            # FIN numbered as the answer shows it): else it may be a late ACK of our data in
            # another arithmetic.
            own = d.synack_seq == "own"
            if self._seg.fin:
                variants += [(b, k) for k in (1, 0, 2) for b in ("fin", "own")]
            elif seq > self.num.seq:
                shaped = d.close_shape == "ack,fin"
                variants += [
                    (b, k) for k in (1, 2) for b in ("fin", "own") if (own and b == "own") or shaped
                ]
        found: list[tuple[str, int, int]] = []
        for base, offset in variants:
            for y in (self._fin_seq, *self._fin_others):
                at = (y if base == "fin" else self._synack_seq) + offset
                if seq == at and (base, offset, y) not in found:
                    found.append((base, offset, y))
        return found

    def _learn_close_answer(self) -> None:
        answers = self._close_answers(self._seg.seq)
        variants = [(base, offset) for base, offset, _y in answers]
        adapt = self.wire.adapt
        if adapt is not None and answers and self._fin_others:
            # the copy of our FIN it answers, if only one is a small offset away (one in the
            # answerer's own numbering says nothing of which)
            seq, fins = self._seg.seq, (self._fin_seq, *self._fin_others)
            offsets = (0, 1, 2) if self._seg.fin else (1, 2)
            ys = [y for y in fins if seq - y in offsets]
            combined = self._seg.fin and self._seg.ack  # one FIN+ACK: no shape to guess
            if combined and len(ys) == 1 and all(a[0] == "fin" for a in answers):
                # the copy answered is known; until then the others stay, so that the FIN
                # that follows a plain ACK is read against every copy (a server's own
                # number may land on one copy's answer: then it is only assumed)
                self._fin_others = []
                self._fin_seq = ys[0]
                # a gap other than the peer's may add up to the same number (a handshake
                # ACK x+3 and a FIN gap of 0 look like x+1 and 2) until it ACKed a length
                gap = ys[0] - self.num.seq
                self.wire.observe_counted("fin_seq_gap", gap, shared=self.snd.lengths > 0)
        if adapt is not None and variants:
            variant = variants[0]
            if len(variants) == 1 and not self._read_otherwise(self._seg.seq, variant):
                self.wire.observe("close_base", variant[0])
                self.wire.observe("close_answer_offset", variant[1])
            elif adapt.assume(
                {"close_base": variant[0], "close_answer_offset": variant[1]},
                f"the answer to FIN {self._seg.seq} fits {variants}",
            ):
                self.wire.adapted()
            # the answerer closes whatever our last segment says, so its number cannot be
            # learnt: take the one the recorded dialects pair with this answer
            last = LAST_AFTER.get(variant, variant[1] + 1)
            if adapt.assume({"last_ack_offset": last}, f"the answer to FIN was {variant}"):
                self.wire.adapted()

    def _read_otherwise(self, seq: int, variant: tuple[str, int]) -> bool:
        """auto: an answer read in the peer's own numbering is also an answer to one of our
        FIN copies at an offset of the space. ``_close_answers`` leaves the latter out for
        a plain ACK until the shape is known, so the own reading may be a coincidence (its
        SYN-ACK's number plus one landing on our FIN's): then it is only assumed."""
        if variant[0] != "own":
            return False
        fins = (self._fin_seq, *self._fin_others)
        return any(y + k == seq for k in D.SPACE["close_answer_offset"] for y in fins)

    def _last_ack_variant(self, seq: int) -> int | None:
        """The offset from y by which ``seq`` is the closer's last segment."""
        offset = seq - self._fin_seq
        # auto: an ACK at or below our counter may be a late one of anything before the FIN
        fresh = seq > self.num.seq or self._seg.fin
        adapt = self.wire.adapt
        if adapt is not None and not adapt.known("handshake_ack_offset"):
            fresh = fresh and not 0 <= seq - self._isn <= 3  # or the late handshake ACK
        if offset == self.wire.dialect.last_ack_offset or (
            self.wire.tolerant and 0 <= offset <= 3 and fresh
        ):
            return offset
        return None

    def note_last_ack(self, _ev: Any = None) -> None:
        if self.wire.tolerant:
            offset = self._last_ack_variant(self._seg.seq)
            if self._fin_moved and self.wire.adapt is not None:
                # the closer sent FINs at two numbers (it took one of our answer's FIN
                # for a close of ours and answered it): this ACK may answer that, so the
                # offset is only assumed
                why = f"ACK {self._seg.seq} after FINs at two numbers"
                if self.wire.adapt.assume({"last_ack_offset": offset}, why):
                    self.wire.adapted()
            else:
                self.wire.observe("last_ack_offset", offset)
            if self._seg.fin and not self._seg.ack:
                self.wire.observe("last_flag", "fin")
        self._finish("closed")

    def reack_stale(self, _ev: Any = None) -> None:
        self.rcv.reack_stale()
