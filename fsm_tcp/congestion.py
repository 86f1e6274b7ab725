"""Congestion control per RFC 5681, as the course fixes it (PROTOCOL.md section 6).

The stage (slow start, congestion avoidance, Reno's fast recovery) is the ``congestion``
machine of :mod:`fsm_tcp.machines`; this module holds the arithmetic beside it. Growth of
cwnd per ACK is plain bookkeeping; only a change of stage fires a trigger, and the callbacks
the table names (``collapse_window``, ``enter_fast_recovery``, ``deflate_window``) are methods
of :class:`Congestion`. Pure arithmetic: no clock, no I/O; cwnd and ssthresh count bytes.

Where the course's arithmetic and RFC 5681 differ, the course's rule is kept and said so:

* cwnd starts at 1 MSS (the RFC's (IW) allows up to 4 segments);
* an ACK in slow start adds 1 MSS when it acknowledges a full segment;
* in congestion avoidance each full-segment ACK adds MSS / (cwnd in whole MSS): that is
  the RFC's equation (3), SMSS*SMSS/cwnd, with cwnd rounded down to whole segments, so a
  window's worth of ACKs adds exactly 1 MSS. The fraction of a byte is carried through the
  window, so with full-segment ACKs ``cwnd`` is the course's exact value rounded down.

The course's check (PROTOCOL.md 6) holds for every MSS: ``tests/test_congestion.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from . import machines as M
from .errors import InvalidArgument

Algorithm = Literal["tahoe", "reno"]
ALGORITHMS: tuple[Algorithm, ...] = ("tahoe", "reno")
#: RFC 5681 3.2: "a TCP receiver ... the arrival of 3 duplicate ACKs" (DupThresh, RFC 6675).
DUP_THRESH = 3
#: Called with (trigger, source, destination) on every stage change, for traces and debug.
Observer = Callable[[str, str, str], None]

# One machine for every sender in the process: building one costs about a millisecond,
# firing ``events[t].trigger(model)`` tens of microseconds (as in fsm_tcp.engine).
_MACHINE = M.build(M.CONGESTION)


class Congestion:
    """cwnd, ssthresh and the duplicate-ACK count of one sender; the algorithm is data."""

    __slots__ = (
        "_carry",
        "_dup_acks",
        "_flight",
        "_saved",
        "algorithm",
        "cc",
        "cwnd",
        "mss",
        "observer",
        "ssthresh",
    )

    def __init__(self, mss: int, algorithm: Algorithm = "tahoe") -> None:
        if mss <= 0:
            raise InvalidArgument(f"MSS must be a positive number of bytes, got {mss}")
        if algorithm not in ALGORITHMS:
            raise InvalidArgument(f"unknown algorithm {algorithm!r}; choose tahoe or reno")
        self.mss = mss
        self.algorithm: Algorithm = algorithm
        # The stage; only the shared machine above changes it after this initial value.
        self.cc = M.CONGESTION.initial
        # RFC 5681 3.1 (IW): the course starts with one segment.
        self.cwnd = mss
        # RFC 5681 3.1: "The initial value of ssthresh SHOULD be set arbitrarily high";
        # None is that, and what the course's get_ssthresh() returns before the first loss.
        self.ssthresh: int | None = None
        self.observer: Observer | None = None
        self._dup_acks = 0
        #: Fraction of a byte owed by congestion avoidance, in units of 1/(cwnd // mss).
        self._carry = 0
        #: The FlightSize of the loss being handled (set just before a loss trigger fires).
        self._flight = mss
        #: (cwnd, ssthresh) before the last timeout, while it may yet prove spurious.
        self._saved: tuple[int, int | None] | None = None

    # ------------------------------------------------------------ what a sender calls
    def on_ack(self, new_bytes: int) -> None:
        """An ACK that acknowledges ``new_bytes`` of previously unacknowledged data."""
        if new_bytes <= 0:
            raise InvalidArgument(f"an ACK of new data acknowledges > 0 bytes, got {new_bytes}")
        self._dup_acks = 0
        if self.cc == M.FAST_RECOVERY:
            self._fire("recovery_ack")
        elif self.cc == M.SLOW_START:
            self._grow_slow_start(new_bytes)
        else:
            self._grow_congestion_avoidance(new_bytes)

    def on_dup_ack(self, flight_size: int | None = None) -> bool:
        """A duplicate ACK; True when the sender must fast-retransmit the first hole now.

        ``flight_size``: bytes sent and not yet acknowledged, if the sender knows it; the
        RFC halves that, the course halves cwnd (the same for a sender that fills cwnd).
        """
        self._dup_acks += 1
        if self.cc == M.FAST_RECOVERY:
            # RFC 5681 3.2 step 4: "For each additional duplicate ACK received (after the
            # third), cwnd MUST be incremented by SMSS": a segment has left the network.
            self.cwnd += self.mss
            return False
        if self._dup_acks != DUP_THRESH:
            # Only the third fires: later ones belong to the same loss (Tahoe is already
            # back in slow start, so counting to 3 again would halve twice for one loss).
            return False
        self._flight = self.cwnd if flight_size is None else flight_size
        self._fire("three_dup_acks")
        # RFC 5681 3.2 step 2: "The lost segment starting at SND.UNA MUST be retransmitted".
        return True

    def on_timeout(self, flight_size: int | None = None) -> None:
        """The retransmission timer expired (RFC 5681 3.1, after RFC 6298 5.4-5.6).

        ``flight_size`` as for ``on_dup_ack``; in fast recovery cwnd is inflated by the
        duplicates, so a sender there should pass it (RFC 5681 warns against halving cwnd).
        """
        self._dup_acks = 0
        self._flight = self.cwnd if flight_size is None else flight_size
        # what undo_timeout restores (fast recovery's inflation is not kept: RFC 5681 3.2
        # step 6 would have deflated it to ssthresh)
        held = self.ssthresh if self.cc == M.FAST_RECOVERY else None
        self._saved = (held or self.cwnd, self.ssthresh)
        self._fire("timeout")

    def undo_timeout(self) -> bool:
        """The last timeout was spurious: the segment it resent had arrived (the sender
        decides: see Sender._check_spurious). cwnd and ssthresh go back to what they were,
        as FreeBSD's "bad retransmit" recovery and RFC 4015's Eifel response do, so that
        a receiver's stall costs no slow start. False (nothing done) unless the sender is
        still in the slow start that timeout began."""
        if self._saved is None or self.cc != M.SLOW_START:
            self._saved = None
            return False
        self._fire("spurious_timeout")
        return True

    def window_segments(self) -> int:
        """cwnd in whole segments: how many a Go-Back-N sender may have unacknowledged."""
        return self.cwnd // self.mss

    @property
    def dup_acks(self) -> int:
        """Duplicate ACKs seen since the last ACK of new data."""
        return self._dup_acks

    def trace_fields(self) -> dict[str, Any]:
        """The fields of a ``cwnd`` trace record (fsm_tcp.plot reads them)."""
        return {
            "cwnd": self.cwnd,
            "ssthresh": self.ssthresh,
            "state": self.cc,
            "window": self.window_segments(),
        }

    # ------------------------------------------------------------ growth: bookkeeping
    def _grow_slow_start(self, new_bytes: int) -> None:
        # RFC 5681 (2): "cwnd += min (N, SMSS)"; the course's ACK acknowledges one MSS.
        self.cwnd += min(new_bytes, self.mss)
        # RFC 5681 3.1: slow start "when cwnd < ssthresh", congestion avoidance "when cwnd
        # > ssthresh", either at equality: the course moves on when cwnd reaches ssthresh.
        if self.ssthresh is not None and self.cwnd >= self.ssthresh:
            self._fire("reach_ssthresh")

    def _grow_congestion_avoidance(self, new_bytes: int) -> None:
        # RFC 5681 (3): cwnd += SMSS*SMSS/cwnd, with cwnd in whole segments n as the course
        # counts it: SMSS/n per full-segment ACK, a share of that for a shorter one. The
        # remainder is carried in units of 1/n byte so that n ACKs add exactly SMSS.
        n = self.cwnd // self.mss
        total = self._carry + min(new_bytes, self.mss)
        self.cwnd += total // n
        # A change of n (cwnd crossed a whole segment) ends the window the carry was
        # counted in; what is left of it is under one byte.
        self._carry = total % n if self.cwnd // self.mss == n else 0

    # ------------------------------------------------------------ the table's callbacks
    def on_transition(self, ev: Any) -> None:
        """``machines.build`` makes every machine call this before each transition."""
        if self.observer is not None:
            tr = ev.transition
            self.observer(ev.event.name, tr.source, tr.dest or tr.source)

    def restart_growth(self, _ev: Any = None) -> None:
        """Entering a stage: a fraction of a byte owed to the old window is not carried on."""
        self._carry = 0

    def is_reno(self, _ev: Any = None) -> bool:
        """Reno's rule for three duplicate ACKs (fast recovery) instead of Tahoe's."""
        return self.algorithm == "reno"

    def _halve(self) -> int:
        # RFC 5681 (4): "ssthresh = max (FlightSize / 2, 2*SMSS)". The course halves cwnd
        # and states no floor; the floor changes nothing at cwnd >= 4 MSS (all of the
        # course's check) and keeps slow start meaningful after a loss at a tiny window.
        return max(self._flight // 2, 2 * self.mss)

    def collapse_window(self, _ev: Any = None) -> None:
        """A timeout, or Tahoe's three duplicate ACKs: ssthresh halves, cwnd = 1 MSS."""
        self.ssthresh = self._halve()
        # RFC 5681 3.1: after a timeout "cwnd MUST be set to no more than the loss window,
        # LW, which equals 1 full-sized segment".
        self.cwnd = self.mss

    def enter_fast_recovery(self, _ev: Any = None) -> None:
        """Reno, RFC 5681 3.2 steps 2-3: ssthresh halves, cwnd = ssthresh + 3*SMSS."""
        self.ssthresh = self._halve()
        # "This artificially 'inflates' the congestion window by the number of segments
        # (three) that have left the network and which the receiver has buffered."
        self.cwnd = self.ssthresh + DUP_THRESH * self.mss

    def undoes_to_avoidance(self, _ev: Any = None) -> bool:
        """The window a spurious timeout collapsed was past ssthresh."""
        assert self._saved is not None  # set by on_timeout
        cwnd, ssthresh = self._saved
        return ssthresh is not None and cwnd >= ssthresh

    def restore_window(self, _ev: Any = None) -> None:
        assert self._saved is not None
        self.cwnd, self.ssthresh = self._saved
        self._saved = None

    def deflate_window(self, _ev: Any = None) -> None:
        """Reno, RFC 5681 3.2 step 6: on the ACK of new data, "set cwnd to ssthresh"."""
        assert self.ssthresh is not None  # set on entering fast recovery
        self.cwnd = self.ssthresh

    def _fire(self, trigger: str) -> None:
        _MACHINE.events[trigger].trigger(self)


class CongestionControl:
    """The course's class (PROTOCOL.md 6), a thin face over :class:`Congestion`.

    ``event_ack_received()`` is an ACK of one full MSS of new data. The sender helpers
    (``on_ack``, ``on_dup_ack``, ``on_timeout``, ``window_segments``) are the model's own.
    """

    def __init__(self, MSS: int, algorithm: Algorithm = "tahoe") -> None:
        self.model = Congestion(MSS, algorithm)
        self.MSS = MSS

    # ------------------------------------------------------------ the course's API

    def get_cwnd(self) -> int:
        return self.model.cwnd

    def get_MSS_in_cwnd(self) -> int:
        return self.model.window_segments()

    def get_ssthresh(self) -> int | None:
        return self.model.ssthresh

    def event_ack_received(self) -> None:
        self.model.on_ack(self.MSS)

    def event_timeout(self) -> None:
        self.model.on_timeout()

    def is_state_slow_start(self) -> bool:
        return self.model.cc == M.SLOW_START

    def is_state_congestion_avoidance(self) -> bool:
        return self.model.cc == M.CONGESTION_AVOIDANCE

    def is_state_fast_recovery(self) -> bool:
        return self.model.cc == M.FAST_RECOVERY

    # ------------------------------------------------------------ what a sender uses
    def on_ack(self, new_bytes: int) -> None:
        self.model.on_ack(new_bytes)

    def on_dup_ack(self, flight_size: int | None = None) -> bool:
        return self.model.on_dup_ack(flight_size)

    def on_timeout(self, flight_size: int | None = None) -> None:
        self.model.on_timeout(flight_size)

    def window_segments(self) -> int:
        return self.model.window_segments()
