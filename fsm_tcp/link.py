"""What the parts of a connection share, as declared objects (DESIGN.md).

A :class:`~fsm_tcp.engine.Connection` composes a :class:`~fsm_tcp.sender.Sender` and a
:class:`~fsm_tcp.receiver.Receiver`. Each is built from values and the few objects below
(after aioquic, whose stream sender and packet recovery get values and a callback or two),
so that what a part owns is its own, and what it shares is named here:

- :class:`Numbering`: PROTOCOL.md 3's one shared counter, and how far the peer's data is in;
- :class:`Timer`: the connection's one timer, the clock of the event being handled, the RTO
  estimate and the retry count (a change to the timer is a change to this class);
- :class:`Wire`: the working dialect, its arithmetic and framing, and (auto) what is learnt;
- :class:`Outbox`: the datagrams to send, and the promise (``express``) made to drivers;
- :class:`Owner`: the calls a part makes back to the connection that composes it;
- :class:`Shared` bundles them for a :class:`Part` (the sender, the receiver) to keep.

Per-segment code reads these as attributes (one load each, as it read the connection's own
before): the split costs no call and no allocation per segment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import dialects as D
from .config import Config, Stats
from .errors import FsmTcpError
from .events import Address
from .rto import RtoEstimator
from .segment import Segment

Tracer = Callable[[dict[str, Any]], None]
#: ``Connection.express``: (prefix, length, answer, peer) - see there.
Express = tuple[bytes, int, bytes, Address]
#: Matches no datagram: a prepared wire form (an expected ACK or chunk) when none is expected.
NEVER = b"\xff"


class Numbering:
    """PROTOCOL.md 3: one counter numbers the next byte either way (``seq``), and
    ``rcv_nxt`` is the end of the peer's data accepted so far (what a re-ACK carries)."""

    __slots__ = ("rcv_nxt", "seq")

    def __init__(self) -> None:
        self.seq = 0
        self.rcv_nxt = 0


class Timer:
    """The connection's one timer (RFC 6298 5: one for the oldest segment in flight, or a
    bounded wait on the peer), on the clock of the event being handled (``now``)."""

    __slots__ = ("deadline", "heard", "now", "retries", "rto", "stats")

    def __init__(self, rto: RtoEstimator, stats: Stats) -> None:
        self.rto = rto
        self.stats = stats
        self.now = 0.0  # set by every entry point of the connection: time comes in
        self.deadline: float | None = None
        self.retries = 0  # timeouts of what is in flight since it was last answered
        #: When the peer last showed it is there. A bounded wait on the peer counts from
        #: then: the connection moves its deadline when it expires, not per segment.
        self.heard = 0.0

    def arm(self) -> None:
        """Expire one RTO from now (RFC 6298 5.1, 5.3)."""
        self.deadline = self.now + self.rto.rto

    def acked(self, sent_at: float) -> None:
        """A segment sent at ``sent_at`` (-1.0: resent, Karn's rule) was acknowledged: an
        RTT sample (which also ends the back-off) or a back-off reset; the timer stops."""
        if sent_at >= 0.0:
            self.rto.sample(self.now - sent_at)
            self.stats.rtt_samples += 1
        else:
            self.rto.reset_backoff()
        self.retries = 0
        self.deadline = None


class Wire:
    """The working dialect: its arithmetic (``dialect``), its framing as prepared formats,
    and, under auto, the :class:`~fsm_tcp.dialects.Adaptation` that learns it.

    ``on_change()`` gives what to call after auto adapted the working dialect (the
    connection traces it and withdraws what it prepared for the old one), or None once the
    connection is gone: a ``weakref.WeakMethod``, so that the wire holds no cycle.
    """

    __slots__ = (
        "adapt",
        "at_start",
        "byte_numbered",
        "chunk",
        "client",
        "data_numbered",
        "dialect",
        "evidence",
        "f_ack",
        "f_chunk",
        "f_data",
        "fast_ok",
        "helped",
        "mss",
        "on_change",
        "reads_short",
        "tolerant",
        "traced",
    )

    def __init__(
        self,
        dialect: D.Dialect,
        adapt: D.Adaptation | None,
        mss: int,
        on_change: Callable[[], Callable[[], None] | None],
        traced: bool = False,
    ) -> None:
        self.adapt = adapt
        #: Every segment is parsed to be traced: no byte matching, no express answers.
        self.traced = traced
        #: auto, not yet sure: accept every recorded variant where it is unambiguous.
        self.tolerant = adapt is not None
        self.mss = mss
        self.on_change = on_change
        #: What an observation cites: the datagram being handled.
        self.evidence = b""
        #: auto client: the handshake ACK was also sent to the listener (a later answer hints
        #: that the server awaits it there).
        self.helped = False
        self.dialect = dialect
        self.f_ack = self.f_data = self.f_chunk = b""
        self.fast_ok = self.at_start = self.byte_numbered = self.reads_short = False
        #: this end connected (it is the client): it numbers its handshake ACK itself
        self.client = False
        self.chunk = mss
        self._prepare()

    def _prepare(self) -> None:
        """Wire formats of the working dialect; byte matching and express answers only where
        a steady-state segment is numbered as PROTOCOL.md numbers it."""
        d = self.dialect
        num = b"%%0%dd" % d.seq_width if d.seq_width else b"%d"
        self.f_ack = b"0|||1|||0|||" + num + b"|||" + d.control_filler.replace(b"%", b"%%")
        self.f_data = b"0|||0|||0|||" + num + b"|||"
        self.f_chunk = self.f_data + b"%b"  # SEQ and DATA in one formatting, one allocation
        #: a data segment's SEQ is where its data starts (else where it ends)
        self.at_start = d.data_seq == "start"
        #: chunks numbered as PROTOCOL.md numbers them (SEQ = start, ACK = SEQ + len)
        self.byte_numbered = d.byte_numbered
        #: the size of every chunk, or 0 where it depends on the SEQ (``chunk_size``)
        self.chunk = self.mss if d.max_datagram is None else 0
        #: byte matching and express answers (PROTOCOL.md numbering, whole segments,
        #: and no tracer, which must see every segment parsed)
        # auto matches bytes only once the peer has confirmed how it numbers data: the
        # segments that show it must take the general path
        adapt = self.adapt
        known = adapt is None or adapt.known(*D.DATA_NUMBERING)
        self.fast_ok = d.byte_numbered and d.max_datagram is None and not self.traced and known
        #: the chunks after a message's first are placed and ACKed as confirmed (the
        #: sender asks once per segment)
        self.data_numbered = known
        #: a fixed dialect that reads control segments with a buffer as long as its own
        self.reads_short = d.control_read == "own" and adapt is None

    def ctl(self, flags: bytes, seq: int) -> bytes:
        """A control segment (``flags`` as ``b"S|||A|||F"``) in the working dialect."""
        d = self.dialect
        filler = d.fin_filler if flags == b"0|||0|||1" else d.control_filler
        return b"%b|||%0*d|||%b" % (flags, d.seq_width, seq, filler)

    def chunk_size(self, start: int) -> int:
        """MSS, or less where the peer reads short datagrams (header + SEQ + DATA)."""
        d = self.dialect
        limit = d.max_datagram
        if limit is None:
            return self.mss
        digits = max(d.seq_width, len(b"%d" % (start + self.mss)))
        return max(1, min(self.mss, limit - 15 - digits - len(d.control_filler)))

    def canonical_numbering(self, receiving: bool = False) -> bool:
        """The working dialect numbers lengths, data and ACKs as PROTOCOL.md does, so that
        a segment's SEQ says where it lies before its predecessors are acknowledged: the
        condition of windowed sending and of holding segments out of order. auto must
        have seen it: as sender the peer's length ACK, as receiver its first chunk."""
        d = self.dialect
        if not (
            d.length_seq_gap == 0
            and d.length_ack is None
            and d.data_seq == "start"
            and d.data_seq_gap == 0
            and d.max_datagram is None
            and not d.control_filler
        ):
            return False
        adapt = self.adapt
        return adapt is None or ("data_seq" if receiving else "length_ack") in adapt.confirmed

    def numbering_known(self, length: bool = False) -> bool:
        """Every number of a message's data can be computed before its predecessors are
        answered (PROTOCOL.md 6's condition of windowed sending, in any dialect): a fixed
        dialect's, or auto's once the peer has confirmed it (``length``: the length ACK's
        arithmetic too, else the chunks wait for the length's ACK)."""
        adapt = self.adapt
        return adapt is None or adapt.known(*D.NUMBERING[0 if length else 2 :])

    def unconfirmed(self, variable: str) -> bool:
        """auto has not yet seen ``variable`` (False for a fixed dialect: nothing to learn)."""
        adapt = self.adapt
        return adapt is not None and variable not in adapt.confirmed

    def observe(self, variable: str, value: Any) -> None:
        """auto: the peer showed ``variable`` = ``value`` in the segment being handled."""
        adapt = self.adapt
        if adapt is not None and adapt.observe(variable, value, self.evidence):
            self.adapted()

    def observe_counted(self, variable: str, value: Any, shared: bool | None = None) -> None:
        """auto: ``value`` was read off the shared counter. Where it starts is only assumed
        until the handshake ACK's number is known, or ``shared`` says the peer has shown
        it counts from the same start (default: a client's counter is its own). A server
        that took data for the handshake ACK only assumed that start, and a client whose
        handshake rule is only its working one (no length of it ACKed yet) too: then so
        is this."""
        adapt = self.adapt
        if adapt is None:
            return
        if (self.client if shared is None else shared) or adapt.known("handshake_ack_offset"):
            self.observe(variable, value)
        elif adapt.assume({variable: value}, "counted from an assumed start"):
            self.adapted()

    def adapted(self) -> None:
        """auto's working dialect changed: take it, and tell the connection."""
        assert self.adapt is not None
        self.dialect = self.adapt.current
        self._prepare()
        changed = self.on_change()
        if changed is not None:
            changed()


class Outbox:
    """The datagrams a connection has to send, and its promise to drivers (``express``)."""

    __slots__ = ("answered", "express", "matched", "more", "on_send", "out", "peer", "stats")

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.out: list[tuple[bytes, Address]] = []
        self.peer: Address = ()  # () until known; hot paths read it unchecked
        #: A promise to drivers: see ``Connection.express``.
        self.express: Express | None = None
        #: The express answer of the datagram being handled is out already (the driver sent
        #: it): the next emit is that answer, and is not queued again.
        self.answered = False
        #: the datagram express_answer() last matched (by identity): what answered=True
        #: may hand over
        self.matched: bytes | None = None
        #: The driver has more datagrams queued behind this one: an in-order ACK may wait for
        #: the next one's.
        self.more = False
        #: Called with each segment sent and whether it is a retransmission (tracing only).
        self.on_send: Callable[[bytes, bool], None] | None = None

    def emit(self, pkt: bytes, retransmission: bool = False) -> None:
        """A segment for the peer."""
        if self.answered:  # the express answer: the driver has sent it already
            self.answered = False
        else:
            self.out.append((pkt, self.peer))  # set before anything is sent
        self.stats.segments_sent += 1
        if self.on_send is not None:
            self.on_send(pkt, retransmission)

    def emit_to(self, pkt: bytes, addr: Address) -> None:
        """A segment for another address than the peer's (the listener's)."""
        self.out.append((pkt, addr))
        self.stats.segments_sent += 1
        if self.on_send is not None:
            self.on_send(pkt, False)


class Owner(Protocol):
    """What the sender and the receiver may read of, and ask of, their connection."""

    #: The lifecycle's state (fsm_tcp.machines.LIFECYCLE).
    life: str
    tracer: Tracer | None
    error: FsmTcpError | None

    @property
    def peer(self) -> Address | None: ...

    @property
    def tx(self) -> str:
        """The sender's state: what a stale segment means depends on whether we send."""

    def abort(self, error: FsmTcpError) -> None:
        """The connection fails with ``error`` (the lifecycle's ``abort``)."""

    def set_error(self, error: FsmTcpError) -> None:
        """What the application will be told, while the lifecycle goes on (a close)."""

    def peer_alive(self) -> None:
        """Something valid came from the peer: a bounded wait on it starts again (the
        per-segment path sets ``Timer.heard`` itself)."""

    def await_peer(self) -> None:
        """The application waits on the peer: bound the wait."""

    def message_sent(self, length: int) -> None:
        """The sender's message is acknowledged whole."""

    def message_received(self, length: int) -> None:
        """A whole message is in."""

    def take_in_order(self, seg: Segment, evidence: bytes) -> None:
        """A segment held out of order is next in order now: handle it as if it had just
        arrived as ``evidence``."""

    def before_transition(self, machine: str, ev: Any) -> None:
        """Every machine of the connection calls this before each transition."""

    def trace(self, kind: str, **fields: Any) -> None:
        """A trace record (nothing without a tracer)."""


@dataclass(frozen=True)
class Shared:
    """What a connection gives each of its parts (built once, by the connection)."""

    owner: Owner
    config: Config
    stats: Stats
    num: Numbering
    timer: Timer
    wire: Wire
    out: Outbox


class Part:
    """A part of a connection (the sender, the receiver): it keeps what it shares as slots
    of its own, so that per-segment code reads ``self.num`` and not ``self.shared.num``."""

    __slots__ = ("config", "num", "out", "owner", "stats", "timer", "wire")

    def __init__(self, shared: Shared) -> None:
        self.owner = shared.owner
        self.config = shared.config
        self.stats = shared.stats
        self.num = shared.num
        self.timer = shared.timer
        self.wire = shared.wire
        self.out = shared.out
