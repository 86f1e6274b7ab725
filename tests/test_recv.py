"""recv(buff_size) semantics of PROTOCOL.md 3 at the engine level, for any buff_size."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fsm_tcp.sim import run_lifecycle

lengths = st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=5)
sizes = st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=6)


@given(lengths, sizes, st.integers(min_value=0, max_value=255))
def test_every_recv_returns_min_of_remaining_and_buff_size(
    message_lengths: list[int], buff_sizes: list[int], fill: int
) -> None:
    sent = [bytes((fill + i + j) % 256 for j in range(n)) for i, n in enumerate(message_lengths)]
    out = run_lifecycle(sent, buff_sizes=buff_sizes)
    assert out.violations == [] and out.received == sent
    # replay the reads: each returned exactly min(remaining of the message, buff_size)
    calls = iter(out.chunks)
    for message in sent:
        remaining = len(message)
        while True:
            size, got = next(calls)
            assert got == min(remaining, size) <= size
            remaining -= got
            if remaining == 0:
                break
    assert next(calls, None) is None


def test_recv_of_one_byte_at_a_time_loses_nothing() -> None:
    sent = [bytes(range(256)) * 3, b"", b"x"]
    out = run_lifecycle(sent, buff_sizes=[1])
    assert out.received == sent
    assert all(got <= 1 for _, got in out.chunks)


def test_the_course_reads() -> None:
    sent = [b"Mensje de len=16", b"Mensaje de largo 19", b"Mensaje de largo 19"]
    out = run_lifecycle(sent, buff_sizes=[16, 19, 14, 14])
    assert out.received == sent
    assert out.chunks == [(16, 16), (19, 19), (14, 14), (14, 5)]
