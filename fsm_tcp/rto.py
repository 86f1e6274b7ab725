"""Retransmission timeout per RFC 6298, one rule per method, each rule cited.

Plain arithmetic, no clock: callers pass measured round-trip times in seconds.
"""

from __future__ import annotations

from .errors import InvalidArgument

#: RFC 6298 section 2: "alpha=1/8 and beta=1/4 (as suggested in [JK88])" and K = 4.
ALPHA = 1 / 8
BETA = 1 / 4
K = 4


class RtoEstimator:
    """SRTT / RTTVAR / RTO state of one connection, with Karn back-off (RFC 6298)."""

    __slots__ = (
        "_backoff",
        "_base",
        "granularity",
        "max_rto",
        "min_rto",
        "rto",
        "rttvar",
        "srtt",
    )

    def __init__(
        self,
        initial_rto: float = 1.0,
        min_rto: float = 1.0,
        max_rto: float = 60.0,
        granularity: float = 0.0001,
    ) -> None:
        if not 0 < min_rto <= max_rto:
            raise InvalidArgument(f"need 0 < min_rto <= max_rto, got {min_rto} and {max_rto}")
        if initial_rto <= 0:
            raise InvalidArgument(f"initial_rto must be positive, got {initial_rto}")
        self.min_rto = min_rto
        self.max_rto = max_rto
        self.granularity = granularity
        self.srtt: float | None = None
        self.rttvar: float | None = None
        # (2.1) "Until a round-trip time (RTT) measurement has been made for a segment sent
        # between the sender and receiver, the sender SHOULD set RTO <- 1 second";
        # configurable, as the value is only a conservative default.
        self._base = initial_rto
        self._backoff = 1
        #: The timeout to arm now; kept current by every method that changes its inputs,
        #: since a sender reads it once per segment and they change less often.
        self.rto = self._current()

    def _current(self) -> float:
        """The computed RTO times the back-off, capped (2.5)."""
        return min(self._base * self._backoff, self.max_rto)

    def sample(self, r: float) -> None:
        """Feed one RTT measurement R. Callers must apply Karn's rule (see ``karn_ok``)."""
        if r < 0:
            raise InvalidArgument(f"an RTT sample cannot be negative, got {r}")
        if self.srtt is None or self.rttvar is None:
            # (2.2) first measurement: SRTT <- R, RTTVAR <- R/2.
            self.srtt = r
            self.rttvar = r / 2
        else:
            # (2.3) RTTVAR is updated before SRTT, since it uses the old SRTT.
            self.rttvar = (1 - BETA) * self.rttvar + BETA * abs(self.srtt - r)
            self.srtt = (1 - ALPHA) * self.srtt + ALPHA * r
        # (2.2)/(2.3) RTO <- SRTT + max (G, K*RTTVAR)  (computed here, not in a method of
        # its own: a stop-and-wait sender samples once per segment)
        rto = self.srtt + max(self.granularity, K * self.rttvar)
        # (2.4) "Whenever RTO is computed, if it is less than 1 second, then the RTO SHOULD
        # be rounded up to 1 second" - the floor is min_rto, 1 s by default here; lower
        # floors are allowed for LAN and loopback use (the RFC's SHOULD, not MUST).
        # (2.5) "A maximum value MAY be placed on RTO provided it is at least 60 seconds."
        self.rto = self._base = min(max(rto, self.min_rto), self.max_rto)
        # The note after (5.7): a new measurement recomputes RTO per section 2, "which may
        # result in 'collapsing' RTO back down after it has been doubled".
        self._backoff = 1

    def back_off(self) -> None:
        """(5.5) On timer expiry: "set RTO <- RTO * 2 ("back off the timer")", capped (2.5)."""
        if self._base * self._backoff < self.max_rto:
            self._backoff *= 2
            self.rto = self._current()

    def reset_backoff(self) -> None:
        """New data was acknowledged: the path works again, so drop the back-off.

        Under Karn's rule (section 3) a retransmitted segment yields no sample, so by the
        RFC alone the doubled RTO persists until some segment goes through untouched. In a
        stop-and-wait sender at 20% loss that is most of the time; resetting as soon as new
        data is acknowledged (as Linux does) keeps one loss from slowing every later segment.
        RFC 6298 (5.7), re-initialising RTO to 3 s after a SYN timeout, is deliberately not
        applied: the initial RTO is configurable for LAN and loopback use.
        """
        self._backoff = 1
        self.rto = self._current()

    @staticmethod
    def karn_ok(retransmitted: bool) -> bool:
        """(3) Karn's algorithm: never take an RTT sample from a retransmitted segment."""
        return not retransmitted
