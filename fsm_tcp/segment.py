"""Segment codec, PROTOCOL.md section 1: ``SYN|||ACK|||FIN|||SEQ|||DATA``, bytes in, bytes out.

DATA is never decoded: it may hold any byte, ``|||`` included, so a datagram is split on its
first four separators only.
"""

from __future__ import annotations

from collections.abc import Sequence
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


# ------------------------------------------------------------------------- SACK blocks
#: PROTOCOL.md 6: an ACK reports at most 4 SACK blocks (as many as TCP's option holds).
MAX_SACK_BLOCKS = 4


def format_sack(blocks: Sequence[tuple[int, int]]) -> bytes:
    """The DATA of an ACK that reports ``blocks`` (newest first): ``b"152-184,200-216"``.

    Each block is ``(left, right)``, right exclusive (PROTOCOL.md 6, after RFC 2018).
    """
    if len(blocks) > MAX_SACK_BLOCKS:
        raise MalformedSegment(f"at most {MAX_SACK_BLOCKS} SACK blocks, got {len(blocks)}")
    for left, right in blocks:
        if not 0 <= left < right:
            raise MalformedSegment(f"a SACK block needs 0 <= left < right, got {left}-{right}")
    return b",".join(b"%d-%d" % block for block in blocks)


def parse_sack(data: bytes) -> list[tuple[int, int]]:
    """The SACK blocks in an ACK's DATA, in the order sent; empty DATA reports none."""
    if not data:
        return []
    # maxsplit bounds the work a long run of commas can cause
    parts = data.split(b",", MAX_SACK_BLOCKS)
    if len(parts) > MAX_SACK_BLOCKS:
        raise MalformedSegment(f"more than {MAX_SACK_BLOCKS} SACK blocks")
    return [_sack_block(part) for part in parts]


def _sack_block(part: bytes) -> tuple[int, int]:
    left, sep, right = part.partition(b"-")
    if not (sep and _is_seq(left) and _is_seq(right)):
        raise MalformedSegment(f"a SACK block is LEFT-RIGHT in ASCII digits, got {part[:48]!r}")
    block = int(left), int(right)
    if block[0] >= block[1]:
        raise MalformedSegment(f"an empty or inverted SACK block: {part[:48]!r}")
    return block


def _is_seq(text: bytes) -> bool:
    # the same rule as a segment's SEQ: ASCII digits only, no sign, bounded length
    return text.isdigit() and len(text) <= MAX_SEQ_DIGITS
