"""The receiving half of a connection: in-order delivery, an out-of-order buffer, SACK, and
``recv(buff_size)`` semantics (PROTOCOL.md 3 and 6).

A :class:`Receiver` owns the RECEIVER machine's state (``rx``), the bytes received and not
yet read, the message boundaries, and the segments held beyond the cumulative ACK. It needs
no mode: in order it ACKs cumulatively; out of order it keeps what fits its buffer and ACKs
with SACK blocks in the ACK's DATA. A held segment is only bytes at a SEQ: whether it is a
length or a chunk is decided when in-order processing reaches it, through the same path as
a segment that just arrived. What it shares it is given as the objects of
:mod:`fsm_tcp.link` (the SEQ counter, the timer, the working dialect, the datagrams out, and
the calls back to its connection); the application's side gets only the buffer and bounds.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from . import dialects as D
from . import machines as M
from .errors import InvalidArgument, MessageTooLarge, ProtocolViolation
from .link import NEVER, Part, Shared
from .sack import SackReceiver
from .segment import Segment, format_sack

_MACHINE = M.build(M.RECEIVER)
_RX_DATA = M.RX_DATA  # read per segment
_MAX_LENGTH_DIGITS = 20


class Receiver(Part):
    """One connection's incoming messages and the ACKs that answer them."""

    __slots__ = (
        "announced",
        "bounds",
        "buf",
        "closed",
        "draining",
        "first",
        "head",
        "head_seq",
        "held",
        "len_acks",
        "len_repeats",
        "len_seg",
        "length_seg",
        "peer_fin",
        "pending_ack",
        "pos",
        "remaining",
        "rx",
        "sack",
        "wanted",
    )

    def __init__(self, shared: Shared) -> None:
        super().__init__(shared)
        # The machine's state; only the shared machine above writes it after this.
        self.rx = M.RECEIVER.initial
        self.buf = bytearray()
        self.pos = 0
        self.bounds: deque[int] = deque()  # unread length of each announced message
        self.remaining = 0  # bytes of the current message still to arrive
        self.announced = 0
        self.wanted = 0
        self.head = NEVER  # wire prefix of the next chunk expected (never a real one)
        self.head_seq = -1
        self.first = True  # the next chunk is the first of its message
        self.len_seg = (-1, b"")  # the current message's length segment (SEQ, DATA)
        self.len_repeats = 0
        self.len_acks: set[int] = set()  # the ACKs we sent for the current length
        #: Out-of-order segments by SEQ (PROTOCOL.md 6): DATA, and the datagram it came in
        #: (what auto cites if it learns from it once it is taken in order).
        self.held: dict[int, tuple[bytes, bytes]] = {}
        self.length_seg = Segment(False, False, False, 0)  # the length segment being taken
        self.peer_fin = False  # the peer sent FIN: nothing more will arrive
        #: The connection is CLOSED (as when fresh; the connection keeps this current, so
        #: that the per-segment ``receivable`` asks it nothing)
        self.closed = True
        self.sack = SackReceiver()
        #: An in-order ACK held back while the driver has more datagrams queued: the next
        #: in-order segment's ACK covers it (every second segment is acknowledged).
        self.pending_ack: int | None = None
        self.draining = False  # held segments are being taken: one ACK after them all

    # ================================================================ the application
    @property
    def unread(self) -> int:
        return len(self.buf) - self.pos

    def receive(self, buff_size: int) -> bytes | None:
        """See ``Connection.receive``."""
        if not isinstance(buff_size, int) or buff_size < 1:
            raise InvalidArgument(f"buff_size must be a positive integer, got {buff_size!r}")
        if len(self.buf) - self.pos >= self.config.receive_buffer:
            self.out.express = None  # the buffer is full unless someone waits: that may change
        bounds = self.bounds
        if not self.receivable(buff_size):
            self.wanted = min(buff_size, bounds[0]) if bounds else buff_size
            self.owner.await_peer()  # the application waits: bound the wait like any other
            return None
        if not bounds:  # no message started: an error, or the end of the stream
            error = self.owner.error
            if error is not None:
                raise error
            return b""
        want = min(buff_size, bounds[0])
        pos = self.pos
        if len(self.buf) - pos < want:  # the stream ended in the middle of a message
            raise self.owner.error or ProtocolViolation(
                "the peer closed in the middle of a message"
            )
        out = bytes(self.buf[pos : pos + want])
        pos += want
        if pos > 65536 and pos * 2 > len(self.buf):  # compact: amortised O(1) per byte
            del self.buf[:pos]
            pos = 0
        self.pos = pos
        self.wanted = 0  # a wait deadline may stay armed: handle_timer checks who waits
        if want == bounds[0]:
            bounds.popleft()
        else:
            bounds[0] -= want
        return out

    def receivable(self, buff_size: int) -> bool:
        bounds = self.bounds
        ended = self.peer_fin or self.closed
        if not bounds:
            return ended or self.owner.error is not None
        return ended or len(self.buf) - self.pos >= min(buff_size, bounds[0])

    # ================================================================ ACKs
    def ack(self, seq: int, in_order: bool = False) -> None:
        """The cumulative ACK, with SACK blocks while segments are held beyond it.

        RFC 1122 4.2.3.2 / RFC 5681 4.2: an ACK for an ``in_order`` segment may wait for the
        next one's while the driver has more datagrams queued (at least every second
        segment is acknowledged, and the pending one goes out with the output); anything
        else (a duplicate, a segment out of order or refused, one that fills a hole) is
        answered at once."""
        if self.draining or seq in self.held:
            return  # the held segments from seq on are taken next, then one ACK for all
        out = self.out
        if self.held:
            self.pending_ack = None
            out.emit(self.wire.f_ack % seq + format_sack(self.sack.blocks()))
        elif in_order and out.more and self.pending_ack is None and self.rx == M.RX_DATA:
            self.pending_ack = seq  # more queued behind: the next ACK covers this one
        else:
            self.pending_ack = None
            out.emit(self.wire.f_ack % seq)

    def flush_ack(self) -> None:
        seq, self.pending_ack = self.pending_ack, None
        if seq is not None:
            self.out.emit(self.wire.f_ack % seq)

    # ================================================================ per segment
    def fast_chunk(self, data: bytes) -> bool:
        """The next chunk of the current message, matched as bytes (the fast path: see
        ``Connection.receive_datagram``)."""
        head = self.head
        if not data.startswith(head) or self.head_seq != self.num.seq:
            return False
        n = len(data) - len(head)
        unread = len(self.buf) - self.pos
        if (
            self.rx != _RX_DATA
            or not 0 < n < self.remaining  # the last chunk fires a trigger: general path
            or (unread >= self.config.receive_buffer and unread >= self.wanted)  # full
            or self.held
        ):
            return False
        self.stats.segments_received += 1
        self.buf += data[len(head) :]  # a 16-byte slice costs less than a memoryview
        self._accept_chunk(self.head_seq, n)
        self._promise_next_ack(unread + n)
        return True

    def _promise_next_ack(self, unread: int) -> None:
        """The next full chunk, unless it is the last or the buffer is full, will be
        answered by its ACK (the conditions of the fast path, for a chunk of ``mss`` bytes)."""
        wire, out = self.wire, self.out
        mss = wire.mss
        if (
            self.remaining > mss
            and (unread < self.config.receive_buffer or unread < self.wanted)
            and self.pending_ack is None
        ):  # (only where wire.fast_ok: never under a tracer)
            head = self.head
            out.express = (head, len(head) + mss, wire.f_ack % (self.head_seq + mss), out.peer)
        else:
            out.express = None

    def _accept_chunk(self, start: int, n: int) -> None:
        """Bookkeeping of an in-order chunk whose bytes are already in the buffer."""
        num, wire, out = self.num, self.wire, self.out
        num.seq = num.rcv_nxt = seq = start + n
        self.remaining -= n
        self.first = False
        if self.held or self.draining:
            self.ack(seq)  # with SACK blocks, or one ACK after the held segments
        elif out.more and self.pending_ack is None:  # ack() for an in-order chunk, written
            self.pending_ack = seq  # out: this runs per segment
        else:
            self.pending_ack = None
            out.emit(wire.f_ack % seq)
        self.head = wire.f_data % seq if wire.fast_ok else NEVER
        self.head_seq = seq
        timer = self.timer
        timer.heard = timer.now  # the peer is there (Owner.peer_alive, without a call)

    def on_data(self, seg: Segment) -> None:
        """A data or length segment in ESTABLISHED, our sender idle (or just done)."""
        if self.rx == M.RX_LENGTH:
            if self._is_next_length(seg):
                self._on_length(seg)
            else:
                self.stale_or_ahead(seg)
            return
        start = self._chunk_start(seg)
        if start is None:
            self.stale_or_ahead(seg)
        else:
            self._on_chunk(seg, start)

    def drain(self) -> None:
        """Held segments that in-order processing has reached, as if they arrived now;
        one ACK for them all."""
        num, held, owner = self.num, self.held, self.owner
        self.draining = True
        try:
            while num.seq in held and owner.life == M.ESTABLISHED:
                seq = num.seq
                data, evidence = held.pop(seq)
                owner.take_in_order(Segment(False, False, False, seq, data), evidence)
        finally:
            self.draining = False
        for seq in [s for s in held if s < num.rcv_nxt]:
            del held[seq]  # overtaken: a retransmission filled that place
        # the blocks left, oldest arrival first so that the newest is reported first
        self.sack = SackReceiver(num.rcv_nxt)
        for seq, (data, _evidence) in held.items():
            self.sack.add(seq, seq + len(data))
        if owner.life == M.ESTABLISHED:
            self.ack(num.rcv_nxt)

    def _is_next_length(self, seg: Segment) -> bool:
        seq = self.num.seq
        if self._next_length_from(seg, seq):
            return True
        if self.wire.tolerant and self.first:  # after an empty message: the sender may have
            for base in sorted(self.len_acks - {seq}):  # taken another of our ACKs
                if self._next_length_from(seg, base):
                    self._took_length_ack(base)
                    return True
        return False

    def _next_length_from(self, seg: Segment, base: int) -> bool:
        wire = self.wire
        gap = seg.seq - base
        if gap == wire.dialect.length_seq_gap:
            if wire.tolerant:
                wire.observe("length_seq_gap", gap)
            return True
        if not wire.unconfirmed("length_seq_gap"):
            return False
        if 0 <= gap <= 1 and seg.data.isdigit():
            wire.observe("length_seq_gap", gap)
            return True
        return False

    def _chunk_start(self, seg: Segment) -> int | None:
        """Where the chunk ``seg`` starts, if it is the next one expected (else None)."""
        wire, seq = self.wire, self.num.seq
        d, n = wire.dialect, len(seg.data)
        start = seq + d.data_seq_gap if self.first else seq
        if seg.seq == (start if d.data_seq == "start" else start + n):
            if self.first and wire.tolerant:
                self._first_chunk_numbering(d.data_seq, d.data_seq_gap, seq)
            return start
        adapt = wire.adapt
        if adapt is None or not self.first:
            return None
        # auto, first chunk of a message: the sender continues from whichever of our length
        # ACKs it took, numbered as some profile consistent with what was seen numbers it
        numberings = {(d.data_seq, d.data_seq_gap)}
        if "data_seq" not in adapt.confirmed:
            numberings |= adapt.candidates("data_seq", "data_seq_gap")
        # ... or from its own count, whatever we ACKed (one recorded sender does so)
        s, digits = self.len_seg[0], len(self.len_seg[1])
        for base in sorted(self.len_acks | {s + digits}):
            for numbering, gap in sorted(numberings):
                start = base + gap
                if seg.seq == (start if numbering == "start" else start + n):
                    self._first_chunk_numbering(numbering, gap, base)
                    return start
        return None

    def _first_chunk_numbering(self, numbering: str, gap: int, base: int) -> None:
        """auto: the first chunk shows how the sender numbers data and which of our length
        ACKs it took."""
        self.wire.observe("data_seq", numbering)
        self.wire.observe("data_seq_gap", gap)
        self._took_length_ack(base)

    def _took_length_ack(self, base: int) -> None:
        """auto: the sender went on from ``base``, one of the ACKs we sent for its length
        segment: that is the arithmetic it takes, and where the count stands."""
        wire, num = self.wire, self.num
        s, digits = self.len_seg[0], len(self.len_seg[1])
        adapt = wire.adapt
        assert adapt is not None
        # with 2 digits, s+2 is both PROTOCOL.md's s+d and a fixed +2: it confirms nothing
        ambiguous = len(D.length_ack_fits(s, digits, base)) > 1
        if base == wire.dialect.length_ack_for(s, digits) and "length_ack" not in adapt.trying:
            if not ambiguous:  # what we use fits (seen or inferred)
                adapt.accepted("length_ack", wire.evidence)
        elif base == s + digits:
            wire.observe("length_ack", None)  # PROTOCOL.md's arithmetic: a probe withdrawn
        else:
            wire.observe("length_ack", base - s)
        if ambiguous:
            adapt.confirmed.discard("length_ack")
        num.seq = num.rcv_nxt = base

    def in_window(self, seg: Segment) -> bool:
        """Secure mode: only a repeat of recent data is answered; anything ahead of what we
        expect, or further back than one receive buffer, is a blind guess and dropped."""
        rcv_nxt = self.num.rcv_nxt
        return rcv_nxt - self.config.receive_buffer <= seg.seq < rcv_nxt

    def stale_or_ahead(self, seg: Segment) -> None:
        num, stats = self.num, self.stats
        if self.config.secure and not self.in_window(seg):
            stats.out_of_window += 1  # secure: dropped without a word (no ACK to reflect)
            return
        # a chunk numbered by its end repeats with the number we last ACKed
        top = num.rcv_nxt + (self.wire.dialect.data_seq == "end" and self.rx == M.RX_DATA)
        if seg.seq < top or (seg.seq < num.seq and self.owner.tx == M.TX_IDLE):
            stats.duplicates_received += 1
            self._maybe_rotate_length_ack(seg)
            if self.rx == M.RX_DATA:
                self.reack_stale()  # same stage on both sides: bookkeeping, no trigger
            else:
                self.fire("rx_duplicate")  # desync (b): declared
        elif self._may_hold(seg):
            self._hold(seg)
        else:
            stats.out_of_window += 1  # PROTOCOL.md 3: dropped, and re-ACKed
            self.ack(num.rcv_nxt)

    def _may_hold(self, seg: Segment) -> bool:
        """PROTOCOL.md 6: a SACK-capable receiver keeps out-of-order segments within its
        receive buffer, where SEQ numbers bytes as PROTOCOL.md does (else it cannot know
        where a segment ends, and it would put SACK blocks where a dialect puts filler)."""
        n = len(seg.data)
        if not (self.config.sack and n and self.wire.canonical_numbering(receiving=True)):
            return False
        used = self.unread + sum(len(d) for d, _evidence in self.held.values())
        # the room in-order data gets too (_on_chunk): the buffer, or what the application
        # is waiting for, when that is more (recv_message() waits for a whole message)
        room = max(self.config.receive_buffer, self.wanted)
        return seg.seq + n - self.num.rcv_nxt + used <= room

    def _hold(self, seg: Segment) -> None:
        rcv_nxt = self.num.rcv_nxt
        if seg.seq not in self.held:
            self.held[seg.seq] = (seg.data, self.wire.evidence)
            self.sack.rcv_nxt = rcv_nxt
            self.sack.add(seg.seq, seg.seq + len(seg.data))
        else:
            self.stats.duplicates_received += 1
        self.ack(rcv_nxt)  # a duplicate ACK, with the SACK blocks

    def _maybe_rotate_length_ack(self, seg: Segment) -> None:
        """auto: the sender keeps repeating the length segment we ACKed, so it does not take
        our ACK's arithmetic: every second repeat, try the next one (dialects.PROBES)."""
        wire = self.wire
        if not (self.first and (seg.seq, seg.data) == self.len_seg and wire.tolerant):
            return
        self.len_repeats += 1
        adapt = wire.adapt
        if self.len_repeats % 2 or adapt is None:
            return
        before = wire.dialect.length_ack_for(seg.seq, len(seg.data))
        for _ in D.PROBES["length_ack"]:  # the next arithmetic that gives another number
            if not adapt.probe("length_ack"):
                return
            if adapt.current.length_ack_for(seg.seq, len(seg.data)) != before:
                break
        wire.adapted()
        num = self.num
        num.seq = num.rcv_nxt = wire.dialect.length_ack_for(seg.seq, len(seg.data))
        self.len_acks.add(num.seq)
        self.head = NEVER

    def _on_length(self, seg: Segment) -> None:
        data = seg.data
        if not data.isdigit() or len(data) > _MAX_LENGTH_DIGITS:
            self.stats.malformed += 1  # not a length: drop it unacknowledged
            return
        self.announced = int(data)
        self.length_seg = seg
        self.fire("rx_length")

    def _on_chunk(self, seg: Segment, start: int) -> None:
        n = len(seg.data)
        if n == 0 or n > self.remaining:
            self.stats.malformed += 1
            return
        if self.unread >= max(self.config.receive_buffer, self.wanted):
            self.stats.window_full += 1  # flow control: re-ACK, the sender will retry
            self.ack(self.num.rcv_nxt)
            return
        self.buf += seg.data
        self._accept_chunk(start, n)
        if self.remaining == 0:
            self.fire("rx_last_chunk")
        elif self.wire.fast_ok and not self.held and self.owner.tx == M.TX_IDLE:
            # the first chunk of a message comes this way (auto sees its numbering): the
            # steady state, and its promise, start with it all the same
            self._promise_next_ack(self.unread)

    # ================================================================ table callbacks
    def fire(self, trigger: str) -> None:
        """Fire a declared trigger of the RECEIVER table on this receiver."""
        _MACHINE.events[trigger].trigger(self)

    def on_transition(self, ev: Any) -> None:
        self.owner.before_transition("receiver", ev)

    def reset_retries(self, _ev: Any = None) -> None:
        self.timer.retries = 0

    def fits_message_limit(self, _ev: Any = None) -> bool:
        return self.announced <= self.config.max_message_size

    def announces_empty_message(self, _ev: Any = None) -> bool:
        return self.announced == 0

    def reack_stale(self, _ev: Any = None) -> None:
        self.ack(self.num.rcv_nxt)
        if self.owner.life == M.ESTABLISHED:
            self.owner.peer_alive()  # still repeating data (desync b): the peer is there

    def refuse_message(self, _ev: Any = None) -> None:
        self.owner.abort(
            MessageTooLarge(
                f"peer announced a {self.announced}-byte message; the limit is "
                f"{self.config.max_message_size} (max_message_size)"
            )
        )

    def _accept_length(self) -> None:
        num, seg = self.num, self.length_seg
        num.seq = num.rcv_nxt = self.wire.dialect.length_ack_for(seg.seq, len(seg.data))
        self.len_seg = (seg.seq, seg.data)
        self.len_acks = {num.seq}
        self.len_repeats = 0
        self.first = True
        self.ack(num.seq, in_order=True)
        self.bounds.append(self.announced)
        self.owner.peer_alive()

    def deliver_empty_message(self, _ev: Any = None) -> None:
        self._accept_length()
        self.owner.message_received(0)

    def start_message(self, _ev: Any = None) -> None:
        self._accept_length()
        self.remaining = self.announced
        # the first chunk takes the general path while auto has not seen how the peer
        # numbers data (it decides whether segments may be held out of order)
        wire, seq = self.wire, self.num.seq
        unsure = wire.unconfirmed("data_seq")
        first_at_seq = wire.fast_ok and not wire.dialect.data_seq_gap and not unsure
        self.head = wire.f_data % seq if first_at_seq else NEVER  # for the fast path
        self.head_seq = seq

    def finish_message(self, _ev: Any = None) -> None:
        self.owner.message_received(self.announced)

    def note_truncated(self, _ev: Any = None) -> None:
        self.owner.set_error(
            ProtocolViolation(
                f"the peer closed with {self.remaining} bytes of a "
                f"{self.announced}-byte message missing"
            )
        )
        self.remaining = 0
