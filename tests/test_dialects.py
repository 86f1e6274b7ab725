"""Dialects: every profile against auto, in both roles, on the simulator.

A profile is spoken by fsm_tcp's own engine, so each run is auto against a faithful model of
that dialect's wire arithmetic (its numbering, addresses, shapes and padding). Safety is
asserted for every schedule; liveness where the dialect itself recovers (PROFILE_RECOVERS).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from strategies import buff_sizes, drops, messages, schedules

from fsm_tcp import dialects as D
from fsm_tcp.engine import Config
from fsm_tcp.errors import FsmTcpError, InvalidArgument
from fsm_tcp.sim import Fault, Outcome, run_lifecycle

TIMERS = dict(initial_rto=0.2, min_rto=0.2, max_rto=2.0, max_retries=10)
AUTO = Config(**TIMERS)  # type: ignore[arg-type]
NAMES = [*D.PROFILES, *D.EXTRA]
ROLES = ("auto-client", "auto-server")
#: The recorded message sizes: 1-, 2- and 3-digit lengths, and an empty message.
SIZES = (5, 50, 150, 0)
#: The long hypothesis profile runs the matrix at full size; CI takes a bounded slice.
EXAMPLES = (
    None
    if os.environ.get("FSM_TCP_HYPOTHESIS") == "long"
    else int(os.environ.get("FSM_TCP_DIALECT_EXAMPLES", "150"))
)


def configs(name: str, role: str) -> tuple[Config, Config]:
    """(client config, server config) with auto on the side ``role`` names."""
    profile = Config(dialect=name, **TIMERS)  # type: ignore[arg-type]
    return (AUTO, profile) if role == "auto-client" else (profile, AUTO)


def lifecycle(name: str, role: str, sent: list[bytes], schedule: list[Fault] = (),
              sizes: list[int] | None = None) -> Outcome:  # fmt: skip
    client, server = configs(name, role)
    return run_lifecycle(
        sent,
        schedule,
        config=client,
        server_config=server,
        buff_sizes=sizes or [16],
        until=3600.0,
    )


def message(size: int) -> bytes:
    """Bytes that stress the codec: separators, a split UTF-8 character, non-UTF-8."""
    pattern = b"ab|||" + "ñ".encode() + b"\xff\x00" + bytes(range(48, 58))
    return (pattern * (size // len(pattern) + 1))[:size]


def auto_end(out: Outcome, role: str) -> object:
    return out.client if role == "auto-client" else out.server


# ----------------------------------------------------------------------------- data
def test_every_profile_is_a_value_of_the_same_variables() -> None:
    for profile in (*D.PROFILES.values(), *D.EXTRA.values()):
        assert set(profile.values()) == set(D.VARIABLES)
    # six recorded dialects, each different from canonical and from each other
    values = [tuple(p.values().items()) for p in D.PROFILES.values()]
    assert len(D.PROFILES) == 7 and len(set(values)) == 7


def test_unknown_dialect_is_refused_with_the_choices() -> None:
    with pytest.raises(InvalidArgument, match="choose one of: auto, canonical"):
        Config(dialect="D7")


# ------------------------------------------------------------------ every dialect, no loss
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", NAMES)
def test_auto_talks_to_every_dialect_in_both_roles(name: str, role: str, size: int) -> None:
    sent = [message(size)]
    out = lifecycle(name, role, sent)
    assert out.received == sent and out.violations == []
    assert out.client_error is None and out.server_error is None
    assert out.client_closed and out.server_closed


@pytest.mark.parametrize("name", NAMES)
def test_a_conversation_of_several_messages_each_way_of_the_lifecycle(name: str) -> None:
    sent = [message(n) for n in (1, 17, 0, 140, 9)]
    for role in ROLES:
        out = lifecycle(name, role, sent, sizes=[3, 16, 50])
        assert out.received == sent and out.client_error is None and out.server_error is None


#: What auto, as client and as server, can see of each profile with one 50-byte message:
#: the variables it reports. Empty: the dialect looks canonical from that side. (Where
#: the handshake ACK goes stays a hint on both sides: a client cannot see where the server
#: awaits it, a server cannot tell the one copy from a copy also sent to the listener.)
DETECTED = {
    ("canonical", "auto-client"): set(),
    ("canonical", "auto-server"): set(),
    ("four-final-acks", "auto-client"): set(),
    ("four-final-acks", "auto-server"): set(),
    ("zero-padded", "auto-client"): {"seq_width"},
    ("zero-padded", "auto-server"): {"seq_width"},
    ("listener-ack-filler", "auto-client"): {"control_filler"},
    ("listener-ack-filler", "auto-server"): {"control_filler"},
    ("listener-ack-plus2", "auto-server"): {"last_flag"},
    ("own-isn-four-way", "auto-client"): {"synack_seq", "close_base", "close_shape"},
    ("own-isn-four-way", "auto-server"): {"handshake_ack_offset"},
    # one message cannot show a client where a length goes (the first one may have been
    # taken as the handshake ACK), nor which of two lengths' ACK rules s+1 was
    ("end-numbered", "auto-client"): {"data_seq_gap", "data_seq"},
    ("end-numbered", "auto-server"): {"length_seq_gap", "length_ack", "data_seq", "fin_seq_gap"},
    ("segment-numbered", "auto-client"): {"length_ack", "data_seq", "data_ack"},
    ("segment-numbered", "auto-server"): {"length_ack", "data_seq", "data_ack"},
    ("synthetic", "auto-client"): {"seq_width", "control_filler", "length_ack"},
    ("synthetic", "auto-server"): {"seq_width", "control_filler", "length_ack", "last_flag"},
}


@pytest.mark.parametrize("name", NAMES)
def test_auto_reports_what_deviates_and_where_it_saw_it(name: str) -> None:
    profile = D.resolve(name)
    assert profile is not None
    for role in ROLES:
        out = lifecycle(name, role, [message(50)])
        conn = auto_end(out, role)
        # what it saw (what it only worked with is listed too, marked inferred)
        findings = [f for f in conn.dialect_findings if not f.inferred]  # type: ignore[attr-defined]
        for f in findings:
            # every value auto settled on is the dialect's own, and says what showed it
            assert getattr(profile, f.variable) == f.value, (role, f)
            assert f.segment
        expected = DETECTED.get((name, role))
        if expected is not None:
            assert {f.variable for f in findings} >= expected, (role, findings)
        assert not any(f.hint for f in findings)  # a hint is not a finding


# ------------------------------------------------------------------ under fault schedules
def _check_safety(out: Outcome, sent: list[bytes]) -> None:
    assert out.violations == []
    assert out.received == sent[: len(out.received)]  # exact messages, in order, no extra
    for err in (out.client_error, out.server_error):
        assert err is None or isinstance(err, FsmTcpError)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=EXAMPLES) if EXAMPLES else (lambda f: f)
@given(messages, schedules, buff_sizes)
def test_safety_against_every_dialect_under_faults(
    name: str, role: str, sent: list[bytes], schedule: list[Fault], sizes: list[int]
) -> None:
    _check_safety(lifecycle(name, role, sent, schedule, sizes), sent)


#: Drops a dialect rides out: its own teardown has ``final_copies`` copies of the last
#: segment, so that many losses at the end may leave the passive side timing out.
def drop_bound(name: str) -> int:
    profile = D.resolve(name)
    assert profile is not None
    return min(3, profile.final_copies)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=EXAMPLES) if EXAMPLES else (lambda f: f)
@given(messages, schedules, buff_sizes)
def test_liveness_against_every_dialect_with_fewer_drops_than_its_bound(
    name: str, role: str, sent: list[bytes], schedule: list[Fault], sizes: list[int]
) -> None:
    if drops(schedule) >= drop_bound(name):
        schedule = [f for f in schedule if f.kind != "drop"]
    out = lifecycle(name, role, sent, schedule, sizes)
    _check_safety(out, sent)
    assert out.received == sent


def test_the_readme_table_is_the_data() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for profile in (*D.PROFILES.values(), *D.EXTRA.values()):
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{profile.name}` |"))
        assert row.endswith(f"| {D.deviations(profile) or '—'} |"), row
