"""fsm_tcp.spurious: each way a timeout shows spurious, and what leaves it standing."""

from __future__ import annotations

from fsm_tcp.spurious import SpuriousCheck


def test_an_ack_within_half_an_srtt_of_the_retransmission_shows_it_spurious() -> None:
    check = SpuriousCheck()
    check.arm(now=1.0, srtt=0.010, first=True)
    assert check.armed and check.shows(1.004, ack=100)
    assert not check.armed  # spent


def test_an_ack_a_round_trip_later_leaves_the_timeout_standing() -> None:
    check = SpuriousCheck()
    check.arm(now=1.0, srtt=0.010, first=True)
    assert not check.shows(1.006, ack=100)
    assert not check.armed


def test_an_ack_past_the_evidence_shows_it_spurious_whenever_it_comes() -> None:
    check = SpuriousCheck()
    check.arm(now=1.0, srtt=0.010, first=True, past=500)
    assert check.shows(5.0, ack=500)
    check.arm(now=1.0, srtt=0.010, first=True, past=500)
    assert not check.shows(5.0, ack=499)


def test_a_backed_off_timeout_or_no_rtt_arms_nothing() -> None:
    check = SpuriousCheck()
    check.arm(now=1.0, srtt=0.010, first=False, past=500)
    assert not check.armed
    check.arm(now=1.0, srtt=None, first=True, past=500)
    assert not check.armed and not check.shows(1.0, ack=10_000)
