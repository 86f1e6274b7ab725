"""Scripted faults (fsm_tcp.schedule): the classifier against the recorded conversations of
six other implementations (../shared/dialects), and the scheduler picking exactly the
named segment."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from fsm_tcp.errors import InvalidArgument
from fsm_tcp.schedule import (
    C2S,
    KINDS,
    S2C,
    Classifier,
    Label,
    Rule,
    Scheduler,
    parse_schedule,
)

DIALECTS = Path(__file__).resolve().parent.parent.parent / "shared" / "dialects"
_LINE = re.compile(r"^t=\s*[\d.]+\s+(client|server)\(.*?->\s+(?:client|server)\(.*?\)\s+(b'.*')")

Run = tuple[str, list[tuple[str, bytes]]]


def _runs() -> list[Run]:
    """Every transcript run: its title and its datagrams (direction, bytes) in send order,
    dropped ones included (the proxy sees a datagram before deciding its fate)."""
    runs: list[Run] = []
    for path in sorted(DIALECTS.glob("D*.txt")):
        for line in path.read_text().splitlines():
            if line.startswith("### "):
                runs.append((line[4:].split()[0], []))
            elif (m := _LINE.match(line)) and runs:
                data = line[m.start(2) :].split("'   ")[0]
                data = data if data.endswith("'") else data + "'"
                runs[-1][1].append((C2S if m.group(1) == "client" else S2C, _bytes(data)))
    return runs


def _bytes(text: str) -> bytes:
    value = ast.literal_eval(text.strip())
    assert isinstance(value, bytes)
    return value


needs_dialects = pytest.mark.skipif(
    not DIALECTS.is_dir(), reason="../shared/dialects is not beside the clone"
)
RUNS = _runs() if DIALECTS.is_dir() else []
#: The runs that go the whole way without faults: a, b, c, e, except D4's livelock (b).
CLEAN = [r for r in RUNS if r[0][-1] in "abce" and r[0] != "D4-b"]


def _oracle(datagrams: list[tuple[str, bytes]]) -> list[str]:
    """The kinds of a clean run, from its shape alone (independent of the classifier):
    three handshake segments, the length and its ACK, data and ACK alternating until the
    first FIN, then the answer(s), then the closer's last segment(s)."""
    kinds = ["syn", "syn-ack", "hs-ack", "length", "ack-length"]
    rest = datagrams[5:]
    fin = next(i for i, (_, d) in enumerate(rest) if d.split(b"|||")[2] == b"1")
    kinds += ["data" if i % 2 == 0 else "ack-data" for i in range(fin)]
    closer = rest[fin][0]
    kinds.append("fin")
    for direction, data in rest[fin + 1 :]:
        if direction == closer:
            kinds.append("last-ack")
        elif data.split(b"|||")[:3] == [b"0", b"0", b"1"]:
            kinds.append("fin")  # D5's own FIN after its separate ACK
        else:
            kinds.append("fin-ack")
    return kinds


def _labels(datagrams: list[tuple[str, bytes]]) -> list[Label]:
    classifier = Classifier()
    return [classifier.classify(data, direction) for direction, data in datagrams]


@needs_dialects
def test_the_transcripts_were_found_and_parsed() -> None:
    assert len(RUNS) >= 25
    assert len(CLEAN) >= 17
    assert all(len(d) >= 10 for _, d in CLEAN)


@needs_dialects
@pytest.mark.parametrize("run", CLEAN, ids=[r[0] for r in CLEAN])
def test_every_clean_run_is_classified_as_its_shape_says(run: Run) -> None:
    _, datagrams = run
    labels = _labels(datagrams)
    assert [label.kind for label in labels] == _oracle(datagrams)
    data = [label for label in labels if label.kind == "data"]
    acks = [label for label in labels if label.kind == "ack-data"]
    # exactly the final chunk (and its ACK) is "last", whatever the numbering
    assert [label.last for label in data] == [False] * (len(data) - 1) + [True]
    assert [label.last for label in acks] == [False] * (len(acks) - 1) + [True]
    assert [label.index for label in data] == list(range(1, len(data) + 1))


def _run(name: str) -> list[tuple[str, bytes]]:
    return next(d for n, d in RUNS if n == name)


@needs_dialects
def test_hazards_of_the_dialects_are_classified() -> None:
    # D3: the recovery ACK "help" to the listener is the handshake ACK again; a late re-ACK
    # of data after the FIN is not the FIN's answer
    d3 = dict(zip(_run("D3-d"), _labels(_run("D3-d")), strict=True))
    assert str(d3[(C2S, b"0|||1|||0|||94|||help")]) == "hs-ack #1 c2s copy 2"
    assert d3[(S2C, b"0|||1|||0|||146|||0")].kind == "ack-data"
    assert d3[(S2C, b"0|||1|||1|||147|||0")].kind == "fin-ack"
    # D5: a separate ACK, then the server's own FIN, in its own numbering
    d5 = dict(zip(_run("D5-a"), _labels(_run("D5-a")), strict=True))
    assert d5[(S2C, b"0|||1|||0|||85|||")].kind == "fin-ack"
    assert str(d5[(S2C, b"0|||0|||1|||85|||")]) == "fin #1 s2c"
    # D4: the last segment carries FIN instead of ACK; D2: zero-padded SEQ
    assert _labels(_run("D4-a"))[-1].kind == "last-ack"
    d2 = _labels(_run("D2-a"))
    assert [lb.kind for lb in d2[:5]] == ["syn", "syn-ack", "hs-ack", "length", "ack-length"]
    # D4's 3-digit livelock: the length and its wrong ACK again and again, never data
    d4b = {lb.kind for lb in _labels(_run("D4-b"))}
    assert d4b == {"syn", "syn-ack", "hs-ack", "length", "ack-length"}


def _dropped(datagrams: list[tuple[str, bytes]], text: str) -> list[int]:
    scheduler = Scheduler(parse_schedule(text))
    return [
        i
        for i, (direction, data) in enumerate(datagrams)
        if scheduler.decide(data, direction).action == "drop"
    ]


@needs_dialects
@pytest.mark.parametrize("run", CLEAN, ids=[r[0] for r in CLEAN])
def test_the_scheduler_drops_exactly_the_named_segment(run: Run) -> None:
    _, datagrams = run
    kinds = _oracle(datagrams)
    for kind in KINDS:
        positions = [i for i, k in enumerate(kinds) if k == kind]
        if not positions:
            continue
        direction = datagrams[positions[0]][0]
        assert _dropped(datagrams, f"drop:{kind}:{direction}:first") == [positions[0]]
        if kind in ("data", "ack-data"):
            assert _dropped(datagrams, f"drop:{kind}:last") == [positions[-1]]
            if len(positions) >= 2:
                assert _dropped(datagrams, f"drop:{kind}:{direction}:2") == [positions[1]]
        # the other direction never carries it (D5's own FIN is the one exception)
        if kind != "fin":
            other = S2C if direction == C2S else C2S
            assert _dropped(datagrams, f"drop:{kind}:{other}") == []


@needs_dialects
def test_a_rule_acts_on_the_first_transmission_only() -> None:
    # D3-d: the length segment is sent five times; only the first copy is the named one
    datagrams = _run("D3-d")
    first_length = next(i for i, (_, d) in enumerate(datagrams) if d.endswith(b"|||50"))
    assert _dropped(datagrams, "drop:length") == [first_length]
    assert _dropped(datagrams, "drop:hs-ack:c2s") == [2]


def test_decisions_carry_action_and_delay() -> None:
    scheduler = Scheduler(parse_schedule("delay=250:syn,dup-late:syn-ack,reorder:hs-ack"))
    syn = scheduler.decide(b"1|||0|||0|||7|||", C2S)
    assert (syn.action, syn.delay, syn.label.kind) == ("delay", 0.25, "syn")
    assert scheduler.decide(b"1|||0|||0|||7|||", C2S).action == "pass"  # once only
    assert scheduler.decide(b"1|||1|||0|||8|||", S2C).action == "dup-late"
    assert scheduler.decide(b"0|||1|||0|||9|||", C2S).action == "reorder"
    assert scheduler.unfired() == []
    assert scheduler.decide(b"garbage", C2S).label.kind == "other"


def test_a_message_in_the_other_direction_and_a_second_message() -> None:
    c = Classifier()
    convo = [
        (C2S, b"1|||0|||0|||5|||", "syn"),
        (S2C, b"1|||1|||0|||6|||", "syn-ack"),
        (C2S, b"0|||1|||0|||7|||", "hs-ack"),
        (S2C, b"0|||0|||0|||7|||2", "length"),
        (C2S, b"0|||1|||0|||8|||", "ack-length"),
        (S2C, b"0|||0|||0|||8|||hi", "data"),
        (C2S, b"0|||1|||0|||10|||", "ack-data"),
        (C2S, b"0|||0|||0|||10|||0", "length"),  # an empty message back
        (S2C, b"0|||1|||0|||11|||", "ack-length"),
        (C2S, b"0|||0|||0|||11|||1", "length"),
        (S2C, b"0|||1|||0|||12|||", "ack-length"),
        (C2S, b"0|||0|||0|||12|||x", "data"),
        (S2C, b"0|||1|||0|||13|||", "ack-data"),
    ]
    labels = [c.classify(data, direction) for direction, data, _ in convo]
    assert [lb.kind for lb in labels] == [kind for _, _, kind in convo]
    assert labels[5].last and labels[6].last and labels[11].last
    assert (labels[9].index, labels[9].direction) == (2, C2S)


def test_the_text_form_round_trips_and_bad_rules_say_why() -> None:
    text = "drop:data:c2s:last,dup:ack-data:s2c:1,delay=200:fin:first,reorder:hs-ack:first"
    schedule = parse_schedule(text)
    assert str(schedule) == text
    assert schedule.rules[0] == Rule("drop", "data", C2S, "last")
    assert parse_schedule("").rules == ()
    for bad, why in [
        ("drop", "ACTION:KIND"),
        ("lose:syn", "unknown action"),
        ("drop:synack", "unknown kind"),
        ("drop:syn:sideways", "neither a direction"),
        ("drop:syn:0", "neither a direction"),
        ("delay=soon:syn", "milliseconds"),
        ("dup=5:syn", "only delay"),
    ]:
        with pytest.raises(InvalidArgument, match=why):
            parse_schedule(bad)
