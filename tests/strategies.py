"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from fsm_tcp import dialects as D
from fsm_tcp.sim import DELAY, DELIVER, DROP, DUPLICATE, Fault

#: Extra latencies, in seconds: below, around and far above a loopback RTO.
DELAYS = (0.0005, 0.002, 0.005, 0.03)

faults = st.one_of(
    st.just(Fault(DELIVER)),
    st.just(Fault(DROP)),
    st.builds(Fault, st.just(DUPLICATE), st.sampled_from((0.0, *DELAYS))),
    st.builds(Fault, st.just(DELAY), st.sampled_from(DELAYS)),
)

#: A fault schedule: one entry per datagram sent, both directions, in send order.
schedules = st.lists(faults, max_size=48)

#: Messages, 0 B included, with bytes that stress the codec (separators, non-UTF-8).
messages = st.lists(
    st.one_of(
        st.binary(max_size=80),
        st.sampled_from([b"|||", b"|||0|||1|||", b"\xff\xfe\x00", "ñandú".encode()]),
    ),
    max_size=4,
)

buff_sizes = st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=4)


def drops(schedule: list[Fault]) -> int:
    return sum(1 for f in schedule if f.kind == DROP)


def _dialect(values: dict[str, Any]) -> D.Dialect:
    if values["data_seq"] == "segment" and values["data_ack"] == 0:
        values["data_ack"] = 1  # outside the space: an ACK that does not move past its SEQ
    return D.Dialect(name="drawn", summary="drawn from the space", **values)


#: A dialect drawn from the whole space (dialects.SPACE), not only the recorded profiles.
dialects = st.fixed_dictionaries({v: st.sampled_from(D.SPACE[v]) for v in D.VARIABLES}).map(
    _dialect
)
