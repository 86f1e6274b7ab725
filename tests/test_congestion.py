"""Congestion control: the course's own check for every MSS, one test per RFC 5681 rule."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm_tcp import CongestionControl
from fsm_tcp import machines as M
from fsm_tcp.congestion import DUP_THRESH, Algorithm, Congestion
from fsm_tcp.errors import InvalidArgument


def _round_of_acks(cc: CongestionControl) -> None:
    """One ACK per MSS in cwnd, counted when the round starts (the course's loop)."""
    for _ in range(cc.get_MSS_in_cwnd()):
        cc.event_ack_received()


def _course_check(m: int) -> list[str]:
    """PROTOCOL.md 6, the course's check; returns what failed (empty when all holds)."""
    cc = CongestionControl(m)
    bad = []
    if (cc.get_cwnd(), cc.get_MSS_in_cwnd(), cc.get_ssthresh()) != (m, 1, None):
        bad.append("initial")
    if not cc.is_state_slow_start():
        bad.append("initial state")
    for _ in range(3):
        _round_of_acks(cc)
    if (cc.get_cwnd(), cc.get_MSS_in_cwnd()) != (8 * m, 8):
        bad.append(f"three rounds: cwnd {cc.get_cwnd()}")
    cc.event_timeout()
    if (cc.get_cwnd(), cc.get_MSS_in_cwnd(), cc.get_ssthresh()) != (m, 1, 4 * m):
        bad.append(f"timeout: cwnd {cc.get_cwnd()} ssthresh {cc.get_ssthresh()}")
    if not cc.is_state_slow_start():
        bad.append("timeout state")
    for _ in range(3):
        _round_of_acks(cc)
    if (cc.get_cwnd(), cc.get_MSS_in_cwnd()) != (5 * m, 5):
        bad.append(f"three more rounds: cwnd {cc.get_cwnd()}")
    if not cc.is_state_congestion_avoidance():
        bad.append("congestion avoidance state")
    cc.event_timeout()
    if (cc.get_cwnd(), cc.get_MSS_in_cwnd(), cc.get_ssthresh()) != (m, 1, int(5 / 2 * m)):
        bad.append(f"timeout in CA: ssthresh {cc.get_ssthresh()}")
    if not cc.is_state_slow_start():
        bad.append("state after the timeout in CA")
    return bad


def test_the_course_check_holds_for_every_mss_from_7_to_999() -> None:
    failures = {m: bad for m in range(7, 1000) if (bad := _course_check(m))}
    assert failures == {}


def test_the_course_check_is_not_vacuous() -> None:
    """The check catches the usual mistake: cwnd doubling per ACK in slow start."""
    cc = CongestionControl(8)
    cc.event_ack_received()
    cc.event_ack_received()
    assert cc.get_cwnd() == 3 * 8  # one MSS per ACK, not doubling
    assert _course_check(8) == []


def test_the_course_class_offers_the_sender_helpers_of_its_model() -> None:
    cc = CongestionControl(10, "reno")
    cc.on_ack(10)
    cc.on_ack(10)
    assert cc.window_segments() == cc.get_MSS_in_cwnd() == 3
    assert [cc.on_dup_ack() for _ in range(3)] == [False, False, True]
    assert cc.is_state_fast_recovery() and not cc.is_state_slow_start()
    assert (cc.get_ssthresh(), cc.get_cwnd()) == (20, 50)
    cc.on_timeout(flight_size=60)
    assert (cc.get_ssthresh(), cc.get_cwnd()) == (30, 10) and cc.is_state_slow_start()
    assert CongestionControl(10).model.algorithm == "tahoe"  # the course's by default


# ------------------------------------------------------------------ RFC 5681 3.1
def test_initial_window_is_one_mss_and_ssthresh_unset() -> None:
    model = Congestion(100)
    assert (model.cwnd, model.ssthresh, model.cc, model.window_segments()) == (
        100,
        None,
        M.SLOW_START,
        1,
    )


def test_slow_start_adds_min_of_acked_bytes_and_mss_per_ack() -> None:
    """RFC 5681 (2): cwnd += min(N, SMSS)."""
    model = Congestion(10)
    model.on_ack(3)  # a short segment (a length segment's digits)
    assert model.cwnd == 13
    model.on_ack(50)  # a cumulative ACK of five segments still adds one MSS
    assert model.cwnd == 23
    assert model.cc == M.SLOW_START  # no ssthresh yet: slow start goes on


def test_slow_start_ends_when_cwnd_reaches_ssthresh() -> None:
    model = Congestion(10)
    for _ in range(3):
        model.on_ack(10)  # 40
    model.on_timeout()  # ssthresh 20, cwnd 10
    model.on_ack(10)
    assert (model.cwnd, model.cc) == (20, M.CONGESTION_AVOIDANCE)


def test_congestion_avoidance_adds_one_mss_per_window_of_acks() -> None:
    """RFC 5681 (3) with cwnd in whole segments: each ACK adds MSS/n, n ACKs add MSS."""
    model = _in_congestion_avoidance(mss=10, cwnd_segments=3)
    seen = []
    for _ in range(3):
        model.on_ack(10)
        seen.append(model.cwnd)
    assert seen == [33, 36, 40]  # 10/3 per ACK, the remainder carried: exactly +10
    for _ in range(4):
        model.on_ack(10)
    assert model.cwnd == 50
    assert model.cc == M.CONGESTION_AVOIDANCE


def test_congestion_avoidance_growth_of_a_short_ack_is_a_share() -> None:
    model = _in_congestion_avoidance(mss=10, cwnd_segments=2)
    model.on_ack(4)  # 4 bytes of a 10-byte segment: 4/2 = 2 bytes
    assert model.cwnd == 22


def test_timeout_halves_into_ssthresh_and_collapses_cwnd() -> None:
    """RFC 5681 (4): ssthresh = max(FlightSize/2, 2*SMSS); cwnd = LW = 1 segment."""
    model = Congestion(10)
    for _ in range(5):
        model.on_ack(10)  # 60
    model.on_timeout()
    assert (model.ssthresh, model.cwnd, model.cc) == (30, 10, M.SLOW_START)


def test_timeout_halves_the_flight_size_when_the_sender_gives_it() -> None:
    model = Congestion(10)
    for _ in range(7):
        model.on_ack(10)  # cwnd 80, but only 50 bytes in flight
    model.on_timeout(flight_size=50)
    assert model.ssthresh == 25


def test_ssthresh_is_never_below_two_segments() -> None:
    model = Congestion(10)
    model.on_timeout()  # cwnd 1 MSS: half would be 5 bytes
    assert model.ssthresh == 20
    assert model.cc == M.SLOW_START
    model.on_ack(10)
    assert model.cc == M.CONGESTION_AVOIDANCE


def test_timeout_in_congestion_avoidance_goes_back_to_slow_start() -> None:
    model = _in_congestion_avoidance(mss=10, cwnd_segments=4)
    model.on_timeout()
    assert (model.cc, model.cwnd, model.ssthresh) == (M.SLOW_START, 10, 20)


# ------------------------------------------------------------------ RFC 5681 3.2
@pytest.mark.parametrize("algorithm", ["tahoe", "reno"])
def test_fast_retransmit_after_exactly_three_duplicate_acks(algorithm: Algorithm) -> None:
    model = _grown(algorithm, mss=10, cwnd_segments=8)
    answers = [model.on_dup_ack() for _ in range(6)]
    assert answers == [False, False, True, False, False, False]
    assert model.dup_acks == 6


def test_an_ack_of_new_data_resets_the_duplicate_count() -> None:
    model = _grown("tahoe", mss=10, cwnd_segments=8)
    assert [model.on_dup_ack(), model.on_dup_ack()] == [False, False]
    model.on_ack(10)
    assert [model.on_dup_ack(), model.on_dup_ack()] == [False, False]
    assert model.on_dup_ack() is True


def test_tahoe_three_duplicate_acks_are_a_timeout_plus_fast_retransmit() -> None:
    for cwnd_segments in (1, 3, 8, 9):
        by_dups = _grown("tahoe", mss=10, cwnd_segments=cwnd_segments)
        by_timer = _grown("tahoe", mss=10, cwnd_segments=cwnd_segments)
        assert [by_dups.on_dup_ack() for _ in range(3)][-1] is True
        by_timer.on_timeout()
        assert by_dups.trace_fields() == by_timer.trace_fields()
        # ... and they go on alike
        for _ in range(5):
            by_dups.on_ack(10)
            by_timer.on_ack(10)
        assert by_dups.trace_fields() == by_timer.trace_fields()


def test_tahoe_further_duplicates_after_fast_retransmit_do_not_halve_again() -> None:
    model = _grown("tahoe", mss=10, cwnd_segments=8)
    for _ in range(3):
        model.on_dup_ack()
    assert (model.ssthresh, model.cwnd) == (40, 10)
    for _ in range(5):
        assert model.on_dup_ack() is False
    assert (model.ssthresh, model.cwnd, model.cc) == (40, 10, M.SLOW_START)


def test_reno_fast_recovery() -> None:
    """RFC 5681 3.2 steps 2-6: halve, inflate by 3 MSS, +1 MSS per duplicate, deflate."""
    model = _grown("reno", mss=10, cwnd_segments=8)
    assert [model.on_dup_ack() for _ in range(3)] == [False, False, True]
    assert (model.cc, model.ssthresh, model.cwnd) == (M.FAST_RECOVERY, 40, 70)
    assert [model.on_dup_ack() for _ in range(2)] == [False, False]  # no new retransmit
    assert model.cwnd == 90
    model.on_ack(10)  # the retransmission arrived
    assert (model.cc, model.cwnd, model.ssthresh) == (M.CONGESTION_AVOIDANCE, 40, 40)
    assert model.dup_acks == 0
    for _ in range(4):
        model.on_ack(10)
    assert model.cwnd == 50  # congestion avoidance from there


def test_reno_halves_the_flight_size_when_the_sender_gives_it() -> None:
    model = _grown("reno", mss=10, cwnd_segments=8)
    model.on_dup_ack()
    model.on_dup_ack()
    assert model.on_dup_ack(flight_size=60) is True
    assert (model.ssthresh, model.cwnd) == (30, 60)


def test_reno_timeout_in_fast_recovery_is_slow_start() -> None:
    model = _grown("reno", mss=10, cwnd_segments=8)
    for _ in range(3):
        model.on_dup_ack()
    model.on_timeout()
    assert (model.cc, model.cwnd, model.dup_acks) == (M.SLOW_START, 10, 0)


# ------------------------------------------------------------------ a spurious timeout
def test_undoing_a_spurious_timeout_restores_cwnd_ssthresh_and_the_stage() -> None:
    model = _in_congestion_avoidance(mss=10, cwnd_segments=4)
    before = (model.cc, model.cwnd, model.ssthresh)
    model.on_timeout()
    assert model.undo_timeout()
    assert (model.cc, model.cwnd, model.ssthresh) == before
    assert not model.undo_timeout()  # once per timeout


def test_undoing_a_timeout_in_the_first_slow_start_leaves_ssthresh_unset() -> None:
    model = _grown("reno", mss=10, cwnd_segments=4)
    assert model.ssthresh is None
    model.on_timeout()
    assert model.undo_timeout()
    assert (model.cc, model.cwnd, model.ssthresh) == (M.SLOW_START, 40, None)


def test_undoing_a_timeout_in_fast_recovery_keeps_no_inflation() -> None:
    model = _grown("reno", mss=10, cwnd_segments=8)
    for _ in range(4):
        model.on_dup_ack()  # fast recovery, inflated by the fourth
    ssthresh = model.ssthresh
    model.on_timeout()
    assert model.undo_timeout()
    assert (model.cc, model.cwnd, model.ssthresh) == (M.CONGESTION_AVOIDANCE, ssthresh, ssthresh)


def test_a_timeout_is_not_undone_once_its_slow_start_is_left() -> None:
    model = _grown("reno", mss=10, cwnd_segments=8)
    model.on_timeout()
    for _ in range(3):
        model.on_dup_ack()  # a loss after the timeout: fast recovery
    assert not model.undo_timeout()
    assert model.cc == M.FAST_RECOVERY


def test_every_stage_change_is_a_declared_transition_seen_by_the_observer() -> None:
    seen: list[tuple[str, str, str]] = []
    model = _grown("reno", mss=10, cwnd_segments=4)
    model.observer = lambda *edge: seen.append(edge)
    model.on_timeout()
    model.on_ack(10)  # 20 = ssthresh
    for _ in range(3):
        model.on_dup_ack()
    model.on_ack(10)
    assert seen == [
        ("timeout", M.SLOW_START, M.SLOW_START),
        ("reach_ssthresh", M.SLOW_START, M.CONGESTION_AVOIDANCE),
        ("three_dup_acks", M.CONGESTION_AVOIDANCE, M.FAST_RECOVERY),
        ("recovery_ack", M.FAST_RECOVERY, M.CONGESTION_AVOIDANCE),
    ]
    growth_only: list[Any] = []
    model.observer = lambda *edge: growth_only.append(edge)
    model.on_ack(10)  # growth is bookkeeping: no transition
    assert growth_only == []


@pytest.mark.parametrize(
    ("args", "message"),
    [((0,), "MSS"), ((-8,), "MSS"), ((8, "vegas"), "algorithm")],
)
def test_bad_settings_are_refused(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Congestion(*args)


def test_an_ack_of_no_new_data_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        Congestion(8).on_ack(0)


# ------------------------------------------------------------------ invariants
events = st.lists(
    st.one_of(
        st.tuples(st.just("ack"), st.integers(1, 3000)),
        st.tuples(st.just("dup"), st.none() | st.integers(0, 100_000)),
        st.tuples(st.just("timeout"), st.none() | st.integers(0, 100_000)),
    ),
    max_size=80,
)


@given(st.sampled_from(["tahoe", "reno"]), st.integers(1, 1500), events)
def test_cwnd_never_below_one_mss_and_the_stage_follows_cwnd_vs_ssthresh(
    algorithm: Algorithm, mss: int, script: list[tuple[str, int | None]]
) -> None:
    model = Congestion(mss, algorithm)
    edges: list[tuple[str, str, str]] = []
    model.observer = lambda trigger, src, dst: edges.append((src, trigger, dst))
    for kind, value in script:
        if kind == "ack":
            assert value is not None
            model.on_ack(value)
        elif kind == "dup":
            model.on_dup_ack(value)
        else:
            model.on_timeout(value)
        assert model.cwnd >= mss and model.window_segments() >= 1
        _assert_stage_matches_the_numbers(model)
    assert set(edges) <= M.CONGESTION.edges()
    if algorithm == "tahoe":
        assert model.cc != M.FAST_RECOVERY


def _assert_stage_matches_the_numbers(model: Congestion) -> None:
    if model.cc == M.SLOW_START:
        assert model.ssthresh is None or model.cwnd < model.ssthresh
    elif model.cc == M.CONGESTION_AVOIDANCE:
        assert model.ssthresh is not None and model.cwnd >= model.ssthresh
    else:
        assert model.ssthresh is not None
        assert model.cwnd >= model.ssthresh + DUP_THRESH * model.mss
    assert model.ssthresh is None or model.ssthresh >= 2 * model.mss


# ------------------------------------------------------------------ helpers
def _grown(algorithm: Algorithm, mss: int, cwnd_segments: int) -> Congestion:
    """A model in slow start with no ssthresh, grown to cwnd_segments * mss."""
    model = Congestion(mss, algorithm)
    for _ in range(cwnd_segments - 1):
        model.on_ack(mss)
    assert (model.cwnd, model.cc) == (cwnd_segments * mss, M.SLOW_START)
    return model


def _in_congestion_avoidance(mss: int, cwnd_segments: int) -> Congestion:
    """A model that just entered congestion avoidance at exactly cwnd_segments * mss."""
    model = _grown("tahoe", mss, 2 * cwnd_segments)
    model.on_timeout()  # ssthresh = cwnd_segments * mss
    for _ in range(cwnd_segments - 1):
        model.on_ack(mss)
    assert (model.cwnd, model.cc) == (cwnd_segments * mss, M.CONGESTION_AVOIDANCE)
    return model
