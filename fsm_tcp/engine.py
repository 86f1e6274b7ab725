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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import machines as M
from .errors import (
    ConnectionClosed,
    ConnectionTimeout,
    FsmTcpError,
    InvalidArgument,
    MalformedSegment,
    MessageTooLarge,
    ProtocolViolation,
)
from .rto import RtoEstimator
from .segment import MAX_DATAGRAM, Segment, parse

Address = tuple[Any, ...]
Tracer = Callable[[dict[str, Any]], None]
#: ``Connection.express``: (prefix, length, answer, peer) - see there.
Express = tuple[bytes, int, bytes, Address]

_LIFE = M.build(M.LIFECYCLE)
_TX = M.build(M.SENDER)
_RX = M.build(M.RECEIVER)
_FIRES_FROM = {t.name: t.fires_from() for t in M.TABLES}
_MACHINES = {"lifecycle": _LIFE, "sender": _TX, "receiver": _RX}
_MACHINE_NAME = {id(m): name for name, m in _MACHINES.items()}
_CLOSING_STATES = frozenset({M.FIN_WAIT_1, M.FIN_WAIT_2, M.CLOSING, M.LAST_ACK, M.TIME_WAIT})
_MAX_LENGTH_DIGITS = 20


@dataclass(frozen=True)
class Config:
    """Protocol knobs. Defaults speak PROTOCOL.md and suit loopback and LAN paths."""

    mss: int = 16
    #: RFC 6298 (2.1) says 1 s before the first RTT sample; this transport lives on LANs and
    #: loopback, where a lost SYN should not cost a second. Set 1.0 for the RFC's value.
    initial_rto: float = 0.25
    #: RFC 6298 (2.4) suggests 1 s; the RTT estimate keeps a low floor safe on slow paths.
    #: On loopback a round trip takes 20-60 us, so the RTO there is SRTT + G, under 0.1 ms:
    #: a lost segment costs that, not a millisecond (spurious retransmissions measured: under
    #: 0.1% of a no-loss transfer's segments).
    min_rto: float = 0.00005
    max_rto: float = 4.0
    #: RFC 6298's clock granularity G: how late a timer may fire. Linux's default timer slack
    #: for a sleep in select() is 50 us; a busy-polling driver is within microseconds.
    granularity: float = 0.00005
    #: Retransmissions of one segment (handshake or data) before ConnectionTimeout.
    max_retries: int = 12
    #: PROTOCOL.md 4: FIN resent and the last ACK sent this many times, one timeout apart.
    close_tries: int = 3
    max_message_size: int = 64 * 1024 * 1024
    #: Unread bytes a receiver holds before it stops accepting data (flow control).
    receive_buffer: int = 64 * 1024
    #: Random 32-bit initial sequence numbers instead of the course's 0..100, and segments
    #: outside the expected window dropped silently instead of re-ACKed.
    secure: bool = False

    def __post_init__(self) -> None:
        if self.mss < 1 or self.mss > MAX_DATAGRAM - 64:
            raise InvalidArgument(f"mss must be 1..{MAX_DATAGRAM - 64}, got {self.mss}")
        if self.max_retries < 0 or self.close_tries < 1:
            raise InvalidArgument("max_retries must be >= 0 and close_tries >= 1")
        if self.max_message_size < 0 or self.receive_buffer < 1:
            raise InvalidArgument("max_message_size must be >= 0 and receive_buffer >= 1")
        RtoEstimator(self.initial_rto, self.min_rto, self.max_rto)  # validates the timers

    def give_up_bound(self) -> float:
        """Longest a sender retransmits to a silent peer before ConnectionTimeout (seconds).

        At most ``max_retries + 1`` timeouts, none longer than max_rto. A reader waiting on
        a silent peer waits at most twice this (it must outwait any sender).
        """
        return (self.max_retries + 1) * self.max_rto


# ----------------------------------------------------------------------------- events
@dataclass(frozen=True)
class Established:
    peer: Address


@dataclass(frozen=True)
class MessageReceived:
    length: int


@dataclass(frozen=True)
class MessageSent:
    length: int


@dataclass(frozen=True)
class Closed:
    """The connection reached CLOSED; ``error`` is None for every orderly ending."""

    reason: str
    error: FsmTcpError | None = None


Event = Established | MessageReceived | MessageSent | Closed


@dataclass
class Stats:
    segments_sent: int = 0
    segments_received: int = 0
    payload_bytes_sent: int = 0
    retransmissions: int = 0
    duplicates_received: int = 0
    malformed: int = 0
    foreign: int = 0
    ignored: int = 0
    out_of_window: int = 0
    window_full: int = 0
    rtt_samples: int = 0
    transitions: int = 0


class Connection:
    """One end of one connection. See the module doc for the driving contract."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        rng: random.Random | None = None,
        tracer: Tracer | None = None,
        name: str = "",
    ) -> None:
        self.config = cfg = config or Config()
        self._mss = cfg.mss
        self.name = name
        self.tracer = tracer
        self._rng = rng or random.Random()
        # Machine states; only the shared machines in this module write them.
        self.life = M.LIFECYCLE.initial
        self.tx = M.SENDER.initial
        self.rx = M.RECEIVER.initial
        self._opened = False
        self._peer_addr: Address = ()  # () until known; hot paths read it unchecked
        self.error: FsmTcpError | None = None
        self.stats = Stats()
        self.rto = RtoEstimator(cfg.initial_rto, cfg.min_rto, cfg.max_rto, cfg.granularity)
        self.seq = 0  # the one shared counter (PROTOCOL.md 3): next byte either way
        self._isn = 0
        self._rcv_nxt = 0  # end of the peer's data accepted so far: what a re-ACK carries
        self._now = 0.0
        self._seg: Segment = Segment(False, False, False, 0)
        self._from: Address = ()
        self._out: list[tuple[bytes, Address]] = []
        #: A promise to drivers: a datagram from ``peer`` of exactly ``length`` bytes that
        #: starts with ``prefix`` is answered by ``answer`` and nothing else. A driver may send
        #: ``answer`` the moment such a datagram arrives and then hand it over with
        #: ``receive_datagram(..., answered=True)``, so the bookkeeping runs while the peer
        #: works. None when no such promise holds (any other event withdraws it).
        self.express: Express | None = None
        self._answered_by_driver = False
        self._events: deque[Event] = deque()
        self._deadline: float | None = None
        self._retries = 0
        self._sent_at = 0.0
        self._retransmitted = False
        self._fin_seq = 0
        self._peer_fin = False
        self._close_requested = False
        self._awaiting_fin = False
        self._wait_span = 0.0
        # sender
        self._tx_queue: deque[bytes] = deque()
        self._tx_msg = b""
        self._tx_off = 0
        self._tx_end = 0
        self._tx_pkt = b""
        self._tx_ack_wire = b""  # the ACK the chunk in flight expects, as bytes
        # receiver
        self._rx_buf = bytearray()
        self._rx_pos = 0
        self._rx_bounds: deque[int] = deque()  # unread length of each announced message
        self._rx_remaining = 0  # bytes of the current message still to arrive
        self._rx_announced = 0
        self._rx_wanted = 0
        self._rx_head = b"\xff"  # wire prefix of the next chunk expected (never a real one)
        self._rx_head_seq = -1

    # ================================================================ driving API
    def connect(self, address: Address, now: float) -> None:
        """Active open: send SYN to ``address`` (the listener)."""
        self._require_fresh("connect")
        self._opened = True
        self._now = now
        self.peer = address
        self._fire("lifecycle", "open_active")

    def listen(self) -> None:
        """Passive open: this connection will take the first SYN it is given."""
        self._require_fresh("listen")
        self._opened = True
        self._fire("lifecycle", "open_passive")

    def send(self, message: bytes, now: float) -> None:
        """Queue one message (any bytes, 0 B included); it goes out after those before it."""
        if not isinstance(message, bytes | bytearray | memoryview):
            raise InvalidArgument(f"send() takes bytes, not {type(message).__name__}")
        if self._close_requested or self.life not in (M.ESTABLISHED, M.SYN_SENT, M.SYN_RCVD):
            raise ConnectionClosed(f"cannot send in state {self.life}")
        if len(message) > self.config.max_message_size:
            raise MessageTooLarge(
                f"message of {len(message)} bytes exceeds max_message_size "
                f"{self.config.max_message_size}"
            )
        self._now = now
        self._tx_queue.append(bytes(message))
        self._start_next_message()

    def receive(self, buff_size: int) -> bytes | None:
        """Up to ``buff_size`` bytes of the current message, or None if they are not here yet.

        PROTOCOL.md 3: returns once min(unread bytes of the current message, buff_size) bytes
        are held; never bytes of the next message. ``b""`` at end of stream (the peer closed)
        and for a zero-length message.
        """
        if not isinstance(buff_size, int) or buff_size < 1:
            raise InvalidArgument(f"buff_size must be a positive integer, got {buff_size!r}")
        if len(self._rx_buf) - self._rx_pos >= self.config.receive_buffer:
            self.express = None  # the buffer is full unless someone waits: that may change
        bounds = self._rx_bounds
        if not self.receivable(buff_size):
            self._wait_for(min(buff_size, bounds[0]) if bounds else buff_size)
            return None
        if not bounds:  # no message started: an error, or the end of the stream
            if self.error is not None:
                raise self.error
            return b""
        want = min(buff_size, bounds[0])
        pos = self._rx_pos
        if len(self._rx_buf) - pos < want:  # the stream ended in the middle of a message
            raise self.error or ProtocolViolation("the peer closed in the middle of a message")
        out = bytes(self._rx_buf[pos : pos + want])
        pos += want
        if pos > 65536 and pos * 2 > len(self._rx_buf):  # compact: amortised O(1) per byte
            del self._rx_buf[:pos]
            pos = 0
        self._rx_pos = pos
        self._rx_wanted = 0  # a wait deadline may stay armed: handle_timer checks who waits
        if want == bounds[0]:
            bounds.popleft()
        else:
            bounds[0] -= want
        return out

    def receivable(self, buff_size: int) -> bool:
        """True when ``receive(buff_size)`` would return data or raise (it decides by this):
        a driver's cheap check while it waits (a first ``receive`` call has told the engine
        that it waits)."""
        bounds = self._rx_bounds
        ended = self.life == M.CLOSED or self._peer_fin
        if not bounds:
            return ended or self.error is not None
        return ended or len(self._rx_buf) - self._rx_pos >= min(buff_size, bounds[0])

    @property
    def send_progress(self) -> tuple[int, int]:
        """(bytes acknowledged, length) of the message being sent; (0, 0) when idle."""
        if self.tx == M.TX_DATA:
            return self._tx_off - (self._tx_end - self.seq), len(self._tx_msg)
        return 0, len(self._tx_msg)

    def next_message_length(self) -> int | None:
        """Length of the next unread message once its length segment is in, else None."""
        return self._rx_bounds[0] if self._rx_bounds else None

    @property
    def at_eof(self) -> bool:
        """Nothing more will arrive: every message is read and the peer closed (or we did)."""
        return not self._rx_bounds and (self._peer_fin or self.life == M.CLOSED)

    def close(self, now: float) -> None:
        """Active close (PROTOCOL.md 4, Host A), once every queued message is acknowledged."""
        self._now = now
        if self.life in (M.LISTEN, M.SYN_SENT, M.SYN_RCVD):
            self._fire("lifecycle", "close")
            return
        self._close_requested = True
        self._maybe_start_close()

    def expect_close(self, now: float) -> None:
        """recv_close(): wait (bounded) for the peer's FIN; answer it per PROTOCOL.md 4."""
        self._now = now
        self._awaiting_fin = True
        self._arm_peer_wait()

    def receive_datagram(
        self, data: bytes, addr: Address, now: float, answered: bool = False
    ) -> None:
        """Feed one datagram that arrived from ``addr``.

        ``answered``: it matched ``express`` and the driver has sent the promised answer.
        """
        self._now = now
        stats = self.stats
        if answered:
            self._take_express(data, addr)
            return
        if addr != self._peer_addr and not self._may_adopt(addr):
            stats.foreign += 1
            return
        if self.tracer is None and self.life == M.ESTABLISHED and self._fast_path(data):
            return
        self.express = None
        try:
            seg = parse(data)
        except MalformedSegment as exc:
            stats.malformed += 1
            self._trace("malformed", data=data[:64].hex(), why=str(exc))
            return
        stats.segments_received += 1
        if self.tracer is not None:
            self._trace_segment("recv", seg)
        self._seg = seg
        self._from = addr
        if self.life == M.ESTABLISHED and not (seg.syn or seg.fin):
            if seg.ack:
                self._on_ack(seg)
            else:
                self._on_data(seg)
        else:
            self._on_control(seg)

    def express_answer(self, data: bytes, addr: Address) -> bytes | None:
        """The answer ``express`` promises for ``data`` from ``addr``, or None if it promises
        none: a driver sends it at once, then calls ``receive_datagram(..., answered=True)``."""
        express = self.express
        if (
            express is not None
            and len(data) == express[1]
            and data.startswith(express[0])
            and addr == express[3]
        ):
            return express[2]
        return None

    def handle_timer(self, now: float) -> None:
        """Call when ``now`` has reached ``get_timer()``; early calls do nothing."""
        if self._deadline is None or now < self._deadline:
            return
        self._now = now
        self.express = None
        self._deadline = None
        self._retries += 1
        if self.life == M.ESTABLISHED:
            if self.tx == M.TX_IDLE:
                if self._awaiting_fin or self._rx_wanted:
                    self._fire("lifecycle", "timeout")
                # else: the application stopped waiting on the peer; the deadline lapses
            elif self.can_retry():
                self._resend_timed(self._tx_pkt)  # bookkeeping: the stage stays the same
            else:
                self._fire("sender", "tx_timeout")
        elif (self.life, "timeout") in _FIRES_FROM["lifecycle"]:
            self._fire("lifecycle", "timeout")

    def get_timer(self) -> float | None:
        return self._deadline

    def datagrams_to_send(self) -> list[tuple[bytes, Address]]:
        out, self._out = self._out, []
        return out

    @property
    def has_output(self) -> bool:
        return bool(self._out)

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    @property
    def peer(self) -> Address | None:
        """The address this connection talks to (the server's connection socket, for a client)."""
        return self._peer_addr or None

    @peer.setter
    def peer(self, address: Address) -> None:
        self._peer_addr = tuple(address)

    @property
    def is_closed(self) -> bool:
        """CLOSED after having been opened (a fresh connection is CLOSED too)."""
        return self._opened and self.life == M.CLOSED

    @property
    def is_established(self) -> bool:
        return self.life == M.ESTABLISHED

    @property
    def sending(self) -> bool:
        """True while a message is queued or not yet fully acknowledged."""
        return self.tx != M.TX_IDLE or bool(self._tx_queue)

    @property
    def unread(self) -> int:
        return len(self._rx_buf) - self._rx_pos

    # ================================================================ plumbing
    def _fire(self, machine: str, trigger: str) -> bool:
        """Fire a declared trigger on one of the shared machines; the only way state changes."""
        return bool(_MACHINES[machine].events[trigger].trigger(self))

    def _fire_if_declared(self, trigger: str) -> None:
        if (self.life, trigger) in _FIRES_FROM["lifecycle"]:
            if not self._fire("lifecycle", trigger):
                self.stats.ignored += 1
        else:
            self.stats.ignored += 1

    def _trace(self, kind: str, **fields: Any) -> None:
        if self.tracer is not None:
            self.tracer(
                {
                    "t": self._now,
                    "conn": self.name,
                    "kind": kind,
                    "life": self.life,
                    "tx": self.tx,
                    "rx": self.rx,
                    **fields,
                }
            )

    def _trace_segment(self, kind: str, seg: Segment) -> None:
        self._trace(
            kind, flags=seg.flags(), seq=seg.seq, data=seg.data[:24].hex(), length=len(seg.data)
        )

    def _require_fresh(self, what: str) -> None:
        if self._opened:
            raise ConnectionClosed(f"{what}() needs a fresh connection, this one is {self.life}")

    def _may_adopt(self, addr: Address) -> bool:
        """A SYN-ACK comes from the server's new connection socket (PROTOCOL.md 2)."""
        peer = self.peer
        return (self.life == M.SYN_SENT and peer is not None and addr[:1] == peer[:1]) or (
            self.life == M.LISTEN and peer is None
        )

    def _emit(self, pkt: bytes) -> None:
        if self._answered_by_driver:  # the express answer: the driver has sent it already
            self._answered_by_driver = False
        else:
            self._out.append((pkt, self._peer_addr))  # set before anything is sent
        self.stats.segments_sent += 1
        if self.tracer is not None:
            self._trace_segment("send", parse(pkt))

    def _arm(self) -> None:
        self._deadline = self._now + self.rto.rto

    def _send_timed(self, pkt: bytes) -> None:
        """Send a segment that expects an answer, and time it for RTT (Karn) and RTO."""
        self._sent_at = self._now
        self._retransmitted = False
        self._emit(pkt)
        self._arm()

    def _resend_timed(self, pkt: bytes) -> None:
        self.stats.retransmissions += 1
        self._retransmitted = True
        self.rto.back_off()
        self._emit(pkt)
        self._arm()

    def _answered(self) -> None:
        """The segment in flight was acknowledged: sample RTT (Karn's rule), reset back-off."""
        if RtoEstimator.karn_ok(self._retransmitted):
            self.rto.sample(self._now - self._sent_at)  # a sample also ends the back-off
            self.stats.rtt_samples += 1
        else:
            self.rto.reset_backoff()
        self._retries = 0
        self._deadline = None

    def _ack(self, seq: int) -> None:
        self._emit(b"0|||1|||0|||%d|||" % seq)

    # ================================================================ per-segment paths
    def _fast_path(self, data: bytes) -> bool:
        """The two datagrams a transfer is made of, matched as bytes against what is expected.

        The ACK of the chunk in flight (not the last one) and the next chunk of the current
        message are compared with wire forms prepared when the state was set up, so they
        skip parsing; they do exactly what the general path would. Anything else - a
        leading zero, a duplicate, the last chunk - returns False and takes that path.
        """
        if data == self._tx_ack_wire:
            if self.tx != M.TX_DATA or self._tx_off >= len(self._tx_msg):
                return False
            self.stats.segments_received += 1
            self._answered()
            self.seq = self._tx_end
            self._send_chunk()
            self._promise_next_chunk()
            return True
        head = self._rx_head
        if not data.startswith(head) or self._rx_head_seq != self.seq:
            return False
        n = len(data) - len(head)
        unread = len(self._rx_buf) - self._rx_pos
        if (
            self.rx != M.RX_DATA
            or self.tx != M.TX_IDLE
            or not 0 < n < self._rx_remaining  # the last chunk fires a trigger: general path
            or (unread >= self.config.receive_buffer and unread >= self._rx_wanted)  # full
        ):
            return False
        self.stats.segments_received += 1
        self._rx_buf += data[len(head) :]  # a 16-byte slice costs less than a memoryview
        self._accept_chunk(n)
        self._promise_next_ack(unread + n)
        return True

    def _take_express(self, data: bytes, addr: Address) -> None:
        """The datagram matched ``express`` and its answer is out: do what the fast path does,
        without queueing the answer again."""
        answer = self.express_answer(data, addr)
        if answer is None:
            raise ProtocolViolation("answered=True for a datagram that does not match express")
        self._answered_by_driver = True
        handled = self._fast_path(data)
        if not handled or self._answered_by_driver:  # a broken promise is a bug here
            self._answered_by_driver = False
            raise ProtocolViolation(f"express answer {answer!r} was not this engine's")

    def _promise_next_chunk(self) -> None:
        """Sender: the ACK of the chunk just sent will be answered by the next chunk."""
        off, msg = self._tx_off, self._tx_msg
        if off < len(msg) and self.tracer is None:
            wire = self._tx_ack_wire
            chunk = b"0|||0|||0|||%d|||%b" % (self._tx_end, msg[off : off + self._mss])
            self.express = (wire, len(wire), chunk, self._peer_addr)
        else:
            self.express = None  # the last chunk's ACK fires a trigger

    def _promise_next_ack(self, unread: int) -> None:
        """Receiver: the next full chunk, unless it is the last or the buffer is full, will be
        answered by its ACK (the conditions of the fast path, for a chunk of ``mss`` bytes)."""
        mss = self._mss
        if (
            self._rx_remaining > mss
            and (unread < self.config.receive_buffer or unread < self._rx_wanted)
            and self.tracer is None
        ):
            head = self._rx_head
            ack = b"0|||1|||0|||%d|||" % (self.seq + mss)
            self.express = (head, len(head) + mss, ack, self._peer_addr)
        else:
            self.express = None

    def _accept_chunk(self, n: int) -> None:
        """Bookkeeping of an in-order chunk whose bytes are already in the buffer."""
        self.seq = self._rcv_nxt = seq = self.seq + n
        self._rx_remaining -= n
        self._ack(seq)
        self._rx_head = b"0|||0|||0|||%d|||" % seq
        self._rx_head_seq = seq
        if self._deadline is not None:
            self._peer_alive()

    def _on_ack(self, seg: Segment) -> None:
        """A pure ACK in ESTABLISHED: the hot path of a sender."""
        if self.tx == M.TX_IDLE or seg.seq != self._tx_end:
            self.stats.duplicates_received += 1  # stale or early ACK: nothing to do
            return
        self._chunk_acked()

    def _chunk_acked(self) -> None:
        self._answered()
        self.seq = self._tx_end
        if self.tx == M.TX_LENGTH:
            self._fire("sender", "tx_length_acked")
        elif self._tx_off >= len(self._tx_msg):
            self._fire("sender", "tx_last_chunk_acked")
        else:
            self._send_chunk()

    def _send_chunk(self) -> None:
        off, seq = self._tx_off, self.seq
        chunk = self._tx_msg[off : off + self._mss]
        n = len(chunk)
        self._tx_off = off + n
        self._tx_end = seq + n
        self._tx_pkt = b"0|||0|||0|||%d|||%b" % (seq, chunk)
        self._tx_ack_wire = b"0|||1|||0|||%d|||" % (seq + n)  # what _fast_path will match
        self.stats.payload_bytes_sent += n
        self._send_timed(self._tx_pkt)

    def _on_data(self, seg: Segment) -> None:
        """A data or length segment in ESTABLISHED: the hot path of a receiver."""
        if self.tx != M.TX_IDLE:
            if not self._implies_ack(seg):
                self._stale_or_ahead(seg)
                return
            self._chunk_acked()  # the peer moved on, so it has our last segment
        if seg.seq != self.seq:
            self._stale_or_ahead(seg)
        elif self.rx == M.RX_LENGTH:
            self._on_length(seg)
        else:
            self._on_chunk(seg)

    def _implies_ack(self, seg: Segment) -> bool:
        """Peer data at the SEQ our last segment ends at proves it arrived (desync a/b mirror)."""
        return seg.seq == self._tx_end and self._tx_off >= len(self._tx_msg)

    def _stale_or_ahead(self, seg: Segment) -> None:
        if self.config.secure and not self._in_window(seg):
            self.stats.out_of_window += 1  # secure: dropped without a word (no ACK to reflect)
            return
        if seg.seq < self._rcv_nxt or (seg.seq < self.seq and self.tx == M.TX_IDLE):
            self.stats.duplicates_received += 1
            if self.rx == M.RX_DATA:
                self.reack_stale()  # same stage on both sides: bookkeeping, no trigger
            else:
                self._fire("receiver", "rx_duplicate")  # desync (b): declared
        else:
            self.stats.out_of_window += 1  # PROTOCOL.md 3: dropped, and re-ACKed
            self._ack(self._rcv_nxt)

    def _in_window(self, seg: Segment) -> bool:
        """Secure mode: only a repeat of recent data is answered; anything ahead of what we
        expect, or further back than one receive buffer, is a blind guess and dropped."""
        return self._rcv_nxt - self.config.receive_buffer <= seg.seq < self._rcv_nxt

    def _on_length(self, seg: Segment) -> None:
        data = seg.data
        if not data.isdigit() or len(data) > _MAX_LENGTH_DIGITS:
            self.stats.malformed += 1  # not a length: drop it unacknowledged
            return
        self._rx_announced = int(data)
        self._fire("receiver", "rx_length")

    def _on_chunk(self, seg: Segment) -> None:
        n = len(seg.data)
        if n == 0 or n > self._rx_remaining:
            self.stats.malformed += 1
            return
        if self.unread >= max(self.config.receive_buffer, self._rx_wanted):
            self.stats.window_full += 1  # flow control: re-ACK, the sender will retry
            self._ack(self._rcv_nxt)
            return
        self._rx_buf += seg.data
        self._accept_chunk(n)
        if self._rx_remaining == 0:
            self._fire("receiver", "rx_last_chunk")

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
        if self.tx != M.TX_IDLE:
            if self._implies_ack(seg):
                self._chunk_acked()
            elif seg.seq == self.seq:
                self._fire("sender", "tx_cancel")  # the peer closes without our data
            else:
                return False
        if seg.seq != self.seq:
            return False
        if self.rx == M.RX_DATA:
            self._fire("receiver", "rx_truncate")
        return True

    def _start_next_message(self) -> None:
        if self.life == M.ESTABLISHED and self.tx == M.TX_IDLE and self._tx_queue:
            self._tx_msg = self._tx_queue.popleft()
            self._fire("sender", "tx_start")

    def _maybe_start_close(self) -> None:
        if (
            self._close_requested
            and self.life == M.ESTABLISHED
            and self.tx == M.TX_IDLE
            and not self._tx_queue
        ):
            self._fire("lifecycle", "close")

    def _settle_established(self) -> None:
        """Entering ESTABLISHED (either side): start what the user already asked for."""
        self._events.append(Established(self.peer or ()))
        self._start_next_message()
        self._maybe_start_close()
        self._arm_peer_wait()

    def _wait_for(self, n: int) -> None:
        """The application waits for ``n`` bytes: bound the wait like any other (liveness)."""
        self._rx_wanted = n
        self._arm_peer_wait()

    def _arm_peer_wait(self) -> None:
        if (
            self.life == M.ESTABLISHED
            and self.tx == M.TX_IDLE
            and self._deadline is None
            and (self._awaiting_fin or self._rx_wanted)
        ):
            self._wait_span = self._sender_patience()
            self._deadline = self._now + self._wait_span

    def _sender_patience(self) -> float:
        """How long a peer sender keeps retransmitting one segment before it gives up.

        The peer's RTO is about ours; twice the sum of its backed-off timeouts covers any
        difference, so a waiting reader never gives up on a peer that is still trying.
        One long deadline instead of RTO steps: the wait costs no timer events while data
        flows or is being retransmitted.
        """
        cfg, rto = self.config, self.rto.rto
        return 2.0 * sum(min(rto * 2.0**k, cfg.max_rto) for k in range(cfg.max_retries + 1))

    def _peer_alive(self) -> None:
        """Something valid came from the peer: restart any bounded wait on it."""
        if self._deadline is not None and self.tx == M.TX_IDLE:
            self._deadline = self._now + self._wait_span

    def _finish(self, reason: str, error: FsmTcpError | None = None) -> None:
        self._deadline = None
        if error is not None and self.error is None:
            self.error = error
        self._tx_queue.clear()
        self._events.append(Closed(reason, error))

    # ================================================================ table callbacks
    def on_transition(self, ev: Any) -> None:
        """Every machine calls this before each transition it executes (``machines.build``)."""
        self.stats.transitions += 1
        self.express = None
        if self.tracer is not None:
            tr = ev.transition
            self._trace(
                "transition",
                machine=_MACHINE_NAME[id(ev.machine)],
                trigger=ev.event.name,
                src=tr.source,
                dst=tr.dest or tr.source,
            )

    # Conditions: each says what it checks.
    def can_retry(self, _ev: Any = None) -> bool:
        return self._retries <= self.config.max_retries

    def can_retry_close(self, _ev: Any = None) -> bool:
        return self._retries < self.config.close_tries

    def acks_our_syn(self, _ev: Any = None) -> bool:
        return self._seg.seq == self._isn + 1

    def completes_handshake(self, _ev: Any = None) -> bool:
        return self._seg.seq == self._isn + 2

    def is_original_syn(self, _ev: Any = None) -> bool:
        return self._seg.seq == self._isn

    def is_peer_fin(self, _ev: Any = None) -> bool:
        return self._seg.seq == self.seq

    def acks_our_fin(self, _ev: Any = None) -> bool:
        return self._seg.seq == self._fin_seq + 1

    def acks_our_finack(self, _ev: Any = None) -> bool:
        return self._seg.seq == self._fin_seq + 2

    def may_reack(self, _ev: Any = None) -> bool:
        """Stale data is answered, except a blind guess in secure mode (see _in_window)."""
        return not self.config.secure or self._in_window(self._seg)

    def is_empty_message(self, _ev: Any = None) -> bool:
        return not self._tx_msg

    def fits_message_limit(self, _ev: Any = None) -> bool:
        return self._rx_announced <= self.config.max_message_size

    def announces_empty_message(self, _ev: Any = None) -> bool:
        return self._rx_announced == 0

    # Actions.
    def reset_retries(self, _ev: Any = None) -> None:
        self._retries = 0

    def send_syn(self, _ev: Any = None) -> None:
        cfg = self.config
        self._isn = self._rng.getrandbits(32) if cfg.secure else self._rng.randint(0, 100)
        self._send_timed(b"1|||0|||0|||%d|||" % self._isn)

    def resend_syn(self, _ev: Any = None) -> None:
        self._resend_timed(b"1|||0|||0|||%d|||" % self._isn)

    def accept_syn(self, _ev: Any = None) -> None:
        self.peer = self._from
        self._isn = self._seg.seq
        self.seq = self._rcv_nxt = self._isn + 2
        self._send_timed(b"1|||1|||0|||%d|||" % (self._isn + 1))

    def send_synack(self, _ev: Any = None) -> None:
        self._emit(b"1|||1|||0|||%d|||" % (self._isn + 1))

    def resend_synack(self, _ev: Any = None) -> None:
        self._resend_timed(b"1|||1|||0|||%d|||" % (self._isn + 1))

    def complete_handshake(self, _ev: Any = None) -> None:
        self.peer = self._from  # from now on, only the server's connection socket
        self._answered()
        self.seq = self._rcv_nxt = self._isn + 2
        self.send_handshake_ack()
        self._settle_established()

    def send_handshake_ack(self, _ev: Any = None) -> None:
        self._ack(self._isn + 2)

    def note_established(self, _ev: Any = None) -> None:
        self._answered()
        self._settle_established()

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
        if self._rx_wanted or self.rx == M.RX_DATA:
            self._finish(
                "timeout",
                ConnectionTimeout(f"no data from {self.peer} for {self._wait_span:.3f} s"),
            )
            return
        self._peer_fin = True  # recv_close(): all data is in, the peer just never said FIN
        self._finish("peer sent no FIN; closed after waiting")

    def note_failure(self, _ev: Any = None) -> None:
        assert self.error is not None
        self._finish("failed", self.error)

    def note_peer_gone(self, _ev: Any = None) -> None:
        self._finish("no answer to FIN; peer assumed gone")

    def send_fin(self, _ev: Any = None) -> None:
        self._fin_seq = self.seq
        self._send_timed(b"0|||0|||1|||%d|||" % self._fin_seq)

    def resend_fin(self, _ev: Any = None) -> None:
        self._resend_timed(b"0|||0|||1|||%d|||" % self._fin_seq)

    def answer_fin(self, _ev: Any = None) -> None:
        """FIN+ACK for the peer's FIN; as first answer, retransmission and dup reply."""
        if self._seg.fin and not self._seg.ack:
            self._fin_seq = self._seg.seq
            self._peer_fin = True
        self._emit(b"0|||1|||1|||%d|||" % (self._fin_seq + 1))
        self._arm()

    def wait_for_peer_fin(self, _ev: Any = None) -> None:
        self._answered()
        self._arm()

    def rearm_close_wait(self, _ev: Any = None) -> None:
        self._arm()

    def send_last_ack(self, _ev: Any = None) -> None:
        if self._seg.fin and not self._seg.ack and self.life == M.TIME_WAIT:
            self._peer_fin = True  # four-segment close: ACK the peer's own FIN
            self._fin_seq = self._seg.seq - 1
        self._emit(b"0|||1|||0|||%d|||" % (self._fin_seq + 2))
        self._arm()

    def repeat_last_ack(self, _ev: Any = None) -> None:
        self._emit(b"0|||1|||0|||%d|||" % (self._fin_seq + 2))

    def reack_stale(self, _ev: Any = None) -> None:
        self._ack(self._rcv_nxt)
        if self.life == M.ESTABLISHED:
            self._peer_alive()  # still repeating data (desync b): the peer is there

    # Sender callbacks.
    def send_length_segment(self, _ev: Any = None) -> None:
        self._tx_off = 0
        digits = b"%d" % len(self._tx_msg)
        self._tx_end = self.seq + len(digits)
        self._tx_pkt = b"0|||0|||0|||%d|||%b" % (self.seq, digits)
        self._send_timed(self._tx_pkt)

    def send_first_chunk(self, _ev: Any = None) -> None:
        self._send_chunk()

    def message_sent(self, _ev: Any = None) -> None:
        self._events.append(MessageSent(len(self._tx_msg)))
        self._tx_msg = b""
        self._start_next_message()
        self._maybe_start_close()
        self._arm_peer_wait()

    def give_up(self, _ev: Any = None) -> None:
        self.error = ConnectionTimeout(
            f"no ACK for SEQ {self.seq} from {self.peer} after "
            f"{self.config.max_retries} retransmissions"
        )
        self._fire("lifecycle", "abort")

    def cancel_sends(self, _ev: Any = None) -> None:
        self._deadline = None
        dropped = len(self._tx_queue) + 1
        self._tx_queue.clear()
        self.error = ConnectionClosed(f"the peer closed; {dropped} message(s) not delivered")

    # Receiver callbacks.
    def refuse_message(self, _ev: Any = None) -> None:
        self.error = MessageTooLarge(
            f"peer announced a {self._rx_announced}-byte message; the limit is "
            f"{self.config.max_message_size} (max_message_size)"
        )
        self._fire("lifecycle", "abort")

    def _accept_length(self, _ev: Any = None) -> None:
        self.seq = self._rcv_nxt = self.seq + len(self._seg.data)
        self._ack(self.seq)
        self._rx_bounds.append(self._rx_announced)
        self._peer_alive()

    def deliver_empty_message(self, _ev: Any = None) -> None:
        self._accept_length()
        self._events.append(MessageReceived(0))

    def start_message(self, _ev: Any = None) -> None:
        self._accept_length()
        self._rx_remaining = self._rx_announced
        self._rx_head = b"0|||0|||0|||%d|||" % self.seq  # what _fast_path will match
        self._rx_head_seq = self.seq

    def finish_message(self, _ev: Any = None) -> None:
        self._events.append(MessageReceived(self._rx_announced))

    def note_truncated(self, _ev: Any = None) -> None:
        self.error = ProtocolViolation(
            f"the peer closed with {self._rx_remaining} bytes of a "
            f"{self._rx_announced}-byte message missing"
        )
        self._rx_remaining = 0
