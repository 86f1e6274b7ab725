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

STOP_AND_WAIT = "stop_and_wait"
GO_BACK_N = "go_back_n"
SELECTIVE_REPEAT = "selective_repeat"
MODES = (STOP_AND_WAIT, GO_BACK_N, SELECTIVE_REPEAT)

_MACHINE = M.build(M.SENDER)

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
        "backlog",
        "behind",
        "board",
        "cong",
        "data_base",
        "first",
        "flight",
        "length_ack",
        "length_arith",
        "length_pkt",
        "length_start",
        "lost_from",
        "lost_to",
        "mode",
        "msg",
        "off",
        "queue",
        "refusal_stamp",
        "refusals",
        "snd_nxt",
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
        #: auto: the length-ACK arithmetics every length ACK so far fits (dialects.PROBES);
        #: messages are cut ahead only once one is left, since the next message's length
        #: is numbered by it before its ACK can say otherwise. None for a fixed dialect.
        self.length_arith: set[int | None] | None = None
        self.msg = b""
        self.mode = STOP_AND_WAIT
        self.off = 0  # bytes of msg put into segments so far
        self.first = True  # the next chunk is the message's first (a dialect may gap it)
        self.flight: deque[Flight] = deque()
        self.ack_wire = NEVER  # stop-and-wait: the ACK of the chunk in flight, as bytes
        self.snd_nxt = 0  # where the next segment starts while others are in flight
        self.length_ack = 0  # the ACK that covers this message's length segment
        self.length_start = 0  # the SEQ of this message's length segment
        self.length_pkt = b""
        self.data_base = 0  # SEQ of the message's first data byte (progress only)
        self.refusals = 0
        self.refusal_stamp = -1  # stats.segments_sent when a refusal was last counted
        self.cong: Congestion | None = None  # made by the first windowed message
        self.board: SackScoreboard | None = None  # Selective Repeat's view of the receiver
        # Selective Repeat after a timeout: the segments in flight then that end at or below
        # lost_to (RFC 6675's RecoveryPoint) and start at or above lost_from (its HighRxt:
        # what has been resent since) are deemed lost and wait for the window to resend them.
        self.lost_from = self.lost_to = 0
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
        elif self.mode != STOP_AND_WAIT and flight and ack == self.num.seq:
            self._dup_ack(seg)
        elif not (self.wire.tolerant and self.tx == M.TX_LENGTH and self._adapt_length_ack(seg)):
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

    def window_ack(self, data: bytes) -> bool:
        """A windowed sender's fast path: a plain cumulative ACK of new data, read from its
        bytes (no Segment, no SACK blocks: those, duplicates and anything else take the
        general path, which does the same with a parsed segment)."""
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
        self._acked_to(ack, None)
        return True

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
            cong.on_timeout(self._flight_bytes())
            self._trace_cwnd()
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

    def drop_all(self) -> None:
        """The connection ended: nothing queued or in flight will be sent."""
        self.queue.clear()
        self.clear()
        self.backlog = 0

    def clear(self) -> None:
        self.flight.clear()
        self.ack_wire = NEVER
        self.behind.clear()
        self.unreached = 0

    # ================================================================ windows
    def _limit(self) -> int:
        """W: how many segments may be unacknowledged (PROTOCOL.md 6)."""
        cong = self.cong
        if self.mode == STOP_AND_WAIT or cong is None or not self.wire.canonical_numbering():
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
            or (self.wire.adapt is not None and self.length_arith != {None})
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

    def _acked_to(self, ack: int, seg: Segment | None) -> None:
        """A cumulative ACK of new data: slide over every segment it covers."""
        num, flight = self.num, self.flight
        sent_at, covered, acked, resent = -1.0, num.seq, 0, False
        while flight and flight[0][1] <= ack:
            _start, covered, _pkt, sent_at = flight.popleft()
            acked += 1
            resent = resent or sent_at < 0.0
        # An RTT sample from the newest segment covered (Karn: never a resent one), unless
        # the ACK jumped over a repaired hole (a resent segment among those covered, or
        # many at once): the newest was held by the receiver meanwhile, and its round trip
        # is not the path's (at 20% loss such samples drove the RTO to a second).
        self.timer.acked(sent_at if acked <= 2 and not resent else -1.0)
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
            for _ in range(min(acked, 2)):
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
            if self.wire.adapt is not None:
                self._length_taken()
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
        flight.append((start, ack_at, pkt, timer.now))
        if self.board is not None:
            self.board.sent(ack_at)
        self.out.emit(pkt)

    def _send_length(self) -> None:
        wire = self.wire
        d = wire.dialect
        digits = b"%d" % len(self.msg)
        # where the segment before it ended: ahead, the last one of the message before
        s = (self.snd_nxt if self.flight else self.num.seq) + d.length_seq_gap
        self.length_start = s
        self.length_ack = self.snd_nxt = d.length_ack_for(s, len(digits))
        self.data_base = self.length_ack + d.data_seq_gap
        self.length_pkt = pkt = wire.f_data % s + digits
        self._transmit(s, self.length_ack, pkt)

    def _send_chunk(self) -> None:
        wire, flight, timer = self.wire, self.flight, self.timer
        start = self.snd_nxt if flight else self.num.seq
        if self.first:
            self.first = False
            start += wire.dialect.data_seq_gap
        off = self.off
        chunk = self.msg[off : off + (wire.chunk or wire.chunk_size(start))]
        n = len(chunk)
        self.off = off + n
        self.snd_nxt = end = start + n
        if self.mode == STOP_AND_WAIT:
            self.ack_wire = wire.f_ack % end  # what the fast path will match
        self.stats.payload_bytes_sent += n
        pkt = wire.f_chunk % (start if wire.at_start else end, chunk)
        # _transmit written out: this runs once per segment
        if not flight:
            timer.arm()
        flight.append((start, end, pkt, timer.now))
        if self.board is not None:
            self.board.sent(end)
        self.out.emit(pkt)

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
    def _adapt_length_ack(self, seg: Segment) -> bool:
        """auto: the ACK of our length segment in another arithmetic (s+1, s+2 ...), or the
        peer re-ACKing where it stands because it expects the length elsewhere."""
        wire, flight = self.wire, self.flight
        adapt = wire.adapt
        assert adapt is not None
        if len(flight) != 1:
            return False
        s, _ack_at, pkt, sent_at = flight[0]
        digits = len(pkt) - pkt.rindex(b"|") - 1
        # one segment in flight, and every stale ACK is at or below s: any ACK a little above
        # s is the peer taking our length in its arithmetic
        if s < seg.seq <= s + digits + 3:
            # the length went where we sent it: that comes first, so what is inferred from
            # the ACK's arithmetic agrees with the numbering the peer took
            adapt.accepted("length_seq_gap", pkt)
            wire.observe("length_ack", None if seg.seq == s + digits else seg.seq - s)
            flight[0] = (s, seg.seq, pkt, sent_at)
            self.length_ack = seg.seq
            self._acked_to(seg.seq, None)
            return True
        if seg.seq != self.num.seq:
            return False
        if self.stats.segments_sent == self.refusal_stamp:
            return True  # a copy of a refusal already counted: one per transmission
        self.refusal_stamp = self.stats.segments_sent
        self.refusals += 1  # the peer re-ACKs where it stands: it refused our length
        if self.refusals >= 2 and adapt.probe("length_seq_gap"):
            self.refusals = 0
            wire.adapted()
            flight.clear()
            self._send_length()
            return True
        return False

    def _length_taken(self) -> None:
        """auto: the peer took our length segment: its numbering is confirmed, and a
        handshake ACK sent to the listener is what made the peer answer."""
        wire = self.wire
        adapt = wire.adapt
        assert adapt is not None
        adapt.accepted("length_seq_gap", self.length_pkt)
        if adapt.current != wire.dialect:
            wire.adapted()
        adapt.confirm("length_ack")
        digits = len(self.length_pkt) - self.length_pkt.rindex(b"|") - 1
        fits = set(D.length_ack_fits(self.length_start, digits, self.length_ack))
        self.length_arith = fits if self.length_arith is None else self.length_arith & fits
        # a hint only: the ACK to the connection socket may just have been lost
        why = "an answer after the handshake ACK was also sent to the listener"
        if (
            wire.helped
            and "handshake_ack_to" not in adapt.confirmed
            and adapt.hint("handshake_ack_to", "listener", why)
        ):
            wire.adapted()

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
        self.off, self.first, self.refusals = 0, True, 0
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
