"""Selective acknowledgement bookkeeping (RFC 2018), sans-IO, byte ranges only.

Both ends of PROTOCOL.md 6's Selective Repeat:

* :class:`SackReceiver` - the receiver's out-of-order ranges beyond its cumulative ACK and
  the SACK blocks an ACK reports, newest first (the caller keeps the bytes themselves);
* :class:`SackScoreboard` - the sender's view: what is cumulatively acknowledged or
  SACKed, and the holes still to resend, the first of them for fast retransmit.

A block is ``(left, right)``, right exclusive, as on the wire (``segment.format_sack``).
The scoreboard never believes more than the receiver said: a byte counts as delivered
only when an ACK covered it, so a lost, late or repeated ACK can hold a byte back from
``is_delivered`` but never put one the receiver lacks there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .errors import InvalidArgument
from .segment import MAX_SACK_BLOCKS

Block = tuple[int, int]


def _check(left: int, right: int) -> None:
    if not 0 <= left < right:
        raise InvalidArgument(f"a byte range needs 0 <= left < right, got {left}-{right}")


class SackReceiver:
    """The ranges a receiver holds beyond ``rcv_nxt``, most recently changed first."""

    __slots__ = ("_ranges", "rcv_nxt")

    def __init__(self, rcv_nxt: int = 0) -> None:
        #: The cumulative ACK: every byte below it is held in order.
        self.rcv_nxt = rcv_nxt
        # Disjoint, non-adjacent, all above rcv_nxt; the order is recency (RFC 2018 4).
        self._ranges: list[Block] = []

    def add(self, left: int, right: int) -> int:
        """The segment ``[left, right)`` arrived and the caller keeps its bytes.

        Returns the new cumulative ACK: past the segment if it was the next in order,
        and past every held range that then joins on (the caller delivers those too).
        """
        _check(left, right)
        if right <= self.rcv_nxt:
            return self.rcv_nxt  # a duplicate of what is already acknowledged
        if left <= self.rcv_nxt:
            self.rcv_nxt = right
            self._absorb_in_order()
        else:
            self._hold(left, right)
        return self.rcv_nxt

    def blocks(self, limit: int = MAX_SACK_BLOCKS) -> list[Block]:
        """The SACK blocks for the next ACK, newest first, at most ``limit``.

        RFC 2018 section 4: "The first SACK block ... MUST specify the contiguous block of
        data containing the segment which triggered this ACK" (unless it advanced the
        cumulative ACK), and the rest repeat the most recently reported ones.
        """
        return self._ranges[:limit]

    @property
    def held(self) -> int:
        """Bytes held out of order (what counts against a receive buffer)."""
        return sum(right - left for left, right in self._ranges)

    def _hold(self, left: int, right: int) -> None:
        # Merge with every range it overlaps or touches; the result is the newest block.
        keep: list[Block] = []
        for lo, hi in self._ranges:
            if hi < left or lo > right:
                keep.append((lo, hi))
            else:
                left, right = min(left, lo), max(right, hi)
        self._ranges = [(left, right), *keep]

    def _absorb_in_order(self) -> None:
        # The ranges starting at or below the segment's end join the in-order data. No
        # other one can join after them: held ranges neither overlap nor touch each other.
        keep: list[Block] = []
        for lo, hi in self._ranges:
            if lo <= self.rcv_nxt:
                self.rcv_nxt = max(self.rcv_nxt, hi)
            else:
                keep.append((lo, hi))
        self._ranges = keep


class SackScoreboard:
    """A sender's record of which bytes the receiver has said it holds (RFC 2018)."""

    __slots__ = ("_sacked", "snd_nxt", "snd_una")

    def __init__(self, snd_una: int = 0) -> None:
        #: The oldest byte not cumulatively acknowledged.
        self.snd_una = snd_una
        #: One past the highest byte ever sent.
        self.snd_nxt = snd_una
        # SACKed ranges above snd_una, sorted, disjoint and non-adjacent.
        self._sacked: list[Block] = []

    def sent(self, end: int) -> None:
        """Bytes up to ``end`` (exclusive) have been sent."""
        self.snd_nxt = max(self.snd_nxt, end)

    def on_ack(self, ack: int, blocks: Iterable[Block] = ()) -> bool:
        """An ACK with cumulative number ``ack`` and its SACK blocks; True if it advanced.

        An ACK of bytes never sent is ignored whole, and so is a block that reaches past
        ``snd_nxt``: neither can come from the receiver's data.
        """
        if ack > self.snd_nxt:
            return False
        advanced = ack > self.snd_una
        if advanced:
            self.snd_una = ack
            self._sacked = _clip(self._sacked, ack)
        for left, right in blocks:
            if left < right <= self.snd_nxt:
                self._mark(max(left, self.snd_una), right)
        return advanced

    def forget_sacks(self) -> None:
        """RFC 2018 section 8: after a retransmission timeout "the data sender SHOULD turn
        off all of the SACKed bits", since the receiver may have discarded (reneged) them."""
        self._sacked = []

    def has_sacks(self) -> bool:
        """The receiver reports holding something beyond the cumulative ACK (a hole)."""
        return bool(self._sacked)

    def is_delivered(self, seq: int) -> bool:
        """The byte at ``seq`` is cumulatively acknowledged or SACKed."""
        return seq < self.snd_una or any(lo <= seq < hi for lo, hi in self._sacked)

    def is_sacked(self, left: int, right: int) -> bool:
        """Every byte of ``[left, right)`` is acknowledged or SACKed: no need to resend it."""
        if right <= self.snd_una:
            return True
        left = max(left, self.snd_una)
        return any(lo <= left and right <= hi for lo, hi in self._sacked)

    def holes(self) -> list[Block]:
        """The ranges sent and neither acknowledged nor SACKed, oldest first."""
        holes: list[Block] = []
        start = self.snd_una
        for lo, hi in self._sacked:
            if start < lo:
                holes.append((start, lo))
            start = hi
        if start < self.snd_nxt:
            holes.append((start, self.snd_nxt))
        return holes

    def first_hole(self) -> Block | None:
        """What fast retransmit resends first (PROTOCOL.md 6), or None if nothing is missing."""
        holes = self.holes()
        return holes[0] if holes else None

    @property
    def sacked(self) -> list[Block]:
        return list(self._sacked)

    def _mark(self, left: int, right: int) -> None:
        if left >= right:
            return
        merged: list[Block] = []
        for lo, hi in self._sacked:
            if hi < left or lo > right:
                merged.append((lo, hi))
            else:
                left, right = min(left, lo), max(right, hi)
        merged.append((left, right))
        merged.sort()
        self._sacked = merged


def _clip(ranges: Sequence[Block], floor: int) -> list[Block]:
    """``ranges`` with every byte below ``floor`` removed."""
    return [(max(lo, floor), hi) for lo, hi in ranges if hi > floor]
