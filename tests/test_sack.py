"""SACK blocks on the wire (PROTOCOL.md 6) and their bookkeeping at both ends (RFC 2018)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm_tcp.errors import InvalidArgument, MalformedSegment
from fsm_tcp.sack import SackReceiver, SackScoreboard
from fsm_tcp.segment import MAX_SACK_BLOCKS, encode, format_sack, parse, parse_sack


# ------------------------------------------------------------------ the codec
def test_the_protocol_example() -> None:
    wire = encode(False, True, False, 120, format_sack([(152, 184), (200, 216)]))
    assert wire == b"0|||1|||0|||120|||152-184,200-216"
    assert parse_sack(parse(wire).data) == [(152, 184), (200, 216)]


def test_an_ack_without_data_reports_no_blocks() -> None:
    assert format_sack([]) == b""
    assert parse_sack(b"") == []


def test_leading_zeros_are_accepted_as_in_a_seq() -> None:
    assert parse_sack(b"0152-0184") == [(152, 184)]


@pytest.mark.parametrize(
    "data",
    [
        b"152",  # no dash
        b"152-",
        b"-184",
        b"184-152",  # inverted
        b"152-152",  # empty
        b"1-2,",  # trailing comma
        b",1-2",
        b"1-2,,3-4",
        b"1-2 ,3-4",
        b"+1-2",
        b"1--2",
        b"1-2-3",
        b"a-b",
        b"1-" + b"9" * 25,  # longer than any SEQ
        b"1-2,3-4,5-6,7-8,9-10",  # five blocks
        b"1-2," * 10_000,
    ],
)
def test_malformed_blocks_raise_the_typed_error(data: bytes) -> None:
    with pytest.raises(MalformedSegment):
        parse_sack(data)


@pytest.mark.parametrize("blocks", [[(5, 5)], [(6, 5)], [(-1, 5)], [(1, 2)] * 5])
def test_blocks_that_cannot_be_sent_are_refused(blocks: list[tuple[int, int]]) -> None:
    with pytest.raises(MalformedSegment):
        format_sack(blocks)


blocks_lists = st.lists(
    st.tuples(st.integers(0, 10**18), st.integers(1, 10**6)).map(lambda b: (b[0], b[0] + b[1])),
    max_size=MAX_SACK_BLOCKS,
)


@given(blocks_lists)
def test_blocks_round_trip(blocks: list[tuple[int, int]]) -> None:
    assert parse_sack(format_sack(blocks)) == blocks


@given(st.binary(max_size=80))
def test_arbitrary_data_parses_or_raises_the_typed_error(data: bytes) -> None:
    try:
        blocks = parse_sack(data)
    except MalformedSegment:
        return
    # what parses is a list of real blocks, as many as the commas say
    assert len(blocks) == (data.count(b",") + 1 if data else 0) <= MAX_SACK_BLOCKS
    assert all(0 <= left < right for left, right in blocks)
    assert parse_sack(format_sack(blocks)) == blocks


# ------------------------------------------------------------------ receiver side
def test_in_order_data_only_moves_the_cumulative_ack() -> None:
    rx = SackReceiver(100)
    assert rx.add(100, 116) == 116
    assert rx.blocks() == []


def test_out_of_order_ranges_are_reported_newest_first() -> None:
    rx = SackReceiver(100)
    assert rx.add(132, 148) == 100
    assert rx.add(180, 196) == 100
    assert rx.blocks() == [(180, 196), (132, 148)]
    # RFC 2018 4: the block holding the segment that triggered the ACK comes first
    rx.add(148, 164)
    assert rx.blocks() == [(132, 164), (180, 196)]
    assert rx.held == 48


def test_a_repeated_out_of_order_segment_is_reported_first_again() -> None:
    rx = SackReceiver(0)
    rx.add(20, 30)
    rx.add(40, 50)
    rx.add(20, 30)
    assert rx.blocks() == [(20, 30), (40, 50)]


def test_ranges_merge_when_they_touch_or_overlap() -> None:
    rx = SackReceiver(0)
    rx.add(10, 20)
    rx.add(30, 40)
    rx.add(15, 35)
    assert rx.blocks() == [(10, 40)]


def test_at_most_four_blocks_the_most_recent_ones() -> None:
    rx = SackReceiver(0)
    for left in range(10, 70, 10):
        rx.add(left, left + 5)
    assert rx.blocks() == [(60, 65), (50, 55), (40, 45), (30, 35)]
    assert len(rx.blocks(limit=10)) == 6


def test_filling_the_hole_delivers_what_was_held() -> None:
    rx = SackReceiver(0)
    rx.add(16, 32)
    rx.add(48, 64)
    assert rx.add(0, 16) == 32  # the held 16..32 joins on
    assert rx.blocks() == [(48, 64)]
    assert rx.add(32, 48) == 64
    assert rx.blocks() == [] and rx.held == 0


def test_a_duplicate_below_the_cumulative_ack_changes_nothing() -> None:
    rx = SackReceiver(50)
    rx.add(70, 80)
    assert rx.add(10, 50) == 50
    assert rx.blocks() == [(70, 80)]


def test_an_empty_range_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        SackReceiver().add(5, 5)


# ------------------------------------------------------------------ sender side
def _board(una: int, nxt: int) -> SackScoreboard:
    board = SackScoreboard(una)
    board.sent(nxt)
    return board


def test_without_sack_the_first_hole_is_everything_unacknowledged() -> None:
    board = _board(100, 164)
    assert board.first_hole() == (100, 164)
    assert board.on_ack(116)
    assert board.holes() == [(116, 164)]
    assert not board.on_ack(116)  # a duplicate ACK


def test_sacked_ranges_are_skipped_and_holes_remain() -> None:
    board = _board(100, 200)
    board.on_ack(100, [(132, 148), (164, 180)])
    assert board.holes() == [(100, 132), (148, 164), (180, 200)]
    assert board.first_hole() == (100, 132)
    assert board.is_sacked(132, 148) and board.is_sacked(170, 180)
    assert not board.is_sacked(140, 150)
    assert board.is_delivered(99) and board.is_delivered(132) and not board.is_delivered(148)


def test_a_cumulative_ack_absorbs_sacked_ranges_below_it() -> None:
    board = _board(0, 100)
    board.on_ack(0, [(20, 40), (60, 80)])
    board.on_ack(50)
    assert board.sacked == [(60, 80)]
    assert board.holes() == [(50, 60), (80, 100)]
    board.on_ack(100)
    assert board.first_hole() is None and board.sacked == []


def test_claims_about_bytes_never_sent_are_ignored() -> None:
    board = _board(0, 100)
    assert not board.on_ack(150)  # ACK of unsent data
    board.on_ack(0, [(90, 110), (10, 20)])  # the first block reaches past snd_nxt
    assert board.snd_una == 0 and board.sacked == [(10, 20)]


def test_a_stale_ack_does_not_move_the_cumulative_point_back() -> None:
    board = _board(0, 100)
    board.on_ack(60)
    assert not board.on_ack(20, [(30, 40)])
    assert board.snd_una == 60 and board.sacked == []


def test_a_timeout_forgets_sacks_in_case_the_receiver_reneged() -> None:
    board = _board(0, 100)
    board.on_ack(0, [(40, 60)])
    board.forget_sacks()
    assert board.holes() == [(0, 100)]


# ------------------------------------------------------------------ both ends
@st.composite
def transfers(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]], list[int]]:
    """A message cut into segments, what arrives of it in which order (with repeats and
    losses), and the order in which the ACKs those arrivals cause reach the sender."""
    mss = draw(st.integers(1, 24))
    length = draw(st.integers(1, 300))
    segments = [(left, min(left + mss, length)) for left in range(0, length, mss)]
    # Segments as cut, and arbitrary ranges too (a resegmenting sender, or an off-by-one
    # waiting for a one-byte gap).
    ranges = st.tuples(st.integers(0, length - 1), st.integers(1, 2 * mss)).map(
        lambda r: (r[0], min(r[0] + r[1], length))
    )
    arrivals = draw(st.lists(st.sampled_from(segments) | ranges, max_size=3 * len(segments) + 4))
    acks = draw(st.lists(st.integers(0, max(len(arrivals) - 1, 0)), max_size=len(arrivals)))
    return length, arrivals, acks if arrivals else []


@given(transfers(), st.integers(0, 1000))
def test_the_sender_never_treats_a_byte_the_receiver_lacks_as_delivered(
    transfer: tuple[int, list[tuple[int, int]], list[int]], base: int
) -> None:
    length, arrivals, ack_order = transfer
    rx = SackReceiver(base)
    board = SackScoreboard(base)
    board.sent(base + length)
    held: set[int] = set()
    acks = []
    for left, right in arrivals:
        rx.add(base + left, base + right)
        held.update(range(base + left, base + right))
        _check_receiver(rx, held, base, (base + left, base + right))
        acks.append((rx.rcv_nxt, rx.blocks()))
    for i in ack_order:  # ACKs lost, repeated and reordered on the way back
        ack, blocks = acks[i]
        board.on_ack(ack, blocks)
        lacked = set(range(base, base + length)) - held
        assert not any(board.is_delivered(b) for b in lacked)
        # ... so each byte the receiver lacks is in a hole the sender will resend
        in_holes = {b for lo, hi in board.holes() for b in range(lo, hi)}
        assert lacked <= in_holes
        first = board.first_hole()
        assert first is None or first[0] == min(in_holes)


def _check_receiver(rx: SackReceiver, held: set[int], base: int, segment: tuple[int, int]) -> None:
    """The cumulative ACK claims only held bytes; blocks are held, disjoint, newest first."""
    assert set(range(base, rx.rcv_nxt)) <= held and rx.rcv_nxt not in held
    blocks = rx.blocks()
    assert len(blocks) <= MAX_SACK_BLOCKS
    covered: set[int] = set()
    for left, right in blocks:
        assert rx.rcv_nxt < left < right
        assert set(range(left, right)) <= held
        assert covered.isdisjoint(range(left - 1, right + 1))  # merged: not even adjacent
        covered.update(range(left, right))
    if segment[0] > rx.rcv_nxt:  # an out-of-order arrival is reported first
        assert blocks[0][0] <= segment[0] and segment[1] <= blocks[0][1]
    # ranges not reported for want of room are still held and counted
    assert rx.held == len([b for b in held if b >= rx.rcv_nxt])
