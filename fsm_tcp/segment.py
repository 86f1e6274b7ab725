"""Segment codec, PROTOCOL.md section 1: ``SYN|||ACK|||FIN|||SEQ|||DATA``, bytes in, bytes out.

DATA is never decoded: it may hold any byte, ``|||`` included, so a datagram is split on its
first four separators only.
"""

from __future__ import annotations

from typing import NamedTuple

from .errors import MalformedSegment

SEP = b"|||"
#: Receive buffers are fixed (PROTOCOL.md section 1): no datagram can be larger than this.
MAX_DATAGRAM = 65536
#: A SEQ longer than this is not a number any implementation produces; refusing it keeps
#: int() from spending time on megabytes of digits.
MAX_SEQ_DIGITS = 20
_FLAG = {b"0": False, b"1": True}


class Segment(NamedTuple):
    """One parsed segment. A NamedTuple: it is built once per datagram, so it must be cheap."""

    syn: bool
    ack: bool
    fin: bool
    seq: int
    data: bytes = b""

    def encode(self) -> bytes:
        return encode(self.syn, self.ack, self.fin, self.seq, self.data)

    def flags(self) -> str:
        """Short human name of the flag combination, for logs and charts."""
        names = [n for n, on in (("SYN", self.syn), ("ACK", self.ack), ("FIN", self.fin)) if on]
        return "+".join(names) or "DATA"


def encode(syn: bool, ack: bool, fin: bool, seq: int, data: bytes = b"") -> bytes:
    """The canonical wire form of a segment."""
    if seq < 0:
        raise MalformedSegment(f"SEQ must be non-negative, got {seq}")
    return b"%d|||%d|||%d|||%d|||%b" % (syn, ack, fin, seq, data)


def parse(datagram: bytes, max_size: int = MAX_DATAGRAM) -> Segment:
    """Parse one datagram, or raise MalformedSegment saying what is wrong with it."""
    if len(datagram) > max_size:
        raise MalformedSegment(f"oversize datagram: {len(datagram)} bytes > {max_size}")
    parts = datagram.split(SEP, 4)
    if len(parts) != 5:
        raise MalformedSegment(f"expected 5 fields separated by '|||', got {len(parts)}")
    syn, ack, fin, seq, data = parts
    try:
        flags = (_FLAG[syn], _FLAG[ack], _FLAG[fin])
    except KeyError:
        raise MalformedSegment(f"flags must be 0 or 1, got {syn!r}, {ack!r}, {fin!r}") from None
    # bytes.isdigit() accepts ASCII digits only, so '+1', ' 1' and '-1' are refused;
    # leading zeros ('061') are accepted, as PROTOCOL.md asks.
    if not seq.isdigit() or len(seq) > MAX_SEQ_DIGITS:
        raise MalformedSegment(f"SEQ must be 1..{MAX_SEQ_DIGITS} ASCII digits, got {seq[:24]!r}")
    return Segment(flags[0], flags[1], flags[2], int(seq), data)
