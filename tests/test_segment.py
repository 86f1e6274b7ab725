"""Segment codec, PROTOCOL.md section 1."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm_tcp.errors import MalformedSegment
from fsm_tcp.segment import MAX_DATAGRAM, Segment, encode, parse

flags = st.booleans()
seqs = st.integers(min_value=0, max_value=10**19)


@given(flags, flags, flags, seqs, st.binary(max_size=2048))
def test_round_trip_for_any_bytes(syn: bool, ack: bool, fin: bool, seq: int, data: bytes) -> None:
    wire = encode(syn, ack, fin, seq, data)
    assert parse(wire) == Segment(syn, ack, fin, seq, data)
    assert parse(wire).encode() == wire


@given(st.binary(max_size=200).map(lambda b: b"|||" + b + b"|||"))
def test_separators_inside_data_survive(data: bytes) -> None:
    assert parse(encode(False, False, False, 7, data)).data == data


@given(st.binary(max_size=300))
def test_arbitrary_datagrams_parse_or_raise_the_typed_error(datagram: bytes) -> None:
    try:
        seg = parse(datagram)
    except MalformedSegment:
        return
    # What parses is a real segment: its canonical form parses back to the same thing.
    assert parse(seg.encode()) == seg
    assert seg.data == datagram.split(b"|||", 4)[4]


@given(st.lists(st.sampled_from([b"0", b"1", b"|||", b"12", b"x", b"-1", b""]), max_size=9))
def test_near_misses_parse_or_raise_the_typed_error(parts: list[bytes]) -> None:
    with contextlib.suppress(MalformedSegment):
        parse(b"".join(parts))


def test_the_course_examples() -> None:
    assert parse(b"1|||0|||0|||98|||") == Segment(True, False, False, 98, b"")
    assert parse(b"0|||1|||0|||115|||") == Segment(False, True, False, 115)
    assert encode(False, False, False, 98, b"Mensaje de largo 19"[:16]) == (
        b"0|||0|||0|||98|||Mensaje de largo"
    )


def test_leading_zeros_are_accepted() -> None:
    assert parse(b"0|||1|||0|||061|||").seq == 61


@pytest.mark.parametrize(
    ("datagram", "why"),
    [
        (b"0|||0|||0|||5", "expected 5 fields"),
        (b"", "expected 5 fields"),
        (b"2|||0|||0|||5|||", "flags must be 0 or 1"),
        (b"0|||true|||0|||5|||", "flags must be 0 or 1"),
        (b"0|||0|||0|||-5|||", "SEQ must be"),
        (b"0|||0|||0|||+5|||", "SEQ must be"),
        (b"0|||0|||0||| 5|||", "SEQ must be"),
        (b"0|||0|||0|||||||", "SEQ must be"),
        (b"0|||0|||0|||" + b"9" * 21 + b"|||", "SEQ must be"),
        (b"0|||0|||0|||5|||" + b"x" * MAX_DATAGRAM, "oversize datagram"),
    ],
)
def test_malformed_datagrams_say_what_is_wrong(datagram: bytes, why: str) -> None:
    with pytest.raises(MalformedSegment, match=why):
        parse(datagram)


def test_negative_seq_cannot_be_encoded() -> None:
    with pytest.raises(MalformedSegment):
        encode(False, False, False, -1)
