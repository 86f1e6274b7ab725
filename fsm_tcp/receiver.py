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
from collections.abc import Callable
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
        "ack_rot",
        "announced",
        "bounds",
        "buf",
        "closed",
        "draining",
        "first",
        "first_base",
        "first_chunk",
        "head",
        "head_seq",
        "held",
        "last_chunk",
        "len_acks",
        "len_rot",
        "len_seg",
        "length_seg",
        "maybe",
        "peer_fin",
        "pending_ack",
        "pos",
        "remaining",
        "room",
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
        #: Unread bytes held before a chunk is refused: what the application waits for
        #: (``wanted``), and ``receive_buffer`` beyond it (kept with wanted: read per chunk).
        self.room = self.config.receive_buffer
        self.head = NEVER  # wire prefix of the next chunk expected (never a real one)
        self.head_seq = -1
        self.first = True  # the next chunk is the first of its message
        self.len_seg = (-1, b"")  # the current message's length segment (SEQ, DATA)
        # auto: our ACK arithmetic on trial (the length's, the first chunk's), the first
        # chunk taken, and a segment seen once where only another rule puts it
        self.len_rot: D.Rotation | None = None
        self.ack_rot: D.Rotation | None = None
        self.first_chunk = (-1, b"")
        #: The last message's last chunk: where data is numbered by its end, a copy of it
        #: comes at the number the next length takes (and may be digits)
        self.last_chunk = (-1, b"")
        self.first_base = -1
        #: auto: a segment only another rule places, and the arrival it came in (see
        #: _seen_twice)
        self.maybe: tuple[tuple[int, bytes], int] | None = None
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
            self._want(min(buff_size, bounds[0]) if bounds else buff_size)
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
        self._want(0)  # a wait deadline may stay armed: handle_timer checks who waits
        if want == bounds[0]:
            bounds.popleft()
        else:
            bounds[0] -= want
        return out

    def _want(self, n: int) -> None:
        self.wanted = n
        self.room = self.config.receive_buffer + n

    def await_message(self) -> None:
        """The application waits for the next message's length (a stream between its
        messages): bound that wait as ``receive``'s, or a vanished sender is waited for
        forever."""
        if not self.bounds:
            self._want(max(self.wanted, 1))
            self.owner.await_peer()

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
            or unread >= self.room  # full
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
            self.remaining > mss and unread < self.room and self.pending_ack is None
        ):  # (only where wire.fast_ok: never under a tracer)
            head = self.head
            out.express = (head, len(head) + mss, wire.f_ack % (self.head_seq + mss), out.peer)
        else:
            out.express = None

    def _accept_chunk(self, wire_seq: int, n: int) -> None:
        """Bookkeeping of an in-order chunk (its SEQ as sent) whose bytes are already in the
        buffer: its ACK by the working dialect's arithmetic."""
        num, wire, out = self.num, self.wire, self.out
        seq = wire_seq + n if wire.byte_numbered else wire.dialect.chunk_ack(wire_seq, n)
        num.seq = num.rcv_nxt = seq
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
            if self.owner.life == M.ESTABLISHED:  # (auto may have given up)
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
        if self._next_length_from(seg, self.num.seq):
            return True
        if self.wire.tolerant and self.first:  # after an empty message: the sender may have
            for base in sorted(self.len_acks - {self.num.seq}):  # taken another of our ACKs
                if self._next_length_from(seg, base):
                    self._took_length_ack(base)
                    return True
        return False

    def _next_length_from(self, seg: Segment, base: int) -> bool:
        gap = seg.seq - base
        adapt = self.wire.adapt
        if gap == self.wire.dialect.length_seq_gap:
            if not seg.data.isdigit() or (seg.seq, seg.data) in (self.first_chunk, self.last_chunk):
                return False  # a repeat of a chunk, not a length
            if adapt is None:
                return True
            self.confirm_data_ack()
            self.wire.observe_counted("length_seq_gap", gap)
            return True
        if adapt is None or adapt.known("length_seq_gap") or not seg.data.isdigit():
            return False
        # another gap of the space: taken only when the sender repeats it (a segment seen
        # once there could be a reordered chunk of a windowed sender)
        if gap in D.SPACE["length_seq_gap"] and self._seen_twice(seg):
            self.confirm_data_ack()
            self.wire.observe_counted("length_seq_gap", gap)
            return True
        return False

    def _seen_twice(self, seg: Segment) -> bool:
        """auto: ``seg`` is where only a rule other than the working one puts it; the bytes
        are taken at its second arrival (the sender repeats what was not ACKed)."""
        key, arrival = (seg.seq, seg.data), self.stats.segments_received
        maybe = self.maybe
        if maybe is not None and maybe[0] == key:
            if maybe[1] == arrival:
                return False  # the same arrival, read against another base: still once
            self.maybe = None
            return True
        self.maybe = (key, arrival)
        return False

    def _chunk_start(self, seg: Segment) -> int | None:
        """The SEQ of ``seg`` if it is the next chunk expected (else None); auto settles
        what it shows of the sender's numbering here."""
        d, n = self.wire.dialect, len(seg.data)
        if seg.seq == d.chunk_seq(d.chunk_pos(self.num.seq, self.first), n):
            if self.wire.adapt is not None:
                self._numbering_shown(seg, self.num.seq, d.data_seq, None)
            return seg.seq
        adapt = self.wire.adapt
        if adapt is None or seg.seq < self.num.rcv_nxt or (seg.seq, seg.data) == self.len_seg:
            return None  # stale: a repeat of what we have
        if not self.first:
            # a following chunk further on than the working gap says
            if adapt.known("chunk_gap"):
                return None
            for gap in D.SPACE["chunk_gap"]:
                if seg.seq == d.chunk_seq(self.num.seq + gap, n) and self._seen_twice(seg):
                    self.confirm_data_ack()
                    self.wire.observe("chunk_gap", gap)
                    return seg.seq
            return None
        # the first chunk of a message: the sender goes on from whichever of our length
        # ACKs it took (or from its own count, as one recorded sender does), numbered by
        # some rule of the space
        if adapt.known("data_seq", "data_seq_gap", "length_ack"):
            return None  # a known numbering puts it nowhere else: a chunk further on
        s, digits = self.len_seg[0], len(self.len_seg[1])
        # the ACK it has now first, then the others we sent, then its own count
        bases = [self.num.seq, *sorted(self.len_acks - {self.num.seq}), s + digits]
        for base in dict.fromkeys(bases):
            for numbering, gap in D.first_chunk_rules(seg.seq, n, base):
                if (adapt.known("data_seq_gap") and gap != d.data_seq_gap) or (
                    adapt.known("data_seq") and numbering != d.data_seq
                ):
                    continue  # a rule the sender has shown it does not use
                if not self._seen_twice(seg):
                    return None  # taken when it comes again
                self._numbering_shown(seg, base, numbering, gap)
                return seg.seq
        self._unexplained(seg)
        return None

    def _numbering_shown(self, seg: Segment, base: int, numbering: str, gap: int | None) -> None:
        """auto: ``seg`` is the next chunk, numbered ``numbering`` from ``base``. A first
        chunk shows which length ACK the sender took; how it places data and wants it
        ACKed stays a working rule (``ack_rot``) until its next segment confirms it."""
        adapt = self.wire.adapt
        assert adapt is not None
        if not self.first:
            self.confirm_data_ack()
            if not adapt.known("chunk_gap"):
                adapt.confirm(self.wire.evidence, "chunk_gap")
                self.wire.adapted()
            return
        self._took_length_ack(base)
        if adapt.known("data_seq", "data_ack", "data_seq_gap"):
            return
        d = adapt.current
        n = len(seg.data)
        first = (numbering, d.data_seq_gap if gap is None else gap)
        places = [first] + [p for p in D.first_chunk_rules(seg.seq, n, base) if p != first]
        self.first_chunk = (seg.seq, seg.data)
        self.first_base = base
        every = [[(kind, g, k) for kind, k in D.ack_rules_for(kind)] for kind, g in places]  # type: ignore[arg-type]
        rules = _round_robin(every, self._ack_of, (d.data_seq, d.data_seq_gap, d.data_ack))
        self.ack_rot = D.Rotation(rules, cycles=3)
        self._assume_data_rule(rules[0], "a first chunk")

    def _twins(self, rule: tuple[str, int, int]) -> bool:
        """Another rule places the first chunk where ``rule`` does and ACKs it the same:
        what the sender did does not tell them apart (a 1-byte chunk, say)."""
        seq, data = self.first_chunk
        ack = self._ack_of(rule)
        return (
            sum(
                self._ack_of((kind, gap, k)) == ack
                for place, gap in D.first_chunk_rules(seq, len(data), self.first_base)
                for kind, k in D.ack_rules_for(place)
            )
            > 1
        )

    def _ack_of(self, rule: tuple[str, int, int]) -> int:
        seq, data = self.first_chunk
        return seq + (len(data) if rule[0] == "start" else 0) + rule[2]

    def _assume_data_rule(self, rule: tuple[str, int, int], why: str) -> None:
        adapt = self.wire.adapt
        assert adapt is not None
        values = {"data_seq": rule[0], "data_seq_gap": rule[1], "data_ack": rule[2]}
        if adapt.assume(values, why):
            self.wire.adapted()

    def confirm_data_ack(self) -> None:
        """auto: the sender moved on from the first chunk where our ACK of it said (its
        next chunk, length or FIN is there): the working data arithmetic is its own."""
        adapt = self.wire.adapt
        if adapt is None or self.ack_rot is None:
            return
        self.ack_rot = None
        d = adapt.current
        if self._twins((d.data_seq, d.data_seq_gap, d.data_ack)):
            return  # the next message's first chunk may tell (a 1-byte chunk cannot)
        self.wire.observe("data_seq_gap", d.data_seq_gap)
        self.wire.observe("data_seq", d.data_seq)
        self.wire.observe("data_ack", d.data_ack)
        self.wire.adapted()  # confirmed: the byte matching may start

    def _took_length_ack(self, base: int) -> None:
        """auto: the sender went on from ``base``, one of the ACKs we sent for its length
        segment (or its own count): the length-ACK rule that gives it, when only one does,
        is its own; the count stands there."""
        s, digits = self.len_seg[0], len(self.len_seg[1])
        adapt = self.wire.adapt
        assert adapt is not None
        rules = D.length_ack_rules(s, digits, base)
        if len(rules) == 1:
            self.wire.observe("length_ack", rules[0])
        elif rules and adapt.assume({"length_ack": rules[0]}, "the sender took that ACK"):
            self.wire.adapted()
        self.len_rot = None
        self.num.seq = self.num.rcv_nxt = base

    def _unexplained(self, seg: Segment) -> None:
        """auto: a first chunk no rule of the space places. The sender repeats it; after
        the limit, the one-line diagnosis."""
        adapt = self.wire.adapt
        assert adapt is not None
        if adapt.known("data_seq", "data_seq_gap", "length_ack"):
            return  # a known peer: an out-of-place segment, not a new arithmetic
        n = len(seg.data)
        what = f"peer sends DATA seq={seg.seq} ({n} bytes) after our ACK {self.num.rcv_nxt}"
        if adapt.unexplained(what):
            self._give_up(what, "numbering")

    def _give_up(self, what: str, family: str) -> None:
        adapt = self.wire.adapt
        assert adapt is not None
        self.owner.abort(adapt.give_up(what, family))

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
        top = num.rcv_nxt + (self.wire.dialect.data_seq == "end")
        if seg.seq < top or (seg.seq < num.seq and self.owner.tx == M.TX_IDLE):
            stats.duplicates_received += 1
            self._maybe_rotate_length_ack(seg)
            self._maybe_rotate_data_ack(seg)
            if self.owner.life != M.ESTABLISHED:
                return  # auto gave up
            if self.rx == M.RX_DATA:
                self.reack_stale()  # same stage on both sides: bookkeeping, no trigger
            else:
                self.fire("rx_duplicate")  # desync (b): declared
        elif seg.seq > num.rcv_nxt and self._may_hold(seg):
            # (only ahead: one at rcv_nxt that in-order processing refused is no hole's
            # filler, and held there it would be taken again, and refused, for ever)
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
        # the room in-order data gets too (_on_chunk): what the application is waiting for
        # (recv_message() waits for a whole message), and the buffer beyond it
        return seg.seq + n - self.num.rcv_nxt + used <= self.room

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
        our ACK's arithmetic: try the next one (``dialects.Rotation``)."""
        rot = self.len_rot
        if rot is None or not self.first or (seg.seq, seg.data) != self.len_seg:
            return
        adapt = self.wire.adapt
        assert adapt is not None
        if not rot.repeated(self.timer.now, self.timer.rto.rto / 2):
            return
        if rot.exhausted:
            length = seg.data.decode("latin-1")
            what = f'peer repeats LENGTH seq={seg.seq} ("{length}") whatever we ACK'
            adapt.tried["length_ack"] = [{"length_ack": r} for r in rot.rules] * rot.cycles
            self._give_up(what, "length_ack")
            return
        if adapt.assume({"length_ack": rot.rule}, f"the sender repeats {seg.data!r}"):
            self.wire.adapted()
        self.num.seq = self.num.rcv_nxt = self.wire.dialect.length_ack_for(seg.seq, len(seg.data))
        self.len_acks.add(self.num.seq)
        self.head = b"\xff"

    def _maybe_rotate_data_ack(self, seg: Segment) -> None:
        """auto: the sender keeps repeating the first chunk we took, so our ACK of it is
        not in its arithmetic: try the next rule its SEQ allows."""
        rot = self.ack_rot
        if rot is None or (seg.seq, seg.data) != self.first_chunk:
            return
        if not rot.repeated(self.timer.now, self.timer.rto.rto / 2):
            return
        adapt = self.wire.adapt
        assert adapt is not None
        if rot.exhausted:
            what = f"peer repeats DATA seq={seg.seq} ({len(seg.data)} bytes) whatever we ACK"
            adapt.tried["data_ack"] = [{"rule": r} for r in rot.rules] * rot.cycles
            self._give_up(what, "data_ack")
            return
        self._assume_data_rule(rot.rule, f"the sender repeats {seg.seq}")
        self.num.seq = self.num.rcv_nxt = self.wire.dialect.chunk_ack(seg.seq, len(seg.data))
        self.head = b"\xff"

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
        # What the application waits for, and the buffer beyond it: a recv() of n bytes is
        # done at n, while the rest of the burst that brought them is still being taken.
        if self.unread >= self.room:
            self.stats.window_full += 1  # flow control: re-ACK, the sender will retry
            self.ack(self.num.rcv_nxt)
            return
        self.buf += seg.data
        self._accept_chunk(start, n)
        if self.remaining == 0:
            self.last_chunk = (seg.seq, seg.data)
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
        adapt = self.wire.adapt
        if adapt is not None and not adapt.known("length_ack"):
            rules: list[Any] = []
            for rule in D.SPACE["length_ack"]:  # distinct numbers, the working rule first
                ack = seg.seq + (len(seg.data) if rule is None else rule)
                if ack not in [seg.seq + (len(seg.data) if r is None else r) for r in rules]:
                    rules.append(rule)
            working = self.wire.dialect.length_ack
            k = rules.index(working) if working in rules else 0
            self.len_rot = D.Rotation(rules[k:] + rules[:k], cycles=3)
        else:
            self.len_rot = None
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


def _round_robin(lists: list[list[Any]], value: Callable[[Any], int], working: Any) -> list[Any]:
    """The rules of each list in turn (the first of each, then the second ...), one per
    distinct ``value`` (the ACK it makes), the ``working`` one first if present."""
    out: list[Any] = []
    values: set[int] = set()
    for k in range(max(len(rules) for rules in lists)):
        for rules in lists:
            if k < len(rules) and value(rules[k]) not in values:
                values.add(value(rules[k]))
                out.append(rules[k])
    for i, rule in enumerate(out):
        if rule == working:
            return [rule, *out[:i], *out[i + 1 :]]
    return out
