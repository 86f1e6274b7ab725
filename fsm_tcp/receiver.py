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
from collections.abc import Callable
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
        "ack_rot",
        "announced",
        "bounds",
        "buf",
        "c",
        "draining",
        "first",
        "first_base",
        "first_chunk",
        "head",
        "head_seq",
        "held",
        "len_acks",
        "len_rot",
        "len_seg",
        "maybe",
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
        self.len_acks: set[int] = set()  # the ACKs we sent for the current length
        # auto: our ACK arithmetic on trial (the length's, the first chunk's), the first
        # chunk taken, and a segment seen once where only another rule puts it
        self.len_rot: D.Rotation | None = None
        self.ack_rot: D.Rotation | None = None
        self.first_chunk = (-1, b"")
        self.first_base = -1
        self.maybe: tuple[int, bytes] | None = None
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

    def _accept_chunk(self, wire_seq: int, n: int) -> None:
        """Bookkeeping of an in-order chunk whose bytes are already in the buffer."""
        c = self.c
        c.seq = c.rcv_nxt = seq = c.dialect.chunk_ack(wire_seq, n)
        self.remaining -= n
        self.first = False
        self.ack(seq)
        self.head = c.f_data % seq if c.fast_ok else b"\xff"
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
            if self.c.life == M.ESTABLISHED:
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
        for seq in [s for s in held if s < c.rcv_nxt]:
            del held[seq]  # overtaken: a retransmission filled that place
        # the blocks left, oldest arrival first so that the newest is reported first
        self.sack = SackReceiver(c.rcv_nxt)
        for seq, data in held.items():
            self.sack.add(seq, seq + len(data))
        if c.life == M.ESTABLISHED:
            self.ack(c.rcv_nxt)

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
        adapt = c.adaptation
        if gap == c.dialect.length_seq_gap:
            if adapt is None:
                return True
            if not seg.data.isdigit() or (seg.seq, seg.data) == self.first_chunk:
                return False  # auto: a repeat of the last chunk, not a length
            self.confirm_data_ack()
            c.observe_counted("length_seq_gap", gap)
            return True
        if adapt is None or adapt.known("length_seq_gap") or not seg.data.isdigit():
            return False
        # another gap of the space: taken only when the sender repeats it (a segment seen
        # once there could be a reordered chunk of a windowed sender)
        if gap in D.SPACE["length_seq_gap"] and self._seen_twice(seg):
            self.confirm_data_ack()
            c.observe_counted("length_seq_gap", gap)
            return True
        return False

    def _seen_twice(self, seg: Segment) -> bool:
        """auto: ``seg`` is where only a rule other than the working one puts it; the bytes
        are taken at its second arrival (the sender repeats what was not ACKed)."""
        key = (seg.seq, seg.data)
        if self.maybe == key:
            self.maybe = None
            return True
        self.maybe = key
        return False

    def _chunk_start(self, seg: Segment) -> int | None:
        """The SEQ of ``seg`` if it is the next chunk expected (else None); auto settles
        what it shows of the sender's numbering here."""
        c = self.c
        d, n = c.dialect, len(seg.data)
        if seg.seq == d.chunk_seq(d.chunk_pos(c.seq, self.first), n):
            if c.adaptation is not None:
                self._numbering_shown(seg, c.seq, d.data_seq, None)
            return seg.seq
        adapt = c.adaptation
        if adapt is None or seg.seq < c.rcv_nxt or (seg.seq, seg.data) == self.len_seg:
            return None  # stale: a repeat of what we have
        if not self.first:
            # a following chunk further on than the working gap says
            if adapt.known("chunk_gap"):
                return None
            for gap in D.SPACE["chunk_gap"]:
                if seg.seq == d.chunk_seq(c.seq + gap, n) and self._seen_twice(seg):
                    self.confirm_data_ack()
                    c.observe("chunk_gap", gap)
                    return seg.seq
            return None
        # the first chunk of a message: the sender goes on from whichever of our length
        # ACKs it took (or from its own count, as one recorded sender does), numbered by
        # some rule of the space
        s, digits = self.len_seg[0], len(self.len_seg[1])
        # the ACK it has now first, then the others we sent, then its own count
        bases = [c.seq, *sorted(self.len_acks - {c.seq}), s + digits]
        for base in dict.fromkeys(bases):
            for numbering, gap in D.first_chunk_rules(seg.seq, n, base):
                if adapt.known("data_seq_gap") and gap != d.data_seq_gap:
                    continue
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
        c = self.c
        adapt = c.adaptation
        assert adapt is not None
        if not self.first:
            self.confirm_data_ack()
            if not adapt.known("chunk_gap"):
                adapt.confirm(c.evidence, "chunk_gap")
                c.adapted()
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
        c = self.c
        adapt = c.adaptation
        assert adapt is not None
        values = {"data_seq": rule[0], "data_seq_gap": rule[1], "data_ack": rule[2]}
        if adapt.assume(values, why):
            c.adapted()

    def confirm_data_ack(self) -> None:
        """auto: the sender moved on from the first chunk where our ACK of it said (its
        next chunk, length or FIN is there): the working data arithmetic is its own."""
        c = self.c
        adapt = c.adaptation
        if adapt is None or self.ack_rot is None:
            return
        self.ack_rot = None
        d = adapt.current
        if self._twins((d.data_seq, d.data_seq_gap, d.data_ack)):
            return  # the next message's first chunk may tell (a 1-byte chunk cannot)
        c.observe("data_seq_gap", d.data_seq_gap)
        c.observe("data_seq", d.data_seq)
        c.observe("data_ack", d.data_ack)
        c.adapted()  # confirmed: the byte matching may start

    def _took_length_ack(self, base: int) -> None:
        """auto: the sender went on from ``base``, one of the ACKs we sent for its length
        segment (or its own count): the length-ACK rule that gives it, when only one does,
        is its own; the count stands there."""
        c = self.c
        s, digits = self.len_seg[0], len(self.len_seg[1])
        adapt = c.adaptation
        assert adapt is not None
        rules = D.length_ack_rules(s, digits, base)
        if len(rules) == 1:
            c.observe("length_ack", rules[0])
        elif rules and adapt.assume({"length_ack": rules[0]}, "the sender took that ACK"):
            c.adapted()
        self.len_rot = None
        c.seq = c.rcv_nxt = base

    def _unexplained(self, seg: Segment) -> None:
        """auto: a first chunk no rule of the space places. The sender repeats it; after
        the limit, the one-line diagnosis."""
        c = self.c
        adapt = c.adaptation
        assert adapt is not None
        if adapt.known("data_seq", "data_seq_gap", "length_ack"):
            return  # a known peer: an out-of-place segment, not a new arithmetic
        n = len(seg.data)
        what = f"peer sends DATA seq={seg.seq} ({n} bytes) after our ACK {c.rcv_nxt}"
        if adapt.unexplained(what):
            self._give_up(what, "numbering")

    def _give_up(self, what: str, family: str) -> None:
        c = self.c
        adapt = c.adaptation
        assert adapt is not None
        c.abort(adapt.give_up(what, family))

    def stale_or_ahead(self, seg: Segment) -> None:
        c = self.c
        if c.config.secure and not c._in_window(seg):
            c.stats.out_of_window += 1  # secure: dropped without a word (no ACK to reflect)
            return
        # a chunk numbered by its end repeats with the number we last ACKed
        top = c.rcv_nxt + (c.dialect.data_seq == "end")
        if seg.seq < top or (seg.seq < c.seq and c.snd.tx == M.TX_IDLE):
            c.stats.duplicates_received += 1
            self._maybe_rotate_length_ack(seg)
            self._maybe_rotate_data_ack(seg)
            if c.life != M.ESTABLISHED:
                return  # auto gave up
            if self.rx == M.RX_DATA:
                self.reack_stale()  # same stage on both sides: bookkeeping, no trigger
            else:
                self._fire("rx_duplicate")  # desync (b): declared
        elif self._may_hold(seg):
            self._hold(seg)
        else:
            c.stats.out_of_window += 1  # PROTOCOL.md 3: dropped, and re-ACKed
            self.ack(c.rcv_nxt)

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
        return seg.seq + n - c.rcv_nxt + used <= room

    def _hold(self, seg: Segment) -> None:
        c = self.c
        if seg.seq not in self.held:
            self.held[seg.seq] = seg.data
            self.sack.rcv_nxt = c.rcv_nxt
            self.sack.add(seg.seq, seg.seq + len(seg.data))
        else:
            c.stats.duplicates_received += 1
        self.ack(c.rcv_nxt)  # a duplicate ACK, with the SACK blocks

    def _maybe_rotate_length_ack(self, seg: Segment) -> None:
        """auto: the sender keeps repeating the length segment we ACKed, so it does not take
        our ACK's arithmetic: try the next one (``dialects.Rotation``)."""
        c = self.c
        rot = self.len_rot
        if rot is None or not self.first or (seg.seq, seg.data) != self.len_seg:
            return
        adapt = c.adaptation
        assert adapt is not None
        if not rot.repeated(c.now, c.rto.rto / 2):
            return
        if rot.exhausted:
            length = seg.data.decode("latin-1")
            what = f'peer repeats LENGTH seq={seg.seq} ("{length}") whatever we ACK'
            adapt.tried["length_ack"] = [{"length_ack": r} for r in rot.rules] * rot.cycles
            self._give_up(what, "length_ack")
            return
        if adapt.assume({"length_ack": rot.rule}, f"the sender repeats {seg.data!r}"):
            c.adapted()
        c.seq = c.rcv_nxt = c.dialect.length_ack_for(seg.seq, len(seg.data))
        self.len_acks.add(c.seq)
        self.head = b"\xff"

    def _maybe_rotate_data_ack(self, seg: Segment) -> None:
        """auto: the sender keeps repeating the first chunk we took, so our ACK of it is
        not in its arithmetic: try the next rule its SEQ allows."""
        c = self.c
        rot = self.ack_rot
        if rot is None or (seg.seq, seg.data) != self.first_chunk:
            return
        if not rot.repeated(c.now, c.rto.rto / 2):
            return
        adapt = c.adaptation
        assert adapt is not None
        if rot.exhausted:
            what = f"peer repeats DATA seq={seg.seq} ({len(seg.data)} bytes) whatever we ACK"
            adapt.tried["data_ack"] = [{"rule": r} for r in rot.rules] * rot.cycles
            self._give_up(what, "data_ack")
            return
        self._assume_data_rule(rot.rule, f"the sender repeats {seg.seq}")
        c.seq = c.rcv_nxt = c.dialect.chunk_ack(seg.seq, len(seg.data))
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
            self.ack(c.rcv_nxt)
            return
        self.buf += seg.data
        self._accept_chunk(start, n)
        if self.remaining == 0:
            self._fire("rx_last_chunk")
        elif c.fast_ok and not self.held and c.snd.tx == M.TX_IDLE:
            # the first chunk of a message comes this way (auto sees its numbering): the
            # steady state, and its promise, start with it all the same
            self._promise_next_ack(self.unread)

    # ================================================================ table callbacks
    def _fire(self, trigger: str) -> None:
        _MACHINE.events[trigger].trigger(self)

    def on_transition(self, ev: Any) -> None:
        self.c._on_transition("receiver", ev)

    def reset_retries(self, _ev: Any = None) -> None:
        self.c.restart_retries()

    def fits_message_limit(self, _ev: Any = None) -> bool:
        return self.announced <= self.c.config.max_message_size

    def announces_empty_message(self, _ev: Any = None) -> bool:
        return self.announced == 0

    def reack_stale(self, _ev: Any = None) -> None:
        c = self.c
        self.ack(c.rcv_nxt)
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
        c.seq = c.rcv_nxt = c.dialect.length_ack_for(seg.seq, len(seg.data))
        self.len_seg = (seg.seq, seg.data)
        self.len_acks = {c.seq}
        adapt = c.adaptation
        if adapt is not None and not adapt.known("length_ack"):
            rules: list[Any] = []
            for rule in D.SPACE["length_ack"]:  # distinct numbers, the working rule first
                ack = seg.seq + (len(seg.data) if rule is None else rule)
                if ack not in [seg.seq + (len(seg.data) if r is None else r) for r in rules]:
                    rules.append(rule)
            k = rules.index(c.dialect.length_ack) if c.dialect.length_ack in rules else 0
            self.len_rot = D.Rotation(rules[k:] + rules[:k], cycles=3)
        else:
            self.len_rot = None
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
        adapt = c.adaptation
        unsure = adapt is not None and "data_seq" not in adapt.confirmed
        first_at_seq = c.fast_ok and not c.dialect.data_seq_gap and not unsure
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
