"""Was that retransmission timeout spurious? (RFC 4015's detection, two ways, no timestamps.)

A windowed sender's timer can expire while nothing was lost: the receiver stalled (a busy
process, a file write) and its ACKs come late. The timeout collapsed cwnd and marked the
whole flight lost; if the first ACK of new data after it shows the originals arrived, the
sender undoes that (RFC 4015's response). Pure: numbers in, a verdict out.
"""

from __future__ import annotations

#: Segments beyond the one a timeout resent whose ACK shows that timeout spurious, if no
#: duplicate ACK came before it: eight such answers all lost has odds of 3e-6 at 20% loss.
EVIDENCE = 8


class SpuriousCheck:
    """Armed by a flight's first timeout, asked by the first ACK of new data after it."""

    __slots__ = ("past", "until")

    def __init__(self) -> None:
        self.until = 0.0  # an ACK of new data before this shows it (0.0: not armed)
        self.past = 0  # an ACK at or above this shows it, whenever it comes (0: no test)

    @property
    def armed(self) -> bool:
        return self.until > 0.0

    def arm(self, now: float, srtt: float | None, first: bool, past: int = 0) -> None:
        """A timeout at ``now``, the flight's ``first`` (not a backed-off one).

        FreeBSD's "bad retransmit" test (tcp_input.c, t_badrxtwin): an ACK of new data
        within half an SRTT of the retransmission cannot be for it, no round trip being
        that short. ``past``: where a sender that resent the oldest segment alone, and had
        no duplicate ACK before the timer expired, finds an ACK earned by segments sent
        once only (F-RTO's reasoning, RFC 5682): the end of the EVIDENCE-th segment after
        the oldest; 0 for none."""
        if not first or srtt is None:
            self.until, self.past = 0.0, 0
            return
        self.until, self.past = now + srtt / 2, past

    def shows(self, now: float, ack: int) -> bool:
        """The first ACK of new data since the timeout: True if the timeout was spurious.
        Either way the check is spent."""
        spurious = now < self.until or (self.past > 0 and ack >= self.past)
        self.until, self.past = 0.0, 0
        return spurious
