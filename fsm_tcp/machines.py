"""Every state and every transition of fsm_tcp, as data.

This module is the single source of truth (after h11's ``_state.py``): the engine runs
machines built from these tables, and ``fsm-tcp diagram`` draws the same tables. No
transition is declared anywhere else; the engine changes state only by firing triggers
named here.

Three machines describe one connection:

* LIFECYCLE - handshake, teardown and the final wait (PROTOCOL.md sections 2 and 4);
* SENDER    - the stage of the current outgoing message inside ESTABLISHED (section 3);
* RECEIVER  - the stage of the current incoming message inside ESTABLISHED (section 3).

and one more a windowed sender runs, with :class:`fsm_tcp.congestion.Congestion` as model:

* CONGESTION - slow start, congestion avoidance, Reno's fast recovery (section 6, RFC 5681).

Per-segment bookkeeping that changes no state (one more 16-byte chunk acknowledged, one
more chunk received) is plain code in the engine: a trigger costs about as much as a
loopback round trip, so triggers fire per message and per fault, never per byte.

Conventions: ``dest`` None is an internal transition (callbacks run, state is unchanged);
``conditions`` name what they check; the first transition whose conditions hold wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transitions import Machine


@dataclass(frozen=True)
class Table:
    """One machine: its name, the model attribute holding its state, states and transitions."""

    name: str
    attribute: str
    states: tuple[str, ...]
    initial: str
    transitions: tuple[dict[str, Any], ...]
    doc: str
    #: Callback run on entering any state of this machine (not on internal transitions).
    on_enter: str = "reset_retries"

    def triggers(self) -> frozenset[str]:
        return frozenset(t["trigger"] for t in self.transitions)

    def edges(self) -> frozenset[tuple[str, str, str]]:
        """Every (source, trigger, destination) the table allows; internal ones as source."""
        return frozenset(
            (t["source"], t["trigger"], t["dest"] or t["source"]) for t in self.transitions
        )

    def fires_from(self) -> frozenset[tuple[str, str]]:
        """Every (state, trigger) pair with at least one declared transition."""
        return frozenset((t["source"], t["trigger"]) for t in self.transitions)


def _t(
    trigger: str,
    source: str,
    dest: str | None,
    *,
    conditions: str | list[str] | None = None,
    unless: str | list[str] | None = None,
    after: str | list[str] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {"trigger": trigger, "source": source, "dest": dest}
    for key, value in (("conditions", conditions), ("unless", unless), ("after", after)):
        if value is not None:
            row[key] = value
    return row


# ----------------------------------------------------------------------------- lifecycle
CLOSED = "CLOSED"
LISTEN = "LISTEN"
SYN_SENT = "SYN_SENT"
SYN_RCVD = "SYN_RCVD"
ESTABLISHED = "ESTABLISHED"
FIN_WAIT_1 = "FIN_WAIT_1"
FIN_WAIT_2 = "FIN_WAIT_2"
CLOSING = "CLOSING"
LAST_ACK = "LAST_ACK"
TIME_WAIT = "TIME_WAIT"

# fmt: off
LIFECYCLE = Table(
    name="lifecycle",
    attribute="life",
    states=(
        CLOSED, LISTEN, SYN_SENT, SYN_RCVD, ESTABLISHED,
        FIN_WAIT_1, FIN_WAIT_2, CLOSING, LAST_ACK, TIME_WAIT,
    ),
    initial=CLOSED,
    doc="Connection lifecycle: three-way handshake, data phase, teardown (PROTOCOL.md 2, 4).",
    transitions=(
        # --- opening (PROTOCOL.md 2)
        _t("open_active", CLOSED, SYN_SENT, after="send_syn"),
        _t("open_passive", CLOSED, LISTEN),
        _t("rcv_syn", LISTEN, SYN_RCVD, after="accept_syn"),
        _t("rcv_synack", SYN_SENT, ESTABLISHED, conditions="acks_our_syn",
           after="complete_handshake"),
        # Dialect: a server that numbers its SYN-ACK from its own ISN (auto takes it too).
        _t("rcv_synack", SYN_SENT, ESTABLISHED, conditions="numbers_synack_own",
           after="complete_handshake"),
        # Dialect: a server that awaits the handshake ACK on the listener leaves whatever
        # reaches its connection socket unread until then (handled once established).
        _t("rcv_ack", SYN_RCVD, None, conditions="awaits_ack_at_listener",
           after="defer_segment"),
        _t("rcv_data", SYN_RCVD, None, conditions="awaits_ack_at_listener",
           after="defer_segment"),
        _t("rcv_ack", SYN_RCVD, ESTABLISHED, conditions="completes_handshake",
           after="note_established"),
        # Desync (a): the last handshake ACK was lost and the client already sends. A data
        # segment at SEQ x+2 proves the client saw the SYN-ACK: it is the ACK, then data.
        _t("rcv_data", SYN_RCVD, ESTABLISHED, conditions="completes_handshake",
           after=["note_established", "process_early_segment"]),
        # The same proof by a FIN at x+2: the client connected and closed at once.
        _t("rcv_fin", SYN_RCVD, LAST_ACK, conditions="completes_handshake",
           after=["note_established", "answer_fin"]),
        # Duplicates of the handshake (PROTOCOL.md 2, "Tolerate").
        _t("rcv_syn", SYN_RCVD, None, conditions="is_original_syn", after="send_synack"),
        _t("rcv_syn", ESTABLISHED, None, conditions="is_original_syn", after="send_synack"),
        _t("rcv_synack", ESTABLISHED, None, conditions="acks_our_syn",
           after="send_handshake_ack"),
        # ... also once closing: the server may still be in SYN_RCVD, waiting for that ACK.
        _t("rcv_synack", FIN_WAIT_1, None, conditions="acks_our_syn", after="send_handshake_ack"),
        _t("rcv_synack", FIN_WAIT_2, None, conditions="acks_our_syn", after="send_handshake_ack"),
        _t("rcv_synack", CLOSING, None, conditions="acks_our_syn", after="send_handshake_ack"),
        _t("rcv_synack", TIME_WAIT, None, conditions="acks_our_syn", after="send_handshake_ack"),
        # Handshake retransmission, bounded.
        _t("timeout", SYN_SENT, None, conditions="can_retry", after="resend_syn"),
        _t("timeout", SYN_SENT, CLOSED, unless="can_retry", after="fail_timeout"),
        _t("timeout", SYN_RCVD, None, conditions="can_retry", after="resend_synack"),
        _t("timeout", SYN_RCVD, CLOSED, unless="can_retry", after="fail_timeout"),
        _t("close", LISTEN, CLOSED, after="note_closed"),
        _t("close", SYN_SENT, CLOSED, after="note_closed"),
        _t("close", SYN_RCVD, CLOSED, after="note_closed"),
        # --- data phase: the SENDER and RECEIVER machines run inside ESTABLISHED.
        # The application waits on the peer (recv() with nothing to read, recv_close() with
        # no FIN yet): bounded like any other wait, so a vanished peer cannot hang it.
        _t("timeout", ESTABLISHED, CLOSED, after="note_peer_silent"),
        _t("abort", ESTABLISHED, CLOSED, after="note_failure"),
        # --- active close, Host A (PROTOCOL.md 4)
        _t("close", ESTABLISHED, FIN_WAIT_1, after="send_fin"),
        _t("rcv_finack", FIN_WAIT_1, TIME_WAIT, conditions="acks_our_fin",
           after="send_last_ack"),
        _t("rcv_ack", FIN_WAIT_1, FIN_WAIT_2, conditions="acks_our_fin",
           after="wait_for_peer_fin"),  # four-segment close: the separate ACK ...
        _t("rcv_fin", FIN_WAIT_2, TIME_WAIT, after="send_last_ack"),  # ... then the FIN
        # The answer's FIN without its ACK (lost): it proves our FIN arrived.
        _t("rcv_fin", FIN_WAIT_1, TIME_WAIT, conditions="is_close_answer_fin",
           after="send_last_ack"),
        _t("rcv_fin", FIN_WAIT_1, CLOSING, conditions="is_peer_fin", after="answer_fin"),
        _t("rcv_finack", CLOSING, TIME_WAIT, conditions="acks_our_fin", after="send_last_ack"),
        _t("rcv_ack", CLOSING, TIME_WAIT, conditions="acks_our_fin", after="send_last_ack"),
        _t("timeout", FIN_WAIT_1, None, conditions="can_retry_close", after="resend_fin"),
        _t("timeout", FIN_WAIT_1, CLOSED, unless="can_retry_close", after="note_peer_gone"),
        _t("timeout", FIN_WAIT_2, None, conditions="can_retry_close", after="rearm_close_wait"),
        _t("timeout", FIN_WAIT_2, CLOSED, unless="can_retry_close", after="note_peer_gone"),
        _t("timeout", CLOSING, None, conditions="can_retry_close", after="answer_fin"),
        _t("timeout", CLOSING, CLOSED, unless="can_retry_close", after="note_peer_gone"),
        # --- passive close, Host B
        _t("rcv_fin", ESTABLISHED, LAST_ACK, conditions="is_peer_fin", after="answer_fin"),
        _t("rcv_ack", LAST_ACK, CLOSED, conditions="acks_our_finack", after="note_last_ack"),
        _t("rcv_finack", LAST_ACK, CLOSED, conditions="acks_our_finack",
           after="note_last_ack"),
        _t("rcv_fin", LAST_ACK, None, conditions="is_peer_fin", after="answer_fin"),
        # Dialect: a closer whose last segment is flagged FIN, not ACK.
        _t("rcv_fin", LAST_ACK, CLOSED, conditions="is_last_ack_as_fin",
           after="note_last_ack"),
        _t("timeout", LAST_ACK, None, conditions="can_retry_close", after="answer_fin"),
        _t("timeout", LAST_ACK, CLOSED, unless="can_retry_close", after="note_closed"),
        # --- the final wait: send the last ACK three times, absorb late duplicates
        _t("rcv_finack", TIME_WAIT, None, after="repeat_last_ack"),
        _t("rcv_fin", TIME_WAIT, None, after="repeat_last_ack"),
        # Dialect: the last segment goes out final_copies times (or all at once).
        _t("timeout", TIME_WAIT, None, conditions="can_repeat_last_ack",
           after="send_last_ack"),
        _t("timeout", TIME_WAIT, CLOSED, unless="can_repeat_last_ack", after="note_closed"),
        # Desync (b) seen from the closing states: stale data whose ACK was lost is re-ACKed.
        _t("rcv_data", FIN_WAIT_1, None, conditions="may_reack", after="reack_stale"),
        _t("rcv_data", FIN_WAIT_2, None, conditions="may_reack", after="reack_stale"),
        _t("rcv_data", LAST_ACK, None, conditions="may_reack", after="reack_stale"),
        _t("rcv_data", TIME_WAIT, None, conditions="may_reack", after="reack_stale"),
    ),
)

# -------------------------------------------------------------------------------- sender
TX_IDLE = "TX_IDLE"
TX_LENGTH = "TX_LENGTH"
TX_DATA = "TX_DATA"

SENDER = Table(
    name="sender",
    attribute="tx",
    states=(TX_IDLE, TX_LENGTH, TX_DATA),
    initial=TX_IDLE,
    doc="Outgoing message inside ESTABLISHED: length segment, then data (PROTOCOL.md 3).",
    transitions=(
        _t("tx_start", TX_IDLE, TX_LENGTH, after="send_length_segment"),
        _t("tx_length_acked", TX_LENGTH, TX_IDLE, conditions="is_empty_message",
           after="message_sent"),
        _t("tx_length_acked", TX_LENGTH, TX_DATA, after="send_first_chunk"),
        # Chunks in between are acknowledged by plain code; only the last one fires.
        _t("tx_last_chunk_acked", TX_DATA, TX_IDLE, after="message_sent"),
        # Retransmitting the segment in flight changes no stage, so the engine does it as
        # bookkeeping (at 20% loss it happens on a third of all segments); the trigger
        # fires only when the retry bound is reached.
        _t("tx_timeout", TX_LENGTH, TX_IDLE, unless="can_retry", after="give_up"),
        _t("tx_timeout", TX_DATA, TX_IDLE, unless="can_retry", after="give_up"),
        _t("tx_cancel", TX_LENGTH, TX_IDLE, after="cancel_sends"),
        _t("tx_cancel", TX_DATA, TX_IDLE, after="cancel_sends"),
    ),
)

# ------------------------------------------------------------------------------ receiver
RX_LENGTH = "RX_LENGTH"
RX_DATA = "RX_DATA"

RECEIVER = Table(
    name="receiver",
    attribute="rx",
    states=(RX_LENGTH, RX_DATA),
    initial=RX_LENGTH,
    doc="Incoming message inside ESTABLISHED: await length, then data (PROTOCOL.md 3).",
    transitions=(
        _t("rx_length", RX_LENGTH, None, unless="fits_message_limit", after="refuse_message"),
        _t("rx_length", RX_LENGTH, None, conditions="announces_empty_message",
           after="deliver_empty_message"),
        _t("rx_length", RX_LENGTH, RX_DATA, after="start_message"),
        # Chunks in between are accepted by plain code; only the last one fires.
        _t("rx_last_chunk", RX_DATA, RX_LENGTH, after="finish_message"),
        # Desync (b): the ACK of an earlier segment was lost, the sender repeats it while
        # this side has moved on (to the next message, or to waiting for FIN): re-ACK it.
        # A repeated chunk inside RX_DATA is no desync, the stage is the same on both
        # sides: the engine re-ACKs it as bookkeeping.
        _t("rx_duplicate", RX_LENGTH, None, after="reack_stale"),
        _t("rx_truncate", RX_DATA, RX_LENGTH, after="note_truncated"),
    ),
)

# ---------------------------------------------------------------------------- congestion
SLOW_START = "SLOW_START"
CONGESTION_AVOIDANCE = "CONGESTION_AVOIDANCE"
FAST_RECOVERY = "FAST_RECOVERY"

# One windowed sender's congestion control (PROTOCOL.md 6, RFC 5681). The model is
# fsm_tcp.congestion.Congestion, not the connection. Growing cwnd per ACK is bookkeeping
# there; only a change of stage fires. Tahoe and Reno differ in one rule, the answer to three
# duplicate ACKs, so that rule is a condition (is_reno) and the algorithm a value.
CONGESTION = Table(
    name="congestion",
    attribute="cc",
    states=(SLOW_START, CONGESTION_AVOIDANCE, FAST_RECOVERY),
    initial=SLOW_START,
    doc="Congestion control of a windowed sender: TCP Tahoe as the course fixes it, Reno's "
    "fast recovery (PROTOCOL.md 6, RFC 5681).",
    on_enter="restart_growth",
    transitions=(
        # RFC 5681 3.1: slow start while cwnd < ssthresh; the course moves on at equality.
        _t("reach_ssthresh", SLOW_START, CONGESTION_AVOIDANCE),
        # RFC 5681 (4) and LW: ssthresh = max(FlightSize/2, 2 MSS), cwnd = 1 MSS.
        _t("timeout", SLOW_START, SLOW_START, after="collapse_window"),
        _t("timeout", CONGESTION_AVOIDANCE, SLOW_START, after="collapse_window"),
        _t("timeout", FAST_RECOVERY, SLOW_START, after="collapse_window"),
        # A timeout shown spurious by the first ACK after it (congestion.Congestion
        # .undo_timeout): cwnd and ssthresh as they were, and the stage that goes with them.
        _t("spurious_timeout", SLOW_START, CONGESTION_AVOIDANCE, conditions="undoes_to_avoidance",
           after="restore_window"),
        _t("spurious_timeout", SLOW_START, SLOW_START, unless="undoes_to_avoidance",
           after="restore_window"),
        # RFC 5681 3.2, the third duplicate ACK: Reno retransmits and recovers fast ...
        _t("three_dup_acks", SLOW_START, FAST_RECOVERY, conditions="is_reno",
           after="enter_fast_recovery"),
        _t("three_dup_acks", CONGESTION_AVOIDANCE, FAST_RECOVERY, conditions="is_reno",
           after="enter_fast_recovery"),
        # ... Tahoe (the course's) retransmits, then does as after a timeout.
        _t("three_dup_acks", SLOW_START, SLOW_START, unless="is_reno", after="collapse_window"),
        _t("three_dup_acks", CONGESTION_AVOIDANCE, SLOW_START, unless="is_reno",
           after="collapse_window"),
        # Further duplicate ACKs in FAST_RECOVERY inflate cwnd by 1 MSS: bookkeeping.
        # RFC 5681 3.2 step 6: the ACK of new data deflates cwnd to ssthresh.
        _t("recovery_ack", FAST_RECOVERY, CONGESTION_AVOIDANCE, after="deflate_window"),
    ),
)

# fmt: on
TABLES: tuple[Table, ...] = (LIFECYCLE, SENDER, RECEIVER, CONGESTION)


def build(table: Table, model: Any = None, **kwargs: Any) -> Machine:
    """A ``transitions`` Machine for ``table``, never with auto-transitions.

    The engine shares one Machine per table among all connections (``model=None``) and fires
    ``machine.events[trigger].trigger(connection, ...)``: building a Machine costs about a
    millisecond, binding a model about as much, so neither happens per connection.
    Diagrams pass their own Machine class and options through ``kwargs``.
    """
    machine_cls = kwargs.pop("machine_cls", Machine)
    # Diagrams draw internal transitions as loops: transitions' renderers omit them, and the
    # desync recoveries (rx_duplicate, rcv_data while closing) are internal ones.
    loops = kwargs.pop("internal_as_loops", False)
    rows = [dict(t, dest=t["dest"] or t["source"]) if loops else dict(t) for t in table.transitions]
    machine: Machine = machine_cls(
        model=model,
        states=[{"name": s, "on_enter": table.on_enter} for s in table.states],
        transitions=rows,
        initial=table.initial,
        auto_transitions=False,
        model_attribute=table.attribute,
        ignore_invalid_triggers=False,
        # Callbacks get the EventData, so the engine's one tracing hook sees each transition
        # (source, trigger, dest) before its callbacks run, nested triggers after it.
        send_event=True,
        before_state_change="on_transition",
        name=table.name,
        **kwargs,
    )
    return machine
