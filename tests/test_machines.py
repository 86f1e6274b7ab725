"""The tables are the single source of truth: consistent, complete, and used as declared."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fsm_tcp import machines as M
from fsm_tcp.congestion import Congestion
from fsm_tcp.engine import Connection
from fsm_tcp.receiver import Receiver
from fsm_tcp.sender import Sender

PACKAGE = Path(M.__file__).parent
#: The class whose instances each table runs on: its callbacks and conditions live there.
MODEL_CLASS: dict[str, type] = {
    "lifecycle": Connection,
    "sender": Sender,
    "receiver": Receiver,
    "congestion": Congestion,
}


def _callbacks(table: M.Table) -> set[str]:
    names = {table.on_enter, "on_transition"}  # machines.build wires on_transition to all
    for t in table.transitions:
        for key in ("conditions", "unless", "after"):
            value = t.get(key, [])
            names.update([value] if isinstance(value, str) else value)
    return names


@pytest.mark.parametrize("table", M.TABLES, ids=lambda t: t.name)
def test_every_named_callback_and_condition_exists(table: M.Table) -> None:
    model = MODEL_CLASS[table.name]
    missing = [n for n in _callbacks(table) if not callable(getattr(model, n, None))]
    assert missing == []


@pytest.mark.parametrize("table", M.TABLES, ids=lambda t: t.name)
def test_every_state_is_declared_reachable_and_has_a_way_on(table: M.Table) -> None:
    for t in table.transitions:
        assert t["source"] in table.states
        assert t["dest"] is None or t["dest"] in table.states
    reached, frontier = {table.initial}, [table.initial]
    while frontier:
        state = frontier.pop()
        for t in table.transitions:
            if t["source"] == state and t["dest"] and t["dest"] not in reached:
                reached.add(t["dest"])
                frontier.append(t["dest"])
    assert reached == set(table.states)


@pytest.mark.parametrize("table", M.TABLES, ids=lambda t: t.name)
def test_built_machine_has_only_the_declared_triggers(table: M.Table) -> None:
    machine = M.build(table)
    assert set(machine.events) == table.triggers()  # no auto-transitions such as to_CLOSED


def test_every_wait_in_the_lifecycle_is_bounded() -> None:
    """A state that waits on the peer has a timeout that can leave it: no endless wait."""
    waiting = {
        M.SYN_SENT,
        M.SYN_RCVD,
        M.FIN_WAIT_1,
        M.FIN_WAIT_2,
        M.CLOSING,
        M.LAST_ACK,
        M.TIME_WAIT,
        M.ESTABLISHED,
    }
    leaving = {
        t["source"]
        for t in M.LIFECYCLE.transitions
        if t["trigger"] == "timeout" and t["dest"] == M.CLOSED
    }
    assert waiting <= leaving
    retrying = {
        t["source"]
        for t in M.SENDER.transitions
        if t["trigger"] == "tx_timeout" and t["dest"] == M.TX_IDLE
    }
    assert retrying == {M.TX_LENGTH, M.TX_DATA}


def test_both_desync_cases_are_declared_transitions() -> None:
    life = M.LIFECYCLE.edges()
    # (a) lost final handshake ACK, client already sending: data is the ACK.
    assert (M.SYN_RCVD, "rcv_data", M.ESTABLISHED) in life
    # (b) lost ACK of the last data segment, receiver moved on: the repeat is re-ACKed,
    # whether the receiver is between messages, waiting for FIN or already closing.
    rx = M.RECEIVER.edges()
    assert (M.RX_LENGTH, "rx_duplicate", M.RX_LENGTH) in rx
    assert (M.LAST_ACK, "rcv_data", M.LAST_ACK) in life


def test_teardown_states_follow_protocol_section_4() -> None:
    life = M.LIFECYCLE.edges()
    assert (M.ESTABLISHED, "close", M.FIN_WAIT_1) in life
    assert (M.FIN_WAIT_1, "rcv_finack", M.TIME_WAIT) in life
    assert (M.ESTABLISHED, "rcv_fin", M.LAST_ACK) in life
    assert (M.LAST_ACK, "rcv_ack", M.CLOSED) in life
    assert (M.TIME_WAIT, "timeout", M.CLOSED) in life


def test_no_transition_or_machine_is_declared_outside_the_table_module() -> None:
    pattern = re.compile(r"add_transition|add_state|\bMachine\(|to_[A-Z_]+\(|\.(life|tx|rx) = ")
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "machines.py":
            continue
        for no, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and "self.life = M.LIFECYCLE.initial" not in line:
                offenders.append(f"{path.name}:{no}: {line.strip()}")
    allowed_initialisers = {"self.tx = M.SENDER.initial", "self.rx = M.RECEIVER.initial"}
    assert [o for o in offenders if o.split(": ", 1)[1] not in allowed_initialisers] == []
