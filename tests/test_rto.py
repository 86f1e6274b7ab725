"""The RTO estimator, one test per RFC 6298 rule it implements."""

from __future__ import annotations

import pytest

from fsm_tcp.errors import InvalidArgument
from fsm_tcp.rto import RtoEstimator


def test_2_1_initial_rto_before_any_measurement() -> None:
    assert RtoEstimator().rto == 1.0
    assert RtoEstimator(initial_rto=0.25, min_rto=0.001).rto == 0.25


def test_2_2_first_measurement() -> None:
    est = RtoEstimator(min_rto=0.001, granularity=0.0001)
    est.sample(0.1)
    assert est.srtt == 0.1
    assert est.rttvar == 0.05
    assert est.rto == pytest.approx(0.1 + 4 * 0.05)


def test_2_2_clock_granularity_bounds_the_variance_term() -> None:
    est = RtoEstimator(min_rto=0.0001, granularity=0.05)
    est.sample(0.002)  # K*RTTVAR = 0.004 < G
    assert est.rto == pytest.approx(0.002 + 0.05)


def test_2_3_subsequent_measurements_update_rttvar_with_the_old_srtt() -> None:
    est = RtoEstimator(min_rto=0.001)
    est.sample(0.1)
    est.sample(0.2)
    rttvar = 0.75 * 0.05 + 0.25 * abs(0.1 - 0.2)
    srtt = 0.875 * 0.1 + 0.125 * 0.2
    assert est.rttvar == pytest.approx(rttvar)
    assert est.srtt == pytest.approx(srtt)
    assert est.rto == pytest.approx(srtt + 4 * rttvar)


def test_2_4_rto_is_rounded_up_to_the_minimum() -> None:
    est = RtoEstimator()  # RFC default floor: 1 s
    est.sample(0.01)
    assert est.rto == 1.0
    low = RtoEstimator(min_rto=0.2)
    low.sample(0.01)
    assert low.rto == 0.2


def test_2_5_rto_has_a_maximum() -> None:
    est = RtoEstimator(min_rto=0.001, max_rto=60.0)
    est.sample(50.0)
    assert est.rto == 60.0


def test_3_karn_rejects_retransmitted_segments() -> None:
    assert RtoEstimator.karn_ok(retransmitted=False)
    assert not RtoEstimator.karn_ok(retransmitted=True)


def test_5_5_back_off_doubles_up_to_the_maximum() -> None:
    est = RtoEstimator(initial_rto=1.0, max_rto=5.0)
    seen = []
    for _ in range(5):
        est.back_off()
        seen.append(est.rto)
    assert seen == [2.0, 4.0, 5.0, 5.0, 5.0]


def test_new_sample_collapses_the_back_off() -> None:
    est = RtoEstimator(min_rto=0.001)
    est.sample(0.1)
    est.back_off()
    est.back_off()
    assert est.rto == pytest.approx(4 * 0.3)
    est.sample(0.1)
    assert est.rto < 0.3


def test_reset_backoff_when_new_data_is_acknowledged() -> None:
    est = RtoEstimator(min_rto=0.001)
    est.sample(0.1)
    before = est.rto
    est.back_off()
    assert est.rto == pytest.approx(2 * before)
    est.reset_backoff()
    assert est.rto == pytest.approx(before)


@pytest.mark.parametrize(
    "kwargs", [{"min_rto": 0}, {"min_rto": 2, "max_rto": 1}, {"initial_rto": 0}]
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgument):
        RtoEstimator(**kwargs)


def test_negative_sample_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        RtoEstimator().sample(-0.1)
