"""The receiving half of a connection: in-order delivery, an out-of-order buffer, SACK, and
``recv(buff_size)`` semantics (PROTOCOL.md 3 and 6).

A :class:`Receiver` owns the RECEIVER machine's state (``rx``), the bytes received and not
yet read, the message boundaries, and the segments held beyond the cumulative ACK. It needs
no mode: in order it ACKs cumulatively; out of order it keeps what fits its buffer and ACKs
with SACK blocks in the ACK's DATA. A held segment is only bytes at a SEQ: whether it is a
length or a chunk is decided when in-order processing reaches it, through the same path as
a segment that just arrived. The shared SEQ counter and the dialect live in the connection.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from . import dialects as D
from . import machines as M
from .errors import InvalidArgument, MessageTooLarge, ProtocolViolation
from .sack import SackReceiver
from .segment import Segment, format_sack

if TYPE_CHECKING:
    from .engine import Connection

_MACHINE = M.build(M.RECEIVER)
_MAX_LENGTH_DIGITS = 20


class Receiver:
    """One connection's incoming messages and the ACKs that answer them."""

    __slots__ = (
        "announced",
        "bounds",
        "buf",
        "c",
        "draining",
        "first",
        "head",
        "head_seq",
        "held",
        "len_acks",
        "len_repeats",
        "len_seg",
        "pending_ack",
        "pos",
        "remaining",
        "rx",
        "sack",
        "wanted",
    )

    def __init__(self, conn: Connection) -> None:
        self.c = conn
        # The machine's state; only the shared machine above writes it after this.
        self.rx = M.RECEIVER.initial
        self.buf = bytearray()
        self.pos = 0
        self.bounds: deque[int] = deque()  # unread length of each announced message
        self.remaining = 0  # bytes of the current message still to arrive
        self.announced = 0
        self.wanted = 0
        self.head = b"\xff"  # wire prefix of the next chunk expected (never a real one)
        self.head_seq = -1
        self.first = True  # the next chunk is the first of its message
        self.len_seg = (-1, b"")  # the current message's length segment (SEQ, DATA)
        self.len_repeats = 0
        self.len_acks: set[int] = set()  # the ACKs we sent for the current length
        self.held: dict[int, bytes] = {}  # out-of-order segments by SEQ (PROTOCOL.md 6)
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
        c = self.c
        if len(self.buf) - self.pos >= c.config.receive_buffer:
            c.express = None  # the buffer is full unless someone waits: that may change
        bounds = self.bounds
        if not self.receivable(buff_size):
            self.wanted = min(buff_size, bounds[0]) if bounds else buff_size
            c._arm_peer_wait()  # the application waits: bound the wait like any other
            return None
        if not bounds:  # no message started: an error, or the end of the stream
            if c.error is not None:
                raise c.error
            return b""
        want = min(buff_size, bounds[0])
        pos = self.pos
        if len(self.buf) - pos < want:  # the stream ended in the middle of a message
            raise c.error or ProtocolViolation("the peer closed in the middle of a message")
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
        c = self.c
        bounds = self.bounds
        ended = c.life == M.CLOSED or c._peer_fin
        if not bounds:
            return ended or c.error is not None
        return ended or len(self.buf) - self.pos >= min(buff_size, bounds[0])

    # ================================================================ ACKs
    def ack(self, seq: int) -> None:
        """The cumulative ACK, with SACK blocks while segments are held beyond it."""
        c = self.c
        if self.draining or seq in self.held:
            return  # the held segments from seq on are taken next, then one ACK for all
        if self.held:
            self.pending_ack = None
            c._emit(c._f_ack % seq + format_sack(self.sack.blocks()))
        elif c._more and self.pending_ack is None and self.rx == M.RX_DATA:
            self.pending_ack = seq  # more queued behind: the next ACK covers this one
        else:
            self.pending_ack = None
            c._emit(c._f_ack % seq)

    def flush_ack(self) -> None:
        seq, self.pending_ack = self.pending_ack, None
        if seq is not None:
            self.c._emit(self.c._f_ack % seq)

    # ================================================================ per segment
    def fast_chunk(self, data: bytes) -> bool:
        """The next chunk of the current message, matched as bytes (see
        ``Connection._fast_path``)."""
        c = self.c
        head = self.head
        if not data.startswith(head) or self.head_seq != c.seq:
            return False
        n = len(data) - len(head)
        unread = len(self.buf) - self.pos
        if (
            self.rx != M.RX_DATA
            or c.snd.tx != M.TX_IDLE
            or not 0 < n < self.remaining  # the last chunk fires a trigger: general path
            or (unread >= c.config.receive_buffer and unread >= self.wanted)  # full
            or self.held
        ):
            return False
        c.stats.segments_received += 1
        self.buf += data[len(head) :]  # a 16-byte slice costs less than a memoryview
        self._accept_chunk(c.seq, n)
        self._promise_next_ack(unread + n)
        return True

    def _promise_next_ack(self, unread: int) -> None:
        """The next full chunk, unless it is the last or the buffer is full, will be
        answered by its ACK (the conditions of the fast path, for a chunk of ``mss`` bytes)."""
        c = self.c
        mss = c._mss
        if (
            self.remaining > mss
            and (unread < c.config.receive_buffer or unread < self.wanted)
            and c.tracer is None
            and self.pending_ack is None
        ):
            head = self.head
            ack = c._f_ack % (c.seq + mss)
            c.express = (head, len(head) + mss, ack, c._peer_addr)
        else:
            c.express = None

    def _accept_chunk(self, start: int, n: int) -> None:
        """Bookkeeping of an in-order chunk whose bytes are already in the buffer."""
        c = self.c
        c.seq = c._rcv_nxt = seq = start + n
        self.remaining -= n
        self.first = False
        self.ack(seq)
        self.head = c._f_data % seq if c._fast_ok else b"\xff"
        self.head_seq = seq
        if c._deadline is not None:
            c._peer_alive()

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
        c, held = self.c, self.held
        self.draining = True
        try:
            while c.seq in held and c.life == M.ESTABLISHED:
                data = held.pop(c.seq)
                c._take_held(Segment(False, False, False, c.seq, data))
        finally:
            self.draining = False
        for seq in [s for s in held if s < c._rcv_nxt]:
            del held[seq]  # overtaken: a retransmission filled that place
        # the blocks left, oldest arrival first so that the newest is reported first
        self.sack = SackReceiver(c._rcv_nxt)
        for seq, data in held.items():
            self.sack.add(seq, seq + len(data))
        if c.life == M.ESTABLISHED:
            self.ack(c._rcv_nxt)

    def _is_next_length(self, seg: Segment) -> bool:
        c = self.c
        if self._next_length_from(seg, c.seq):
            return True
        if c._tolerant and self.first:  # after an empty message: the sender may have
            for base in sorted(self.len_acks - {c.seq}):  # taken another of our ACKs
                if self._next_length_from(seg, base):
                    self._took_length_ack(base)
                    return True
        return False

    def _next_length_from(self, seg: Segment, base: int) -> bool:
        c = self.c
        gap = seg.seq - base
        if gap == c._d.length_seq_gap:
            if c._tolerant:
                c._observe("length_seq_gap", gap)
            return True
        adapt = c._adapt
        if adapt is None or "length_seq_gap" in adapt.confirmed:
            return False
        if 0 <= gap <= 1 and seg.data.isdigit():
            c._observe("length_seq_gap", gap)
            return True
        return False

    def _chunk_start(self, seg: Segment) -> int | None:
        """Where the chunk ``seg`` starts, if it is the next one expected (else None)."""
        c = self.c
        d, n = c._d, len(seg.data)
        start = c.seq + d.data_seq_gap if self.first else c.seq
        if seg.seq == (start if d.data_seq == "start" else start + n):
            if self.first and c._tolerant:
                self._first_chunk_numbering(d.data_seq, d.data_seq_gap, c.seq)
            return start
        adapt = c._adapt
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
        c = self.c
        c._observe("data_seq", numbering)
        c._observe("data_seq_gap", gap)
        self._took_length_ack(base)

    def _took_length_ack(self, base: int) -> None:
        """auto: the sender went on from ``base``, one of the ACKs we sent for its length
        segment: that is the arithmetic it takes, and where the count stands."""
        c = self.c
        s, digits = self.len_seg[0], len(self.len_seg[1])
        adapt = c._adapt
        assert adapt is not None
        # with 2 digits, s+2 is both PROTOCOL.md's s+d and a fixed +2: it confirms nothing
        ambiguous = len(D.length_ack_fits(s, digits, base)) > 1
        if base == c._d.length_ack_for(s, digits) and "length_ack" not in adapt.trying:
            if not ambiguous:
                adapt.accepted("length_ack", c._raw)  # what we use fits (seen or inferred)
        elif base == s + digits:
            c._observe("length_ack", None)  # PROTOCOL.md's arithmetic: a probe withdrawn
        else:
            c._observe("length_ack", base - s)
        if ambiguous:
            adapt.confirmed.discard("length_ack")
        c.seq = c._rcv_nxt = base

    def stale_or_ahead(self, seg: Segment) -> None:
        c = self.c
        if c.config.secure and not c._in_window(seg):
            c.stats.out_of_window += 1  # secure: dropped without a word (no ACK to reflect)
            return
        # a chunk numbered by its end repeats with the number we last ACKed
        top = c._rcv_nxt + (c._d.data_seq == "end" and self.rx == M.RX_DATA)
        if seg.seq < top or (seg.seq < c.seq and c.snd.tx == M.TX_IDLE):
            c.stats.duplicates_received += 1
            self._maybe_rotate_length_ack(seg)
            if self.rx == M.RX_DATA:
                self.reack_stale()  # same stage on both sides: bookkeeping, no trigger
            else:
                self._fire("rx_duplicate")  # desync (b): declared
        elif self._may_hold(seg):
            self._hold(seg)
        else:
            c.stats.out_of_window += 1  # PROTOCOL.md 3: dropped, and re-ACKed
            self.ack(c._rcv_nxt)

    def _may_hold(self, seg: Segment) -> bool:
        """PROTOCOL.md 6: a SACK-capable receiver keeps out-of-order segments within its
        receive buffer, where SEQ numbers bytes as PROTOCOL.md does (else it cannot know
        where a segment ends, and it would put SACK blocks where a dialect puts filler)."""
        c = self.c
        n = len(seg.data)
        if not (c.config.sack and n and c.canonical_numbering(receiving=True)):
            return False
        used = self.unread + sum(len(d) for d in self.held.values())
        # the room in-order data gets too (_on_chunk): the buffer, or what the application
        # is waiting for, when that is more (recv_message() waits for a whole message)
        room = max(c.config.receive_buffer, self.wanted)
        return seg.seq + n - c._rcv_nxt + used <= room

    def _hold(self, seg: Segment) -> None:
        c = self.c
        if seg.seq not in self.held:
            self.held[seg.seq] = seg.data
            self.sack.rcv_nxt = c._rcv_nxt
            self.sack.add(seg.seq, seg.seq + len(seg.data))
        else:
            c.stats.duplicates_received += 1
        self.ack(c._rcv_nxt)  # a duplicate ACK, with the SACK blocks

    def _maybe_rotate_length_ack(self, seg: Segment) -> None:
        """auto: the sender keeps repeating the length segment we ACKed, so it does not take
        our ACK's arithmetic: every second repeat, try the next one (dialects.PROBES)."""
        c = self.c
        if not (self.first and (seg.seq, seg.data) == self.len_seg and c._tolerant):
            return
        self.len_repeats += 1
        adapt = c._adapt
        if self.len_repeats % 2 or adapt is None:
            return
        before = c._d.length_ack_for(seg.seq, len(seg.data))
        for _ in D.PROBES["length_ack"]:  # the next arithmetic that gives another number
            if not adapt.probe("length_ack"):
                return
            if adapt.current.length_ack_for(seg.seq, len(seg.data)) != before:
                break
        c._adapted()
        c.seq = c._rcv_nxt = c._d.length_ack_for(seg.seq, len(seg.data))
        self.len_acks.add(c.seq)
        self.head = b"\xff"

    def _on_length(self, seg: Segment) -> None:
        data = seg.data
        if not data.isdigit() or len(data) > _MAX_LENGTH_DIGITS:
            self.c.stats.malformed += 1  # not a length: drop it unacknowledged
            return
        self.announced = int(data)
        self._fire("rx_length")

    def _on_chunk(self, seg: Segment, start: int) -> None:
        c = self.c
        n = len(seg.data)
        if n == 0 or n > self.remaining:
            c.stats.malformed += 1
            return
        if self.unread >= max(c.config.receive_buffer, self.wanted):
            c.stats.window_full += 1  # flow control: re-ACK, the sender will retry
            self.ack(c._rcv_nxt)
            return
        self.buf += seg.data
        self._accept_chunk(start, n)
        if self.remaining == 0:
            self._fire("rx_last_chunk")
        elif c._fast_ok and not self.held and c.snd.tx == M.TX_IDLE:
            # the first chunk of a message comes this way (auto sees its numbering): the
            # steady state, and its promise, start with it all the same
            self._promise_next_ack(self.unread)

    # ================================================================ table callbacks
    def _fire(self, trigger: str) -> None:
        _MACHINE.events[trigger].trigger(self)

    def on_transition(self, ev: Any) -> None:
        self.c._on_transition("receiver", ev)

    def reset_retries(self, _ev: Any = None) -> None:
        self.c._retries = 0

    def fits_message_limit(self, _ev: Any = None) -> bool:
        return self.announced <= self.c.config.max_message_size

    def announces_empty_message(self, _ev: Any = None) -> bool:
        return self.announced == 0

    def reack_stale(self, _ev: Any = None) -> None:
        c = self.c
        self.ack(c._rcv_nxt)
        if c.life == M.ESTABLISHED:
            c._peer_alive()  # still repeating data (desync b): the peer is there

    def refuse_message(self, _ev: Any = None) -> None:
        c = self.c
        c.error = MessageTooLarge(
            f"peer announced a {self.announced}-byte message; the limit is "
            f"{c.config.max_message_size} (max_message_size)"
        )
        c._fire("lifecycle", "abort")

    def _accept_length(self) -> None:
        c = self.c
        seg = c._seg
        c.seq = c._rcv_nxt = c._d.length_ack_for(seg.seq, len(seg.data))
        self.len_seg = (seg.seq, seg.data)
        self.len_acks = {c.seq}
        self.len_repeats = 0
        self.first = True
        self.ack(c.seq)
        self.bounds.append(self.announced)
        c._peer_alive()

    def deliver_empty_message(self, _ev: Any = None) -> None:
        self._accept_length()
        self.c._message_received(0)

    def start_message(self, _ev: Any = None) -> None:
        c = self.c
        self._accept_length()
        self.remaining = self.announced
        # the first chunk takes the general path while auto has not seen how the peer
        # numbers data (it decides whether segments may be held out of order)
        adapt = c._adapt
        unsure = adapt is not None and "data_seq" not in adapt.confirmed
        first_at_seq = c._fast_ok and not c._d.data_seq_gap and not unsure
        self.head = c._f_data % c.seq if first_at_seq else b"\xff"  # for the fast path
        self.head_seq = c.seq

    def finish_message(self, _ev: Any = None) -> None:
        self.c._message_received(self.announced)

    def note_truncated(self, _ev: Any = None) -> None:
        self.c.error = ProtocolViolation(
            f"the peer closed with {self.remaining} bytes of a "
            f"{self.announced}-byte message missing"
        )
        self.remaining = 0
