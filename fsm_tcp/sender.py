"""The sending half of a connection: messages out as segments, a window of them in flight.

A :class:`Sender` owns the SENDER machine's state (``tx``), the queue of messages, the
segments in flight and, for the windowed modes, a :class:`~fsm_tcp.congestion.Congestion`
and (Selective Repeat) a :class:`~fsm_tcp.sack.SackScoreboard`. What it shares with the
receiver and the connection it is given as the objects of :mod:`fsm_tcp.link`: the SEQ
counter (``num``), the timer and RTO estimate (``timer``), the working dialect (``wire``),
the datagrams out (``out``), and the calls back to the connection (``owner``).

Stop-and-wait is a window of one in the same code: ``_limit()`` returns 1, so ``fill()``
sends one segment and the next only after its ACK. The segment after an ACK starts where
that ACK says (the dialect's arithmetic, maybe learnt from this very ACK), so only
stop-and-wait can follow a dialect; a windowed send numbers ahead as PROTOCOL.md 6 does and
falls back to a window of one while the working dialect is not canonical-numbered
(``Wire.canonical_numbering``).

Windows span messages (PROTOCOL.md 6: the length segment is just the first element of a
message's segment list): under canonical numbering, once a windowed message is cut into
segments, the next queued message of the same mode is cut behind it in the same window
(``_open_next``). The machine's stage stays that of the oldest message not yet acknowledged
whole; each message already cut is kept behind as (length, length ACK, first data SEQ, end),
and when the machine reaches it, its triggers fire as the cumulative ACK has covered it.

Per-segment work is plain bookkeeping; triggers fire per message and per fault only.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from . import dialects as D
from . import machines as M
from .congestion import Congestion
from .errors import ConnectionClosed, ConnectionTimeout, InvalidArgument, MalformedSegment
from .link import NEVER, Part, Shared
from .sack import SackScoreboard
from .segment import Segment, parse_sack
from .spurious import EVIDENCE, SpuriousCheck

STOP_AND_WAIT = "stop_and_wait"
GO_BACK_N = "go_back_n"
SELECTIVE_REPEAT = "selective_repeat"
MODES = (STOP_AND_WAIT, GO_BACK_N, SELECTIVE_REPEAT)

_MACHINE = M.build(M.SENDER)
#: auto: what the answer to the length, to a first chunk and to a following chunk settles;
#: once known, an answer the working rule does not predict is no lesson.
_SETTLES = (
    ("length_seq_gap", "length_ack"),
    ("data_seq_gap", "data_seq", "data_ack"),
    ("data_seq", "data_ack", "chunk_gap"),
)

#: A segment in flight: (start SEQ, the ACK that covers it, the datagram, when it was first
#: sent; -1.0 once resent, so that its ACK gives no RTT sample: Karn's rule).
Flight = tuple[int, int, bytes, float]
#: A message cut into segments whose stage the machine has not finished: (length, the ACK of
#: its length segment, the SEQ of its first data byte, the ACK of its last segment).
Behind = tuple[int, int, int, int]
#: A pure ACK's first fields, and the longest plain one (SEQ of at most 20 digits).
_ACK_HEAD = b"0|||1|||0|||"
_ACK_MAX = len(_ACK_HEAD) + 20 + 3
#: Most messages cut ahead of the one the machine is on: each one the machine reaches fires
#: its triggers within those of the one before (a bound on that nesting, not on throughput).
MAX_AHEAD = 8


class Sender(Part):
    """One connection's outgoing messages, one at a time, each in its own mode."""

    __slots__ = (
        "_last_cwnd",
        "ack_wire",
        "answer_stamp",
        "answered",
        "backlog",
        "behind",
        "board",
        "cong",
        "data_base",
        "element",
        "element_off",
        "first",
        "flight",
        "held_ack",
        "held_acks",
        "length_ack",
        "length_fits",
        "length_pkt",
        "length_starts",
        "lengths",
        "lost_from",
        "lost_to",
        "mode",
        "msg",
        "odd_stamp",
        "off",
        "queue",
        "refused",
        "sights",
        "snd_nxt",
        "spurious",
        "tx",
        "unreached",
    )

    def __init__(self, shared: Shared) -> None:
        super().__init__(shared)
        # The machine's state; only the shared machine above writes it after this.
        self.tx = M.SENDER.initial
        self.queue: deque[tuple[bytes, str]] = deque()
        #: Bytes of the messages queued or not yet acknowledged whole.
        self.backlog = 0
        #: Messages cut into segments ahead, behind the one the machine is on (oldest first),
        #: and how many started messages the machine has still to reach.
        self.behind: deque[Behind] = deque()
        self.unreached = 0
        self.msg = b""
        self.mode = STOP_AND_WAIT
        self.off = 0  # bytes of msg put into segments so far
        self.first = True  # the next chunk is the message's first (a dialect may gap it)
        self.flight: deque[Flight] = deque()
        #: Plain cumulative ACKs taken while the driver had more datagrams queued: the
        #: highest, and how many; slid over once, when the burst ends (see window_ack).
        self.held_ack = 0
        self.held_acks = 0
        self.ack_wire = NEVER  # stop-and-wait: the ACK of the chunk in flight, as bytes
        self.snd_nxt = 0  # where the next segment starts while others are in flight
        self.length_ack = 0  # the ACK that covers this message's length segment
        self.length_pkt = b""
        #: auto: the length-ACK rules every length ACK so far fits. One ACK rarely tells
        #: them apart (a 1-digit length at s+1 fits s+d and s+1), two lengths of different
        #: digit counts often do: the rule is confirmed once only one fits them all.
        self.length_fits: set[int | None] | None = None
        self.data_base = 0  # SEQ of the message's first data byte (progress only)
        self.lengths = 0  # length segments acknowledged so far
        self.length_starts: list[int] = []  # auto: where this length went, rule by rule
        # auto, one segment in flight whose answer is not yet known: which element it is
        # (0 the length, 1 the first chunk, 2 and on the following ones), where its bytes
        # start, the peer's standing ACKs and unpredicted answers to it (dialects.py)
        self.element = 0
        self.element_off = 0
        self.refused = D.Refusals()
        self.sights = D.Sightings()
        self.odd_stamp = -1  # the transmission an unexplained answer was last counted for
        self.answer_stamp = -1  # the last transmission an explained answer came for
        self.answered = 0  # transmissions of the segment in flight answered so
        self.cong: Congestion | None = None  # made by the first windowed message
        self.board: SackScoreboard | None = None  # Selective Repeat's view of the receiver
        # Selective Repeat after a timeout: the segments in flight then that end at or below
        # lost_to (RFC 6675's RecoveryPoint) and start at or above lost_from (its HighRxt:
        # what has been resent since) are deemed lost and wait for the window to resend them.
        self.lost_from = self.lost_to = 0
        self.spurious = SpuriousCheck()  # was the last timeout one? (spurious.py)
        self._last_cwnd: tuple[Any, ...] = ()

    # ================================================================ for the connection
    def enqueue(self, message: bytes, mode: str) -> None:
        if mode not in MODES:
            raise InvalidArgument(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        self.queue.append((message, mode))
        self.backlog += len(message)

    @property
    def busy(self) -> bool:
        return self.tx != M.TX_IDLE or bool(self.queue)

    def start_next(self) -> None:
        if self.owner.life != M.ESTABLISHED:
            return
        if self.tx == M.TX_IDLE:
            if self.unreached:
                self.fire("tx_start")  # a message already cut behind the one just done
            elif self.queue:
                self.msg, self.mode = self.queue.popleft()
                self.fire("tx_start")
        elif self.queue:
            self.fill()  # a window may take the new message behind the one in flight

    def progress(self) -> tuple[int, int]:
        """(bytes acknowledged, length) of the message being sent."""
        length, _length_ack, base, _end = self._front()
        if self.tx == M.TX_DATA:
            return min(max(self.num.seq - base, 0), length), length
        return 0, length

    def _front(self) -> Behind:
        """The message the machine is on: (length, length ACK, first data SEQ, end; -1
        while it is still being cut)."""
        if self.behind:
            return self.behind[0]
        done = self.off >= len(self.msg)
        return len(self.msg), self.length_ack, self.data_base, self.snd_nxt if done else -1

    def _covered(self, seq: int) -> bool:
        """Every segment before ``seq`` is acknowledged (the oldest in flight starts there
        or later): a message's length, or its end, under windows that span messages."""
        flight = self.flight
        return not flight or flight[0][0] >= seq

    def on_ack(self, seg: Segment) -> None:
        """A pure ACK in ESTABLISHED: cumulative, maybe with SACK blocks in its DATA."""
        if self.tx == M.TX_IDLE:
            self.stats.duplicates_received += 1  # stale: nothing to do
            return
        ack, flight = seg.seq, self.flight
        # Anything from the oldest segment's ACK up to the newest's slides the window, also
        # an ACK above the highest SEQ of a window that shrank since (PROTOCOL.md 6).
        if flight and flight[0][1] <= ack <= flight[-1][1]:
            self._acked_to(ack, seg)
        elif self.wire.adapt is not None and len(flight) == 1 and self._learn_from(ack):
            pass  # auto: a refusal, or an answer in another arithmetic (or an old copy)
        elif self.mode != STOP_AND_WAIT and flight and ack == self.num.seq:
            self._dup_ack(seg)
        else:
            self.stats.duplicates_received += 1  # stale or early ACK: nothing to do

    def fast_ack(self) -> bool:
        """Stop-and-wait's fast path: the ACK of the chunk in flight, not the last one."""
        if self.tx != M.TX_DATA or self.off >= len(self.msg):
            return False
        self.stats.segments_received += 1
        _start, end, _pkt, sent_at = self.flight.popleft()
        self.timer.acked(sent_at)
        self.num.seq = end
        self._send_chunk()
        self._promise_next_chunk()
        return True

    def window_ack(self, data: bytes, more: bool = False) -> bool:
        """A windowed sender's fast path: a plain cumulative ACK of new data, read from its
        bytes (no Segment, no SACK blocks: those, duplicates and anything else take the
        general path, which does the same with a parsed segment).

        ``more``: the driver holds another datagram for us. A cumulative ACK is covered by
        any later one, so a burst of them is slid over once, at the highest (``settle``):
        the per-ACK work is done once per burst, and the congestion window still grows
        per ACK (see _acked_to).
        """
        if (
            self.mode == STOP_AND_WAIT
            or not data.startswith(_ACK_HEAD)
            or not data.endswith(b"|||")
            or len(data) > _ACK_MAX
        ):
            return False
        digits = data[12:-3]
        if not digits.isdigit():
            return False
        ack, flight = int(digits), self.flight
        if not (flight and flight[0][1] <= ack <= flight[-1][1]):
            return False
        self.stats.segments_received += 1
        if ack > self.held_ack:
            self.held_ack = ack
        self.held_acks += 1
        if not more:
            self.settle()
        return True

    def settle(self) -> None:
        """Slide over the ACKs held while a burst was being read (window_ack): before
        anything else reads the flight, and when the burst ends."""
        count, ack = self.held_acks, self.held_ack
        if count:
            self.held_ack = self.held_acks = 0
            self._acked_to(ack, None, count)

    def implies_ack(self, seq: int, gap: int) -> bool:
        """Peer data (or FIN) where its next element after our last segment starts proves
        that segment arrived (desync a/b mirror); if so, take it as acknowledged."""
        flight = self.flight
        if flight and self.off >= len(self.msg) and seq == flight[-1][1] + gap:
            self._acked_to(flight[-1][1], None)
            return True
        return False

    def on_timeout(self) -> None:
        """The timer of the oldest segment expired and a retry is allowed (no stage change:
        bookkeeping; the trigger fires only when the retry bound is reached)."""
        flight = self.flight
        if not flight:
            return
        self.timer.rto.back_off()
        cong = self.cong
        if self.mode != STOP_AND_WAIT and cong is not None:
            quiet = cong.dup_acks == 0 and not (self.board is not None and self.board.has_sacks())
            cong.on_timeout(self._flight_bytes())
            self._trace_cwnd()
            # selective repeat resends the oldest alone; a receiver that lost it would
            # have answered each later segment with a duplicate ACK (see spurious.py)
            past = quiet and self.mode == SELECTIVE_REPEAT and len(flight) > EVIDENCE
            timer = self.timer
            self.spurious.arm(
                timer.now, timer.rto.srtt, timer.retries == 1, flight[EVIDENCE][1] if past else 0
            )
        if self.mode == GO_BACK_N:
            for i in range(len(flight)):  # every unacknowledged segment, oldest first
                self._resend(i)
        else:
            if self.board is not None:
                self.board.forget_sacks()  # RFC 2018 8: the receiver may have reneged
                # RFC 6675 5.1: "RecoveryPoint MUST be set to HighData"; what is in flight
                # up to it is lost as surely as the oldest (see _resend_lost)
                self.lost_from, self.lost_to = flight[0][1], flight[-1][1]
            self._resend(0)
        self.timer.arm()

    def _check_spurious(self, ack: int) -> None:
        """The first ACK of new data since a timeout: if it shows the timeout spurious,
        undo its cwnd cut and its marking of the flight as lost (RFC 4015's response:
        nothing was lost, so nothing more is resent)."""
        cong = self.cong
        if self.spurious.shows(self.timer.now, ack) and cong is not None and cong.undo_timeout():
            self.lost_from = self.lost_to
            self.stats.spurious_timeouts += 1
            self._trace_cwnd()

    def drop_all(self) -> None:
        """The connection ended: nothing queued or in flight will be sent."""
        self.queue.clear()
        self.clear()
        self.backlog = 0

    def clear(self) -> None:
        self.flight.clear()
        self.held_ack = self.held_acks = 0
        self.ack_wire = NEVER
        self.behind.clear()
        self.unreached = 0

    # ================================================================ windows
    def _limit(self) -> int:
        """W: how many segments may be unacknowledged (PROTOCOL.md 6)."""
        cong = self.cong
        known = self.wire.numbering_known(length=self.tx == M.TX_LENGTH)
        if self.mode == STOP_AND_WAIT or cong is None or not known:
            return 1
        cfg = self.config
        # the receiver holds at most receive_buffer bytes: more in flight would be dropped
        room = max(1, cfg.receive_buffer // cfg.mss)
        return max(1, min(cong.window_segments(), cfg.window, room))

    def fill(self) -> None:
        """Send new chunks while the window allows, and the next messages' behind them."""
        limit, flight = self._limit(), self.flight
        while len(flight) < limit:
            if self.off < len(self.msg):
                self._send_chunk()
            elif not self._open_next():
                break

    def _open_next(self) -> bool:
        """The message being cut is cut whole: cut the next one behind it in the window, if
        it is of the same windowed mode (PROTOCOL.md 6 numbers every segment of every
        message; the receiver finds each boundary from the length segments)."""
        queue = self.queue
        if (
            not queue
            or self.tx == M.TX_IDLE
            or self.mode == STOP_AND_WAIT
            or queue[0][1] != self.mode
            or len(self.behind) >= MAX_AHEAD
            or not self.wire.canonical_numbering()
            or self.wire.unconfirmed("length_ack")
        ):
            return False
        self.behind.append((len(self.msg), self.length_ack, self.data_base, self.snd_nxt))
        self.msg, self.mode = queue.popleft()
        self.off, self.first = 0, True
        self.unreached += 1
        self._send_length()
        return True

    def _flight_bytes(self) -> int:
        flight = self.flight
        return flight[-1][1] - flight[0][0] if flight else 0

    def _acked_to(self, ack: int, seg: Segment | None, acks: int = 1) -> None:
        """A cumulative ACK of new data (the highest of ``acks`` taken together): slide over
        every segment it covers."""
        num, flight = self.num, self.flight
        if self.wire.adapt is not None and len(flight) == 1:
            self._answered(ack)
        if self.spurious.armed:
            self._check_spurious(ack)
        sent_at, covered, acked, resent = -1.0, num.seq, 0, False
        while flight and flight[0][1] <= ack:
            _start, covered, _pkt, sent_at = flight.popleft()
            acked += 1
            resent = resent or sent_at < 0.0
        # An RTT sample from the newest segment covered (Karn: never a resent one), unless
        # the ACK jumped over a repaired hole (a resent segment among those covered, or
        # many at once): the newest was held by the receiver meanwhile, and its round trip
        # is not the path's (at 20% loss such samples drove the RTO to a second).
        self.timer.acked(sent_at if acked <= 2 * acks and not resent else -1.0)
        new_bytes = covered - num.seq
        num.seq = covered
        if flight:
            self.timer.arm()  # RFC 6298 5.3: the timer restarts for the new oldest segment
        if self.board is not None:
            self.board.on_ack(covered, self._blocks(seg))
        cong = self.cong
        if self.mode != STOP_AND_WAIT and cong is not None and new_bytes > 0:
            # per ACK of new data one MSS, as the course counts (PROTOCOL.md 6: a length
            # segment's 2-byte ACK grows cwnd as a full chunk's does), at most two
            # segments' worth per ACK (RFC 3465's L)
            for _ in range(min(acked, 2 * acks)):
                recovering = cong.cc == M.FAST_RECOVERY
                cong.on_ack(self.config.mss)
                if recovering:
                    break  # RFC 5681 3.2 step 6: this ACK deflates cwnd, nothing more
            self._trace_cwnd()
            if self.board is not None and self.lost_from < self.lost_to:
                self._resend_lost()
            else:
                self._recover_next_hole()
        self._advance()

    def _advance(self) -> None:
        """After an ACK of new data: the stage changes, or more goes out. (In TX_LENGTH the
        oldest segment in flight is the length, so an ACK of new data has covered it.)"""
        if self.tx == M.TX_LENGTH:
            self.fire("tx_length_acked")
        elif self._message_done():
            self.fire("tx_last_chunk_acked")
        else:
            self.fill()

    def _message_done(self) -> bool:
        end = self._front()[3]
        return end >= 0 and self._covered(end)

    def _dup_ack(self, seg: Segment) -> None:
        """A windowed sender's duplicate ACK: congestion bookkeeping, maybe fast retransmit."""
        self.stats.duplicates_received += 1
        if self.board is not None:
            self.board.on_ack(seg.seq, self._blocks(seg))
        cong = self.cong
        assert cong is not None
        hole = self._first_hole()
        if self.flight[hole][3] < 0.0 and cong.cc != M.FAST_RECOVERY:
            return  # that loss is being repaired already: its duplicates are no new loss
        if cong.on_dup_ack(self._flight_bytes()):
            self._trace_cwnd()
            self._resend(hole)  # fast retransmit (PROTOCOL.md 6)
            self.timer.arm()  # its ACK is a round trip away: the timer counts from now
        elif cong.cc == M.FAST_RECOVERY:
            self._trace_cwnd()  # Reno inflates cwnd by each further duplicate
            self.fill()

    def _first_hole(self) -> int:
        """Index in flight of the first segment neither acknowledged nor SACKed."""
        board = self.board
        if board is not None:
            for i, (start, end, _pkt, _t) in enumerate(self.flight):
                if not board.is_sacked(start, end):
                    return i
        return 0

    def _recover_next_hole(self) -> None:
        """Selective Repeat, an ACK that advanced into a hole below SACKed data: that
        segment is lost as surely as after three duplicates; resend it once (as RFC 6675's
        NextSeg would), instead of waiting a timeout per hole."""
        board, flight = self.board, self.flight
        if board is None or not flight or not board.sacked:
            return
        i = self._first_hole()
        start = flight[i][0]
        if flight[i][3] >= 0.0 and board.sacked[-1][1] > start:
            self._resend(i)

    def _resend_lost(self) -> None:
        """Selective Repeat after a timeout, an ACK of new data: resend the segments sent
        before the timeout and neither acknowledged nor SACKed since, oldest first, as many
        as the window has room for beside those still in the network.

        Without this, only the oldest was resent on the timer; its ACK slid the window onto
        the next segment of the same lost flight, which then waited a whole RTO of its own
        (and collapsed cwnd again): one timeout per lost segment, a window stuck at one or
        two segments, never three duplicates, and RTOs backed off to seconds at 20% loss.
        RFC 6675 5.1 and RFC 5681 3.1 (as Linux and ns-3 do after an RTO): every segment
        outstanding at the timeout and not SACKed is lost, and slow start clocks out its
        retransmission (NextSeg rule 1, before new data) up to RecoveryPoint."""
        board, flight = self.board, self.flight
        assert board is not None
        lost_from, lost_to = self.lost_from, self.lost_to
        lost: list[int] = []
        in_network = len(flight)
        for i, (start, end, _pkt, _sent) in enumerate(flight):
            if board.is_sacked(start, end):
                in_network -= 1  # the receiver holds it: it takes no room (RFC 6675 pipe)
            elif lost_from <= start and end <= lost_to:
                lost.append(i)
                in_network -= 1
        room = max(0, self._limit() - in_network)
        for i in lost[:room]:
            self._resend(i)
            self.lost_from = flight[i][1]
        if len(lost) <= room:
            self.lost_from = lost_to  # all resent: the repair is over (HighRxt reached it)

    def _resend(self, i: int) -> None:
        flight = self.flight
        start, ack_at, pkt, _sent = flight[i]
        flight[i] = (start, ack_at, pkt, -1.0)
        if i == 0:
            self.refused.sent()
        self.stats.retransmissions += 1
        self.out.emit(pkt, True)

    @staticmethod
    def _blocks(seg: Segment | None) -> list[tuple[int, int]]:
        if seg is None or not seg.data:
            return []
        try:
            return parse_sack(seg.data)
        except MalformedSegment:
            return []  # a filler or garbage: the cumulative number alone is safe

    def _trace_cwnd(self) -> None:
        cong = self.cong
        if self.owner.tracer is None or cong is None:
            return
        fields = cong.trace_fields()
        key = tuple(fields.values())
        if key != self._last_cwnd:
            self._last_cwnd = key
            self.owner.trace("cwnd", **fields)

    # ================================================================ segments
    def _transmit(self, start: int, ack_at: int, pkt: bytes) -> None:
        timer, flight = self.timer, self.flight
        if not flight:
            timer.arm()  # one timer, for the oldest segment in flight
            self._new_question()
        flight.append((start, ack_at, pkt, timer.now))
        if self.board is not None:
            self.board.sent(ack_at)
        self.out.emit(pkt)

    def _send_length(self) -> None:
        wire = self.wire
        d = wire.dialect
        digits = b"%d" % len(self.msg)
        # where the segment before it ended: ahead, the last one of the message before
        s = d.length_seq_for(self.snd_nxt if self.flight else self.num.seq)
        if wire.adapt is not None and s not in self.length_starts:
            self.length_starts.append(s)
        self.element = 0
        self.length_ack = self.snd_nxt = d.length_ack_for(s, len(digits))
        self.data_base = d.chunk_pos(self.length_ack, True)
        self.length_pkt = pkt = wire.f_data % s + digits
        self._transmit(s, self.length_ack, pkt)

    def _send_chunk(self) -> None:
        """The next chunk, numbered from the ACK it follows (the predicted one, when others
        are in flight) by the working dialect's arithmetic."""
        wire, flight, timer = self.wire, self.flight, self.timer
        d = wire.dialect
        pos = self.snd_nxt if flight else self.num.seq
        if self.first:
            self.first = False
            self.element = 1
            pos += d.data_seq_gap
        else:
            self.element = 2
            pos += d.chunk_gap
        off = self.off
        self.element_off = off
        chunk = self.msg[off : off + (wire.chunk or wire.chunk_size(pos))]
        n = len(chunk)
        self.off = off + n
        if wire.byte_numbered:  # PROTOCOL.md's arithmetic, the common case, written out
            seq, ack = pos, pos + n
        else:
            seq = d.chunk_seq(pos, n)
            ack = d.chunk_ack(seq, n)
        self.snd_nxt = ack
        if self.mode == STOP_AND_WAIT and wire.fast_ok:
            self.ack_wire = wire.f_ack % ack  # what the fast path will match
        self.stats.payload_bytes_sent += n
        pkt = wire.f_chunk % (seq, chunk)
        # _transmit written out: this runs once per segment
        if not flight:
            timer.arm()
            self._new_question()
        flight.append((pos, ack, pkt, timer.now))
        if self.board is not None:
            self.board.sent(ack)
        self.out.emit(pkt)

    def _new_question(self) -> None:
        """auto, a segment alone in flight: its refusals and answers count anew (none to
        count for a following chunk once their numbering is confirmed: _learn_from reads
        none of it then)."""
        wire = self.wire
        if wire.adapt is None or (self.element == 2 and wire.data_numbered):
            return
        refused = self.refused  # restarted in place: this runs once per segment
        refused.restart(refused.sends, refused.answers)
        if self.sights.slots:
            self.sights.clear()
        self.odd_stamp = self.answer_stamp = -1
        self.answered = 0
        refused.sent()

    def _promise_next_chunk(self) -> None:
        """Stop-and-wait: the ACK of the chunk just sent will be answered by the next chunk."""
        off, msg, wire, out = self.off, self.msg, self.wire, self.out
        if off < len(msg) and wire.fast_ok:
            ack = self.ack_wire
            chunk = wire.f_chunk % (self.snd_nxt, msg[off : off + wire.mss])
            out.express = (ack, len(ack), chunk, out.peer)
        else:
            out.express = None  # the last chunk's ACK fires a trigger

    # ================================================================ dialect (auto)
    def _learn_from(self, ack: int) -> bool:
        """auto, one segment in flight, an ACK that is not the one predicted: the peer
        re-ACKing where it stands (a refusal, once old copies cannot explain it), or
        answering in another arithmetic (adopted once it answered each of our last
        transmissions so), or something no rule explains. False: a stale ACK."""
        adapt = self.wire.adapt
        assert adapt is not None
        if ack < self.num.seq or adapt.known(*_SETTLES[min(self.element, 2)]):
            return False  # stale, or a confirmed arithmetic: flow control, a loss, a copy
        if ack == self.num.seq:
            return self._standing()
        start, _ack_at, pkt, sent_at = self.flight[0]
        data = pkt[pkt.index(b"|||", 12) + 3 :]
        length = self.tx == M.TX_LENGTH
        if length:
            rules: list[Any] = self._length_rules(start, len(data), ack)
        else:
            rules = self._chunk_rules(pkt, ack)
        if not rules:
            if self.odd_stamp == self.refused.sends:
                return True  # one per transmission: copies of one answer say it once
            self.odd_stamp = self.refused.sends
            what = f"peer answers {self._what(pkt)} with ACK {ack}"
            if adapt.unexplained(what):
                self._give_up_dialect(what, "length_ack" if length else "numbering")
            return True
        self.refused.answers += 1
        self._answered_copy()
        if not self.sights.seen(ack, self.refused.sends):
            return True  # once could be an old copy: it must answer again so
        self._adopt_answer(rules, ack, pkt)
        self.flight[0] = (start, ack, pkt, sent_at)
        self._acked_to(ack, None)
        return True

    def _answered_copy(self) -> None:
        """The peer answered this transmission, in an arithmetic not yet ours: it is there,
        and may be a learner trying its rules, as our own receiver does after its ACKs were
        lost. Every second such transmission gives a retry back, so that it has room to
        come back to our rule (bounded: twice the retries at most)."""
        sends = self.refused.sends
        if self.answer_stamp == sends:
            return  # copies of one answer say it once
        self.answer_stamp = sends
        self.answered += 1
        if self.answered % 2 == 0 and self.timer.retries > 0:
            self.timer.retries -= 1

    def _chunk_rules(self, pkt: bytes, ack: int) -> list[tuple[D.Numbering, int, int]]:
        """(numbering, data_ack, gap) that explain ``ack`` for the chunk in flight: placed
        as the working rule placed it, or (a first chunk of 1-2 bytes) as another rule
        would have placed it at the same SEQ."""
        d = self.wire.dialect
        seq, n = self._wire_seq(pkt), len(pkt) - pkt.index(b"|||", 12) - 3
        sent: D.Numbering = "end" if d.data_seq == "end" else "start"
        places = [(sent, d.data_seq_gap)]
        if self.element == 1:
            places += [p for p in D.first_chunk_rules(seq, n, self.num.seq) if p not in places]
        found: list[tuple[D.Numbering, int, int]] = []
        for kind, gap in places:
            for numbering, k in D.chunk_ack_rules(seq, n, ack, kind):
                if (numbering, k, gap) not in found:
                    found.append((numbering, k, gap))
        return found

    def _length_rules(self, start: int, digits: int, ack: int) -> list[int | None]:
        """The length-ACK rules that explain ``ack``: for the length where it is now, or
        where a rule tried before put it (the peer may have taken an earlier copy)."""
        rules: list[int | None] = []
        for s in dict.fromkeys((start, *reversed(self.length_starts))):
            rules += [r for r in D.length_ack_rules(s, digits, ack) if r not in rules]
        return rules

    def _adopt_answer(self, rules: list[Any], ack: int, pkt: bytes) -> None:
        adapt = self.wire.adapt
        assert adapt is not None
        why = f"peer answered {self._what(pkt)} with ACK {ack}"
        if self.tx == M.TX_LENGTH and len(rules) == 1:
            adapt.observe("length_ack", rules[0], why)
        elif self.tx == M.TX_LENGTH:
            adapt.assume({"length_ack": rules[0]}, why)
        elif len(rules) == 1 and not self._places_twice(pkt):
            adapt.observe("data_seq", rules[0][0], why)
            adapt.observe("data_ack", rules[0][1], why)
        else:
            values = {"data_seq": rules[0][0], "data_ack": rules[0][1]}
            if self.element == 1:
                values["data_seq_gap"] = rules[0][2]
            adapt.assume(values, why)
        self.wire.adapted()

    def _standing(self) -> bool:
        """The peer re-ACKs where it stands: past the allowance for old copies, and twice,
        it refuses what the working rule numbered; try the next rule (or give up)."""
        refused = self.refused
        # the peer answers: it is there, only our numbers may be wrong
        self.timer.rto.reset_backoff()
        if not refused.standing() or refused.count < D.REFUSALS_PER_RULE:
            return True
        adapt = self.wire.adapt
        assert adapt is not None
        family = ("length", "numbering", "chunk_gap")[min(self.element, 2)]
        pkt = self.flight[0][2]
        what = f"peer re-ACKs {self.num.seq} to {self._what(pkt)}"
        if not adapt.try_next(family, what):
            self._give_up_dialect(what, family)
            return True
        self.wire.adapted()
        self.timer.retries = 0
        self.flight.clear()
        if self.element == 0:
            self._send_length()
        else:
            self.off, self.first = self.element_off, self.element == 1
            self._send_chunk()
        self.refused = refused  # the same segment again: the allowance is spent already
        refused.next_rule()
        refused.sent()
        return True

    def transmissions(self) -> int:
        """How often the one segment in flight was sent (a refusal is counted per send)."""
        return self.refused.sends

    def renumber(self) -> None:
        """The shared counter moved under the length segment in flight (auto tried another
        handshake rule): send it again where it now starts."""
        if self.tx == M.TX_LENGTH and len(self.flight) == 1:
            self.flight.clear()
            self._send_length()

    def _give_up_dialect(self, what: str, family: str) -> None:
        adapt = self.wire.adapt
        assert adapt is not None
        self.clear()
        self.owner.abort(adapt.give_up(what, family))

    def _what(self, pkt: bytes) -> str:
        """A segment as the diagnosis names it."""
        data = pkt[pkt.index(b"|||", 12) + 3 :]
        if self.element == 0:
            return f'LENGTH seq={self._wire_seq(pkt)} ("{data.decode("latin-1")}")'
        return f"DATA seq={self._wire_seq(pkt)} ({len(data)} bytes)"

    @staticmethod
    def _wire_seq(pkt: bytes) -> int:
        return int(pkt[12 : pkt.index(b"|||", 12)])

    def _answered(self, ack: int) -> None:
        """auto: the peer answered the one segment in flight as the working rule predicts:
        what that shows is confirmed (the numbering only where no other rule gives it)."""
        adapt = self.wire.adapt
        if adapt is None or (adapt.known(*_SETTLES[min(self.element, 2)]) and self.lengths):
            return  # nothing left to learn from this answer
        before = (adapt.current, len(adapt.confirmed), len(adapt.hints))
        start, _ack, pkt, _sent_at = self.flight[0]
        data = pkt[pkt.index(b"|||", 12) + 3 :]
        shown = f"peer answered {self._what(pkt)} with ACK {ack}"
        if self.element == 0:
            # the first length after the handshake may be taken as the handshake ACK (desync
            # a): only where the two split the numbers can it confirm its own gap
            if self.lengths:
                adapt.accepted("length", shown)
            self.lengths += 1
            fits = set(self._length_rules(start, len(data), ack))
            self.length_fits = fits if self.length_fits is None else self.length_fits & fits
            if len(self.length_fits) == 1:
                adapt.observe("length_ack", adapt.current.length_ack, shown)
            self._hint_handshake()
        elif self.element == 1:
            d = adapt.current
            sent: D.Numbering = "end" if d.data_seq == "end" else "start"
            if not self._places_twice(pkt):  # a short chunk may sit where two rules put it
                adapt.confirm(shown, "data_seq_gap")
                if len(D.chunk_ack_rules(self._wire_seq(pkt), len(data), ack, sent)) == 1:
                    adapt.observe("data_seq", d.data_seq, shown)
                    adapt.observe("data_ack", d.data_ack, shown)
        elif adapt.known("data_seq", "data_seq_gap"):
            adapt.accepted("chunk_gap", shown)
        if (adapt.current, len(adapt.confirmed), len(adapt.hints)) != before:
            self.wire.adapted()

    def _places_twice(self, pkt: bytes) -> bool:
        """A first chunk whose SEQ two placements of the space explain (1-2 bytes)."""
        data = pkt[pkt.index(b"|||", 12) + 3 :]
        return len(D.first_chunk_rules(self._wire_seq(pkt), len(data), self.num.seq)) > 1

    def _hint_handshake(self) -> None:
        """auto client: the first answer came once the handshake ACK also went to the
        listener: a hint (that copy may just have been the one not lost), never a finding."""
        adapt = self.wire.adapt
        assert adapt is not None
        why = "an answer after the handshake ACK was also sent to the listener"
        if (
            self.wire.helped
            and "handshake_ack_to" not in adapt.confirmed
            and adapt.hint("handshake_ack_to", "listener", why)
        ):
            self.wire.adapted()

    # ================================================================ table callbacks
    def fire(self, trigger: str) -> None:
        """Fire a declared trigger of the SENDER table on this sender."""
        _MACHINE.events[trigger].trigger(self)

    def on_transition(self, ev: Any) -> None:
        self.owner.before_transition("sender", ev)

    def reset_retries(self, _ev: Any = None) -> None:
        self.timer.retries = 0

    def can_retry(self, _ev: Any = None) -> bool:
        return self.timer.retries <= self.config.max_retries

    def is_empty_message(self, _ev: Any = None) -> bool:
        return self._front()[0] == 0

    def send_length_segment(self, _ev: Any = None) -> None:
        if self.unreached:  # its length went out ahead, behind the message before
            self.unreached -= 1
            if self._covered(self._front()[1]):
                self.fire("tx_length_acked")
            else:
                self.fill()
            return
        self.off, self.first = 0, True
        self.length_starts.clear()
        self.clear()
        if self.mode != STOP_AND_WAIT and self.cong is None:
            self.cong = Congestion(self.config.mss, self.config.cc)
            if self.owner.tracer is not None:
                self.cong.observer = self._on_congestion_change
                self._trace_cwnd()
        self.board = SackScoreboard(self.num.seq) if self.mode == SELECTIVE_REPEAT else None
        self._send_length()
        self.fill()  # windowed: the chunks go out behind the length at once

    def send_first_chunk(self, _ev: Any = None) -> None:
        """The length is acknowledged: send what the window allows, or finish at once when
        one cumulative ACK covered the whole message."""
        if self._message_done():
            self.fire("tx_last_chunk_acked")
        else:
            self.fill()

    def message_sent(self, _ev: Any = None) -> None:
        if self.behind:  # the segments of those cut behind it stay in flight
            length = self.behind.popleft()[0]
        else:
            length = len(self.msg)
            self.msg = b""
            self.clear()
        self.backlog -= length
        self.owner.message_sent(length)  # which starts the next, or a close

    def give_up(self, _ev: Any = None) -> None:
        self.clear()
        self.owner.abort(
            ConnectionTimeout(
                f"no ACK for SEQ {self.num.seq} from {self.owner.peer} after "
                f"{self.config.max_retries} retransmissions"
            )
        )

    def cancel_sends(self, _ev: Any = None) -> None:
        self.timer.deadline = None
        dropped = len(self.queue) + 1 + len(self.behind)
        self.drop_all()
        self.owner.set_error(
            ConnectionClosed(f"the peer closed; {dropped} message(s) not delivered")
        )

    def _on_congestion_change(self, trigger: str, src: str, dst: str) -> None:
        self.stats.transitions += 1
        self.owner.trace("transition", machine="congestion", trigger=trigger, src=src, dst=dst)
