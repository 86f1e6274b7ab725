"""Verdicts in the scenario's own terms, read from the wire capture (pure: no I/O).

``explain`` says what the program did not do after the scenario's fault ("after the ACK
of the last data segment was lost, the program left 12 repeats of that segment
unanswered"). ``first_unplaced`` says, for a conversation that never got going, which of the
program's segments PROTOCOL.md cannot place and what it expected there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import MalformedSegment
from ..proxy import Captured
from ..schedule import C2S, OTHER, S2C, Classifier, Label
from ..segment import parse
from .catalogue import Scenario
from .verdicts import CORRUPT, CRASH, HANG, SLOW

SERVER = "server"
#: Kinds of segment, as a sentence names them.
KIND_WORDS = {
    "syn": "the SYN",
    "syn-ack": "the SYN-ACK",
    "hs-ack": "the handshake ACK",
    "length": "the length segment",
    "data": "data segment",
    "ack-length": "the ACK of the length segment",
    "ack-data": "the ACK of data segment",
    "fin": "the FIN",
    "fin-ack": "the FIN+ACK",
    "last-ack": "the last ACK",
    OTHER: "a segment no phase of the conversation explains",
}
#: Segments that ask for no answer: a peer left with them is not left waiting.
UNANSWERED_OK = frozenset({"last-ack", "hs-ack"})


def program_direction(role: str) -> str:
    return S2C if role == SERVER else C2S


def describe(label: Label, data: bytes) -> str:
    """'the last data segment (SEQ 150)', 'the ACK of data segment 2 (SEQ 98)'."""
    words = KIND_WORDS.get(label.kind, label.kind)
    if label.kind in ("data", "ack-data"):
        which = "the last data segment" if label.last else f"data segment {label.index}"
        words = which if label.kind == "data" else f"the ACK of {which}"
    try:
        return f"{words} (SEQ {parse(data).seq})"
    except MalformedSegment:
        return f"{words} ({show(data)})"


def show(data: bytes, width: int = 40) -> str:
    text = repr(data[:width])[2:-1]
    return f"`{text}{'...' if len(data) > width else ''}`"


def cause(scenario: Scenario) -> str:
    """The scenario's fault as the start of a sentence."""
    if scenario.fault:
        return f"after {scenario.fault}"
    if scenario.baseline:
        return "with no faults at all"
    return f"with {scenario.title}"


@dataclass(frozen=True)
class _Seen:
    captured: Captured
    label: Label

    @property
    def key(self) -> tuple[str, int]:
        return (self.label.kind, self.label.index)


def labelled(capture: Sequence[Captured]) -> list[_Seen]:
    classifier = Classifier()
    return [_Seen(c, classifier.classify(c.data, c.direction)) for c in capture]


def explain(
    scenario: Scenario, verdict: str, detail: str, capture: Sequence[Captured], role: str
) -> str:
    """What the program did not do, in the scenario's terms ('' for a verdict that needs
    no explanation)."""
    if verdict not in (HANG, CRASH, CORRUPT, SLOW):
        return ""
    start = cause(scenario)
    seen = labelled(capture)
    mine = program_direction(role)
    if verdict == CORRUPT:
        return f"{start}, the program delivered other bytes than were sent: {detail}"
    if verdict == SLOW:
        return f"{start}, the program delivered the message, but slowly: {detail}"
    ours = [s for s in seen if s.captured.direction == mine]
    if not ours:
        if verdict == CRASH:
            return f"{start}, the program crashed before sending anything: {detail}"
        return f"{start}, the program sent nothing at all"
    last = max(i for i, s in enumerate(seen) if s.captured.direction == mine)
    after = seen[last + 1 :]
    said = describe(seen[last].label, seen[last].captured.data)
    if verdict == CRASH:
        return f"{start}, the program crashed after sending {said}: {detail}"
    return _hang(start, seen[: last + 1], after, said)


def _hang(start: str, upto: list[_Seen], after: list[_Seen], said: str) -> str:
    if after:
        head = after[-1]
        repeats = sum(1 for s in after if s.key == head.key)
        what = describe(head.label, head.captured.data)
        if head.label.kind in UNANSWERED_OK:
            return (
                f"{start}, the program never ended, though fsm_tcp's end had finished with "
                f"{what}; the program's last segment was {said}"
            )
        if repeats > 1:
            return f"{start}, the program left {repeats} repeats of {what} unanswered"
        return f"{start}, the program did not answer {what}"
    mine = upto[-1]
    copies = sum(
        1 for s in upto if s.key == mine.key and s.captured.direction == mine.captured.direction
    )
    if copies > 1:
        return (
            f"{start}, the program kept sending {said} ({copies} copies) and never went on "
            f"with what fsm_tcp's answers asked for"
        )
    return f"{start}, the program stopped after {said} and never ended"


# ---------------------------------------------------------------------- no conversation
@dataclass(frozen=True)
class _Expected:
    direction: str
    flags: tuple[bool, bool, bool]  # SYN, ACK, FIN
    seq: int
    what: str
    data: bytes | None = None  # None: any DATA

    def matches(self, syn: bool, ack: bool, fin: bool, seq: int, data: bytes) -> bool:
        return (
            (syn, ack, fin) == self.flags
            and seq == self.seq
            and (self.data is None or data == self.data)
        )

    def wire(self) -> str:
        flags = "|||".join("1" if f else "0" for f in self.flags)
        return show(f"{flags}|||{self.seq}|||".encode() + (self.data or b""))


def canonical_conversation(x: int, message: bytes, mss: int = 16) -> list[_Expected]:
    """PROTOCOL.md's conversation for one message from the client with ISN x."""
    t, f = True, False
    s = x + 2
    digits = str(len(message)).encode()
    out = [
        _Expected(C2S, (t, f, f), x, "the SYN"),
        _Expected(S2C, (t, t, f), x + 1, "the SYN-ACK with SEQ x+1"),
        _Expected(C2S, (f, t, f), x + 2, "the handshake ACK with SEQ x+2"),
        _Expected(C2S, (f, f, f), s, "the length segment at x+2", digits),
        _Expected(S2C, (f, t, f), s + len(digits), "the length's ACK, s+d"),
    ]
    seq = s + len(digits)
    for i in range(0, len(message), mss):
        chunk = message[i : i + mss]
        n = i // mss + 1
        out.append(_Expected(C2S, (f, f, f), seq, f"data segment {n} at SEQ {seq}", chunk))
        seq += len(chunk)
        out.append(_Expected(S2C, (f, t, f), seq, f"the ACK of data segment {n}, SEQ + length"))
    out += [
        _Expected(C2S, (f, f, t), seq, "the FIN at the sender's SEQ y"),
        _Expected(S2C, (f, t, t), seq + 1, "the FIN+ACK with y+1"),
        _Expected(C2S, (f, t, f), seq + 2, "the last ACK with y+2"),
    ]
    return out


def first_unplaced(capture: Sequence[Captured], role: str, message: bytes) -> str:
    """The first segment of the program that PROTOCOL.md cannot place in the conversation,
    and what it expected there."""
    mine = program_direction(role)
    x: int | None = None
    expected: list[_Expected] = []
    progress = 0  # index (in the program's own expected segments) of the next new one
    last_placed = ""
    for c in capture:
        if x is None and c.direction == C2S:
            try:
                x = parse(c.data).seq
            except MalformedSegment:
                x = None
            if x is not None:
                expected = [e for e in canonical_conversation(x, message) if e.direction == mine]
        if c.direction != mine:
            continue
        try:
            seg = parse(c.data)
        except MalformedSegment:
            return (
                f"the program sent {show(c.data)}, which is not a segment "
                f"(PROTOCOL.md 1: SYN|||ACK|||FIN|||SEQ|||DATA)"
            )
        if not expected:
            return f"the program's first datagram {show(c.data)} is not a SYN (PROTOCOL.md 2)"
        fields = (seg.syn, seg.ack, seg.fin, seg.seq, seg.data)
        hit = next((i for i, e in enumerate(expected[: progress + 1]) if e.matches(*fields)), None)
        if hit is None:
            want = expected[min(progress, len(expected) - 1)]
            return (
                f"the first segment fsm_tcp could not place: {show(c.data)} from the program; "
                f"PROTOCOL.md expected {want.what}, {want.wire()}"
            )
        progress = max(progress, hit + 1)
        last_placed = show(c.data)
    if not last_placed:
        return "the program sent nothing" + (" (no answer to the SYN)" if role == SERVER else "")
    if progress < len(expected):
        want = expected[progress]
        return (
            f"every segment the program sent fits PROTOCOL.md, but after {last_placed} it sent "
            f"nothing more; PROTOCOL.md expected {want.what}, {want.wire()}"
        )
    return "every segment the program sent fits PROTOCOL.md; the conversation failed elsewhere"
