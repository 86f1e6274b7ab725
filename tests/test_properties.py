"""Hypothesis over fault schedules on the simulator: safety, liveness, declared transitions.

Each property runs the whole lifecycle (handshake, messages, close/recv_close) through a
schedule that drops, duplicates, delays and reorders datagrams in both directions.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from strategies import buff_sizes, drops, messages, schedules

from fsm_tcp import machines as M
from fsm_tcp.engine import Config
from fsm_tcp.errors import ConnectionTimeout
from fsm_tcp.render import sequence_chart
from fsm_tcp.sim import DROP, Fault, Outcome, run_lifecycle

CFG = Config(max_retries=12)
EDGES = {t.name: t.edges() for t in M.TABLES}


def liveness_bound(schedule: list[Fault], sent: list[bytes]) -> float:
    """Virtual seconds by which both ends must be CLOSED once the faults have stopped.

    Each fault costs at most one full bounded wait; a fault-free lifecycle needs a few
    latencies per segment.
    """
    segments = 8 + sum(2 + len(m) // CFG.mss for m in sent)
    return (len(schedule) + 4) * CFG.give_up_bound() + segments * 0.01


@contextmanager
def chart_on_failure(
    sent: list[bytes], schedule: Iterable[Fault], sizes: Sequence[int] = (16,)
) -> Iterator[None]:
    """When an assertion fails, add the (shrunk) case to the report as a Mermaid chart."""
    try:
        yield
    except AssertionError:
        log: list[dict[str, Any]] = []
        run_lifecycle(sent, schedule, buff_sizes=sizes, config=CFG, tracer=log.append)
        note(
            "the failing schedule as a Mermaid sequence chart:\n"
            + sequence_chart(log, "mermaid", "failing schedule")
        )
        raise


@contextmanager
def lifecycle(sent: list[bytes], schedule: list[Fault], sizes: Sequence[int]) -> Iterator[Outcome]:
    """Run one lifecycle; assertions made on it report the case as a chart if they fail."""
    out = run_lifecycle(sent, schedule, buff_sizes=sizes, config=CFG)
    with chart_on_failure(sent, schedule, sizes):
        yield out


def test_a_failing_property_reports_its_schedule_as_a_chart() -> None:
    @settings(max_examples=50, derandomize=True, database=None)
    @given(schedules)
    def fails_when_a_datagram_is_dropped(schedule: list[Fault]) -> None:
        with chart_on_failure([b"hi"], schedule):
            assert drops(schedule) == 0

    with pytest.raises(AssertionError) as failure:
        fails_when_a_datagram_is_dropped()
    notes = "\n".join(getattr(failure.value, "__notes__", []))
    assert "sequenceDiagram" in notes and "(lost)" in notes


@given(messages, schedules, buff_sizes)
def test_safety_delivered_data_is_always_a_prefix_of_what_was_sent(
    sent: list[bytes], schedule: list[Fault], sizes: list[int]
) -> None:
    with lifecycle(sent, schedule, sizes) as out:
        assert out.violations == []
        assert out.received == sent[: len(out.received)]
        # every message the sender saw acknowledged reached the receiver
        if out.client_error is None:
            assert out.complete


@given(messages, schedules, buff_sizes)
def test_liveness_both_ends_close_within_a_bound(
    sent: list[bytes], schedule: list[Fault], sizes: list[int]
) -> None:
    with lifecycle(sent, schedule, sizes) as out:
        assert out.client_closed
        assert out.server is None or out.server_closed
        assert out.end_time <= liveness_bound(schedule, sent)


@given(messages, schedules.filter(lambda s: drops(s) <= 6), buff_sizes)
def test_liveness_few_drops_always_deliver_everything(
    sent: list[bytes], schedule: list[Fault], sizes: list[int]
) -> None:
    """Fewer drops than the data retry bound: every message arrives, the sender is content.

    The teardown has only ``close_tries`` (3) attempts by contract, so three lost FINs may
    leave a server that never saw the handshake ACK (no data came to prove it) with a
    handshake timeout: only for an empty conversation, never with data lost.
    """
    with lifecycle(sent, schedule, sizes) as out:
        assert out.complete
        assert out.client_error is None
        assert out.server_error is None or (sent == [] and drops(schedule) >= CFG.close_tries)
    assert out.client_closed and out.server_closed


@given(messages, schedules.filter(lambda s: drops(s) < CFG.close_tries), buff_sizes)
def test_liveness_fewer_drops_than_any_bound_end_without_any_error(
    sent: list[bytes], schedule: list[Fault], sizes: list[int]
) -> None:
    with lifecycle(sent, schedule, sizes) as out:
        assert out.complete
        assert out.client_error is None and out.server_error is None
        assert out.client_closed and out.server_closed


@given(messages, schedules, st.integers(min_value=0, max_value=60))
def test_liveness_vanished_peer_ends_in_a_typed_timeout_within_its_bound(
    sent: list[bytes], prefix: list[Fault], vanish_after: int
) -> None:
    """After ``vanish_after`` datagrams the network drops everything, in both directions."""

    def schedule() -> Iterator[Fault]:
        return itertools.chain(prefix[:vanish_after], itertools.repeat(Fault(DROP)))

    out = run_lifecycle(sent, schedule(), config=CFG)
    with chart_on_failure(sent, schedule()):
        assert out.client_closed and (out.server is None or out.server_closed)
        for err in (out.client_error, out.server_error):
            assert err is None or isinstance(err, ConnectionTimeout)
        if not out.complete:
            assert isinstance(out.client_error, ConnectionTimeout)
        # the last useful datagram left by datagram number len(prefix): each end then waits
        # at most one bounded wait per stage it is in (sender, closing) before it gives up.
        bound = liveness_bound(prefix[:vanish_after], sent) + 3 * CFG.give_up_bound()
        assert out.end_time <= bound


@given(messages, schedules, buff_sizes)
def test_only_declared_transitions_happen_and_only_typed_errors_escape(
    sent: list[bytes], schedule: list[Fault], sizes: list[int]
) -> None:
    log: list[dict[str, Any]] = []
    # Any exception out of the engines fails this test: faults are not errors.
    out = run_lifecycle(sent, schedule, buff_sizes=sizes, config=CFG, tracer=log.append)
    current: dict[tuple[str, str], str] = {}
    for rec in (r for r in log if r["kind"] == "transition"):
        edge = (rec["src"], rec["trigger"], rec["dst"])
        assert edge in EDGES[rec["machine"]], edge
        key = (rec["conn"], rec["machine"])
        # continuity: a machine's state only ever changes through these records
        table = next(t for t in M.TABLES if t.name == rec["machine"])
        assert current.get(key, table.initial) == rec["src"], (key, rec)
        current[key] = rec["dst"]
    for conn in filter(None, (out.client, out.server)):
        for table in (t for t in M.TABLES if hasattr(conn, t.attribute)):
            final = current.get((conn.name, table.name), table.initial)
            assert getattr(conn, table.attribute) == final


@pytest.mark.parametrize("config", [CFG, Config(max_retries=12, receive_buffer=24)])
@given(messages, schedules, buff_sizes)
def test_express_answers_are_what_the_engine_itself_answers(
    config: Config, sent: list[bytes], schedule: list[Fault], sizes: list[int]
) -> None:
    # Drivers send an express answer before the engine sees the datagram; here the simulator
    # leaves every datagram to the engine and checks that its first answer is the promised
    # one. (The other properties run with express taken, as the drivers do.)
    out = run_lifecycle(sent, schedule, buff_sizes=sizes, config=config, express=False)
    assert out.violations == []
    assert out.received == sent or out.client_error or out.server_error


def test_a_clean_transfer_runs_on_express_answers() -> None:
    sent = [bytes(range(256)) * 4]
    taken = run_lifecycle(sent, config=CFG)
    checked = run_lifecycle(sent, config=CFG, express=False)
    assert taken.received == checked.received == sent
    assert taken.violations == checked.violations == []
    # every chunk but the first three and the last, on each side (auto matches bytes once
    # the peer's first two chunks have confirmed how it numbers data)
    assert taken.express_hits >= 2 * (len(sent[0]) // CFG.mss - 4)
    assert checked.express_hits == 0
