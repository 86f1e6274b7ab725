"""auto's learner on its own: observation sequences in, rules out (fsm_tcp.dialects, pure).

The engine decides which segment shows what; these tests pin what the learner does with
it: a value adopted from a segment that can only mean it, a contradiction ignored, a hint
used but never reported, rules tried in a fixed and bounded order, the one-line diagnosis,
and the arithmetic every rule stands for (checked against the recorded transcripts)."""

from __future__ import annotations

import pytest
from hypothesis import given
from strategies import dialects

from fsm_tcp import dialects as D
from fsm_tcp.errors import DialectUnknown, InvalidArgument


# ------------------------------------------------------------------------- the space
def test_every_profile_is_a_point_of_the_space() -> None:
    for profile in (*D.PROFILES.values(), *D.EXTRA.values()):
        for variable, value in profile.values().items():
            allowed = D.SPACE[variable]
            if isinstance(value, int) and variable not in ("length_ack", "max_datagram"):
                ints = [v for v in allowed if isinstance(v, int)]
                assert min(ints) <= value <= max(ints), (profile.name, variable)
            elif not isinstance(value, bytes) and variable != "max_datagram":
                assert value in allowed, (profile.name, variable)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"handshake_ack_offset": 9}, "handshake_ack_offset must be 0..3"),
        ({"data_seq": "segment"}, "segment numbering needs data_ack >= 1"),
        ({"control_filler": b"a|b"}, "without '|'"),
        ({"length_ack": 0}, "length_ack must be one of"),
        ({"max_datagram": 10}, "max_datagram must be >= 24"),
    ],
)
def test_a_value_outside_the_space_is_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        D.Dialect(**values)  # type: ignore[arg-type]


def test_the_arithmetic_of_each_recorded_dialect_matches_its_transcript() -> None:
    # D6-a: length 79 ACKed 80; chunks numbered by their end, ACK the same number
    d6 = D.PROFILES["end-numbered"]
    assert d6.length_seq_for(78) == 79 and d6.length_ack_for(79, 2) == 80
    assert d6.plan(80, [16, 16, 16, 2]) == [(97, 97), (113, 113), (129, 129), (131, 131)]
    assert d6.fin_seq_for(131) == 132 and d6.close_answer_for(132, 77) == 132
    # PROTOCOL.md's course example: data at 98 with 17 bytes is ACKed 115
    assert D.CANONICAL.plan(98, [17]) == [(98, 115)]
    # D4: the length ACK is s+2 whatever its digits
    assert D.PROFILES["listener-ack-plus2"].length_ack_for(40, 3) == 42
    # D5: the close is answered in the server's own numbering
    assert D.PROFILES["own-isn-four-way"].close_answer_for(100, 37) == 38
    # a dialect nobody recorded: one step per segment, ACK = SEQ + 1
    assert D.SEGMENT_NUMBERED.plan(51, [16, 16, 3]) == [(51, 52), (52, 53), (53, 54)]


@given(dialects)
def test_every_drawn_dialect_numbers_a_message_strictly_upwards(d: D.Dialect) -> None:
    """What a sender tells a refusal from an answer by: each ACK above what it follows."""
    s = d.length_seq_for(40)
    ack = d.length_ack_for(s, 2)
    assert ack > 40
    last = ack
    for seq, chunk_ack in d.plan(ack, [16, 16, 5]):
        assert seq >= last and chunk_ack > last
        last = chunk_ack


# ------------------------------------------------------------------------- explainers
def test_an_ack_is_explained_only_by_the_rules_that_give_it() -> None:
    assert D.length_ack_rules(40, 3, 43) == [None, 3]  # s+d and s+3 agree for 3 digits
    assert D.length_ack_rules(40, 2, 41) == [1]
    assert D.length_ack_rules(40, 2, 47) == []
    assert D.chunk_ack_rules(26, 16, 42, "start") == [("start", 0)]
    assert D.chunk_ack_rules(26, 16, 27, "start") == [("segment", 1)]
    assert D.chunk_ack_rules(26, 16, 49, "start") == []
    assert D.chunk_ack_rules(42, 16, 42, "end") == [("end", 0)]
    # a 1-byte chunk: ACK SEQ+1 is byte numbering or one step per segment
    assert D.chunk_ack_rules(26, 1, 27, "start") == [("start", 0), ("segment", 1)]
    assert D.first_chunk_rules(97, 16, 80) == [("end", 1)]
    assert D.first_chunk_rules(52, 16, 52) == [("start", 0)]
    assert D.synack_rule(40, 41) == ("client", 1) and D.synack_rule(40, 90) == ("own", 1)
    assert D.seq_width_of(b"00000004") == 8 and D.seq_width_of(b"0") == 0


# ------------------------------------------------------------------------- the learner
def test_seeing_only_canonical_values_finds_nothing() -> None:
    for variable in D.VARIABLES:
        adapt = D.Adaptation()
        adapt.observe(variable, getattr(D.CANONICAL, variable), b"seg")
        assert adapt.current.values() == D.CANONICAL.values() and adapt.findings == []


def test_one_deviation_sets_that_variable_and_infers_nothing_else() -> None:
    adapt = D.Adaptation()
    adapt.observe("length_seq_gap", 1, b"0|||0|||0|||53|||50")
    # the FIN one past the counter too is a prior: used first, never reported
    assert D.deviations(adapt.current) == "length_seq_gap=1, fin_seq_gap=1"
    assert [f.variable for f in adapt.findings] == ["length_seq_gap"]
    assert "like end-numbered" in D.describe(adapt.findings)
    other = D.Adaptation()
    other.observe("seq_width", 5, b"1|||0|||0|||00042|||")
    assert D.deviations(other.current) == "seq_width=5"
    assert "no recorded profile" in D.describe(other.findings)


def test_a_value_is_never_rewritten_by_a_later_contradicting_segment() -> None:
    adapt = D.Adaptation()
    adapt.observe("length_ack", None, b"0|||1|||0|||47|||")
    # a late duplicate read as another length ACK: an old segment explains it
    assert not adapt.observe("length_ack", 2, b"0|||1|||0|||42|||")
    assert adapt.current.length_ack is None and adapt.findings == []


def test_a_hint_is_used_but_never_reported() -> None:
    adapt = D.Adaptation()
    assert adapt.hint("handshake_ack_to", "listener", "an answer after the copy to it")
    assert adapt.current.handshake_ack_to == "listener"
    assert adapt.findings == []
    assert D.describe(adapt.findings) == "peer dialect: canonical (no deviation seen)"
    assert adapt.log == ["hint: handshake_ack_to='listener' (an answer after the copy to it)"]


def test_rules_are_tried_in_a_fixed_order_and_bounded() -> None:
    adapt = D.Adaptation()
    tried = []
    while adapt.try_next("numbering", "peer re-ACKs 42"):
        tried.append((adapt.current.data_seq, adapt.current.data_seq_gap))
    assert tried == [("end", 0), ("start", 1), ("end", 1), ("start", 2), ("end", 2)]
    assert adapt.tries("numbering") == len(D.RULES["numbering"])
    assert len(adapt.log) == len(tried) and all(line.startswith("trying") for line in adapt.log)
    error = adapt.give_up("peer re-ACKs 42 to DATA seq=42 (16 bytes)", "numbering")
    assert isinstance(error, DialectUnknown)
    assert str(error) == (
        "peer re-ACKs 42 to DATA seq=42 (16 bytes); no numbering rule fits after 6 tries; "
        "try --dialect"
    )


def test_a_rule_the_peer_took_is_confirmed_and_never_tried_away() -> None:
    adapt = D.Adaptation()
    assert adapt.try_next("length", "peer re-ACKs 78")
    adapt.accepted("length", b"0|||0|||0|||79|||50")
    assert adapt.known("length_seq_gap") and adapt.current.length_seq_gap == 1
    assert [f.variable for f in adapt.findings] == ["length_seq_gap"]
    assert not adapt.try_next("length", "a late duplicate")
    assert adapt.current.length_seq_gap == 1


def test_a_structural_prior_orders_the_tries() -> None:
    adapt = D.Adaptation()
    adapt.observe("length_seq_gap", 1, b"0|||0|||0|||79|||50")
    assert adapt.current.fin_seq_gap == 1  # one past the counter, as the length was
    assert adapt.try_next("fin", "no answer to FIN")
    assert adapt.current.fin_seq_gap == 0
    own = D.Adaptation()
    own.observe("synack_seq", "own", b"1|||1|||0|||17|||")
    assert own.current.handshake_ack_offset == 1
    assert own.try_next("handshake", "the SYN-ACK came again")
    assert own.current.handshake_ack_offset == 2


def test_an_unexplained_answer_ends_after_the_limit_with_one_line() -> None:
    adapt = D.Adaptation()
    what = "peer answers DATA seq=26 (16 bytes) with ACK 49"
    assert [adapt.unexplained(what) for _ in range(D.UNEXPLAINED_LIMIT)] == [False, False, True]
    assert str(adapt.give_up(what, "numbering")) == (
        f"{what}; no numbering rule fits after 3 tries; try --dialect"
    )


# ------------------------------------------------------------------ telling answers apart
def test_standing_acks_count_as_refusals_only_beyond_what_old_copies_explain() -> None:
    r = D.Refusals()
    r.restart(previous_sends=1)  # the length went once: a duplicate of its ACK may follow
    counted = []
    for _ in range(5):  # a refusing peer answers each transmission with the standing ACK
        r.sent()
        counted.append(r.standing())
    assert counted == [False, False, True, True, True]
    # duplicates within one transmission count once
    r.restart(previous_sends=1)
    r.sent()
    assert [r.standing() for _ in range(5)] == [False, False, True, False, False]
    # the previous segment went three times and one answer came: two more may follow
    r.restart(previous_sends=3, previous_answers=1)
    assert [(r.sent(), r.standing())[1] for _ in range(6)] == [False] * 4 + [True, True]
    r.restart(previous_sends=3, previous_answers=3)
    assert [(r.sent(), r.standing())[1] for _ in range(4)] == [False] * 2 + [True, True]


def test_an_unpredicted_answer_is_adopted_only_when_it_answered_each_last_transmission() -> None:
    s = D.Sightings(need=3)
    assert not s.seen(42, 1) and not s.seen(42, 2) and s.seen(42, 3)
    # a peer trying its own rules answers each repeat differently: never adopted
    t = D.Sightings(need=3)
    assert not any(t.seen(v, slot) for slot, v in enumerate([41, 43, 41, 43, 41, 43]))
    # a late copy in the same slot as another answer spoils that slot
    u = D.Sightings(need=3)
    u.seen(41, 1)
    u.seen(41, 2)
    u.seen(43, 3)
    assert not u.seen(41, 3)


def test_a_rotation_holds_the_first_rule_then_tries_each_and_cycles_boundedly() -> None:
    rot = D.Rotation([None, 1, 2, 3], hold=2, cycles=2)  # the receivers hold 3
    rules = [rot.rule]
    for _ in range(11):
        assert not rot.exhausted
        rot.repeated()
        rules.append(rot.rule)
    # after the first cycle the working rule comes back between any two others
    assert rules == [None, None, 1, 2, 3, None, 1, None, 2, None, 3, None]
    assert rot.exhausted


def test_values_seen_in_turn_apply_together_when_one_alone_leaves_the_space() -> None:
    adapt = D.Adaptation()
    adapt.observe("data_seq", "segment", b"ACK 53")  # with data_ack 0: not a dialect
    adapt.observe("data_ack", 1, b"ACK 53")
    assert (adapt.current.data_seq, adapt.current.data_ack) == ("segment", 1)
