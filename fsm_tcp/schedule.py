"""Scripted faults: name a segment by kind, direction and occurrence, and drop, duplicate,
delay or reorder exactly that one.

Sans-IO and pure: :class:`Classifier` labels each datagram of one conversation from its
bytes and what came before; :class:`Scheduler` matches the labels against a
:class:`Schedule` and says what should happen to the datagram. The proxy acts on the answer.

The classifier reads phases, not arithmetic, so it follows every recorded dialect
(../shared/dialects): a handshake ACK arriving at the listener, SEQ with leading zeros,
filler DATA in control segments, a length ACK of s+1, s+d or s+2, data numbered by chunk
end, a FIN+ACK in one segment or a separate ACK then FIN, a last ACK that carries FIN.

Text form (``fsm-tcp proxy --schedule``, ``fsm-tcp check``): rules separated by commas,
each ``ACTION:KIND[:DIR][:OCCURRENCE]``::

    drop:data:c2s:last,dup:ack-data:s2c:1,delay=200:fin,reorder:hs-ack

ACTION is ``drop``, ``dup``, ``dup-late`` (the copy goes after the next datagram in the same
direction), ``delay=MS`` or ``reorder`` (held until the next datagram in the same direction
has gone). DIR is ``c2s`` (from the side that connects) or ``s2c``; omitted, either.
OCCURRENCE is ``first`` (default), ``last`` or N (1-based), counted over distinct segments
of that kind: retransmissions are copies of the same occurrence, and a rule acts on the
first copy only, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import InvalidArgument, MalformedSegment
from .segment import parse

C2S, S2C = "c2s", "s2c"
DIRECTIONS = (C2S, S2C)
KINDS = (
    "syn",
    "syn-ack",
    "hs-ack",
    "length",
    "data",
    "ack-length",
    "ack-data",
    "fin",
    "fin-ack",
    "last-ack",
)
#: Not a kind a rule can name: malformed datagrams and segments no phase explains.
OTHER = "other"
ACTIONS = ("drop", "dup", "dup-late", "delay", "reorder")
FIRST, LAST = "first", "last"


@dataclass(frozen=True)
class Label:
    """What a datagram is in its conversation."""

    kind: str
    direction: str
    index: int = 0  # 1-based distinct occurrence of this kind in this direction
    copy: int = 1  # 1 = first transmission, 2.. = retransmissions and duplicates
    last: bool = False  # the last data segment of a message, or the ACK of it

    def __str__(self) -> str:
        tail = " (last)" if self.last else ""
        again = f" copy {self.copy}" if self.copy > 1 else ""
        return f"{self.kind} #{self.index} {self.direction}{again}{tail}"


def _other(direction: str) -> str:
    return S2C if direction == C2S else C2S


@dataclass
class _Message:
    """One send(): who sends it and how far its data and ACKs have come."""

    sender: str
    length_seq: int
    length: int | None  # None: the length DATA was not a number
    data_seqs: dict[int, int] = field(default_factory=dict)  # seq -> index within message
    data_bytes: int = 0
    last_data_index: int = 0  # index of the data segment that completed the message
    ack_values: dict[int, int] = field(default_factory=dict)  # value -> 0 (length) or k
    ack_max: int = -1

    @property
    def complete(self) -> bool:
        return self.length is not None and self.data_bytes >= self.length


class Classifier:
    """Labels the datagrams of one conversation, in the order they were sent."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._seen: dict[tuple[str, str, object], tuple[int, int]] = {}  # key -> index, copies
        self._messages: list[_Message] = []
        self._hs_ack_seq: int | None = None
        self._fin_by: str | None = None  # who sent the first FIN
        self._fin_seq: int | None = None
        self._fin_answered = False

    # ------------------------------------------------------------------ entry point
    def classify(self, datagram: bytes, direction: str) -> Label:
        try:
            seg = parse(datagram)
        except MalformedSegment:
            return Label(OTHER, direction)
        flags = (seg.syn, seg.ack, seg.fin)
        if flags == (True, False, False):
            return self._label("syn", direction, seg.seq)
        if seg.syn and seg.ack:
            return self._label("syn-ack", direction, seg.seq)
        if seg.syn:
            return Label(OTHER, direction)
        if seg.fin or self._fin_by is not None:
            return self._closing(flags, direction, seg.seq, seg.data)
        if not seg.ack:
            return self._data(direction, seg.seq, seg.data)
        return self._ack(direction, seg.seq)

    # ------------------------------------------------------------------ bookkeeping
    def _label(self, kind: str, direction: str, key: object, last: bool = False) -> Label:
        """The occurrence ``key`` names: a new index the first time, a further copy after."""
        seen = self._seen.get((kind, direction, key))
        if seen is None:
            index = self._counts.get((kind, direction), 0) + 1
            self._counts[(kind, direction)] = index
            self._seen[(kind, direction, key)] = (index, 1)
            return Label(kind, direction, index, 1, last)
        index, copies = seen
        self._seen[(kind, direction, key)] = (index, copies + 1)
        return Label(kind, direction, index, copies + 1, last)

    @property
    def _current(self) -> _Message | None:
        return self._messages[-1] if self._messages else None

    # ------------------------------------------------------------------ data phase
    def _data(self, direction: str, seq: int, data: bytes) -> Label:
        msg = self._current
        if msg is not None and msg.sender == direction:
            if seq == msg.length_seq:
                return self._label("length", direction, (len(self._messages), seq))
            if seq in msg.data_seqs or not msg.complete:
                return self._chunk(msg, seq, data)
        elif msg is not None and not msg.complete:
            return Label(OTHER, direction)  # the receiver sends data mid-message: no phase
        return self._new_message(direction, seq, data)

    def _new_message(self, direction: str, seq: int, data: bytes) -> Label:
        text = data.strip()
        length = int(text) if text.isdigit() and len(text) < 19 else None
        self._messages.append(_Message(direction, seq, length))
        return self._label("length", direction, (len(self._messages), seq))

    def _chunk(self, msg: _Message, seq: int, data: bytes) -> Label:
        """A data segment: distinct by SEQ (a retransmission repeats it, whichever way the
        dialect numbers chunks); the one that completes the announced length is the last."""
        if seq not in msg.data_seqs:
            msg.data_seqs[seq] = len(msg.data_seqs) + 1
            msg.data_bytes += len(data)
            if msg.complete and not msg.last_data_index:
                msg.last_data_index = msg.data_seqs[seq]
        last = msg.data_seqs[seq] == msg.last_data_index
        return self._label("data", msg.sender, (len(self._messages), seq), last)

    def _ack(self, direction: str, value: int) -> Label:
        msg = self._current
        if msg is None or msg.sender == direction:
            return self._handshake_ack(direction, value)
        return self._message_ack(msg, direction, value)

    def _handshake_ack(self, direction: str, value: int) -> Label:
        """A pure ACK before any message, or from the side that sends the current one."""
        if direction != C2S:
            return Label(OTHER, direction)
        if self._hs_ack_seq is None and not self._messages:
            self._hs_ack_seq = value
        if value == self._hs_ack_seq or not self._messages:
            # one handshake, one occurrence: a recovery ACK (D3's "help") is a copy of it
            return self._label("hs-ack", direction, "handshake")
        return Label(OTHER, direction)

    def _message_ack(self, msg: _Message, direction: str, value: int) -> Label:
        """The receiver's ACKs, in order of new values: the length's, then one per chunk.
        A value seen before is a copy (a re-ACK), whatever the dialect's arithmetic."""
        step = msg.ack_values.get(value)
        if step is None:
            if value < msg.ack_max:
                return Label(OTHER, direction)  # a stale number no segment explains
            step = len(msg.ack_values)
            msg.ack_values[value] = step
            msg.ack_max = value
        key = (len(self._messages), step)
        if step == 0:
            return self._label("ack-length", direction, key)
        last = bool(msg.last_data_index) and step == msg.last_data_index
        return self._label("ack-data", direction, key, last)

    # ------------------------------------------------------------------ teardown
    def _closing(
        self, flags: tuple[bool, bool, bool], direction: str, seq: int, data: bytes
    ) -> Label:
        if self._fin_by is None:
            self._fin_by, self._fin_seq = direction, seq
            return self._label("fin", direction, seq)
        if direction == self._fin_by:
            return self._closer(flags, direction, seq, data)
        # the other side: FIN+ACK, or D5's separate ACK, then its own FIN
        if flags == (False, False, True):
            return self._label("fin", direction, "own")
        msg = self._current
        if flags == (False, True, False) and msg is not None and seq in msg.ack_values:
            return self._message_ack(msg, direction, seq)  # a late re-ACK of data (D3)
        self._fin_answered = True
        return self._label("fin-ack", direction, "answer")

    def _closer(
        self, flags: tuple[bool, bool, bool], direction: str, seq: int, data: bytes
    ) -> Label:
        if flags == (False, False, True) and seq == self._fin_seq:
            return self._label("fin", direction, seq)  # the FIN again
        if self._fin_answered or flags[1]:
            # the last ACK, also when it carries FIN (D4) instead of ACK
            return self._label("last-ack", direction, "last")
        if flags == (False, False, False):
            return self._data(direction, seq, data)
        return Label(OTHER, direction)


# ---------------------------------------------------------------------- schedules
@dataclass(frozen=True)
class Rule:
    action: str
    kind: str
    direction: str | None = None
    occurrence: str | int = FIRST
    delay_ms: float = 0.0

    def matches(self, label: Label) -> bool:
        if label.kind != self.kind or label.copy != 1:
            return False
        if self.direction is not None and label.direction != self.direction:
            return False
        if self.occurrence == FIRST:
            return label.index == 1
        if self.occurrence == LAST:
            return label.last or (label.kind not in ("data", "ack-data") and label.index == 1)
        return label.index == self.occurrence

    def __str__(self) -> str:
        action = f"delay={self.delay_ms:g}" if self.action == "delay" else self.action
        parts = [action, self.kind]
        if self.direction:
            parts.append(self.direction)
        parts.append(str(self.occurrence))
        return ":".join(parts)


@dataclass(frozen=True)
class Schedule:
    rules: tuple[Rule, ...] = ()

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)


def parse_schedule(text: str) -> Schedule:
    """The text form (module docstring); InvalidArgument says what is wrong, in one line."""
    rules = [parse_rule(part) for part in text.split(",") if part.strip()]
    return Schedule(tuple(rules))


def parse_rule(text: str) -> Rule:
    fields = [f.strip().lower() for f in text.strip().split(":")]
    if len(fields) < 2 or len(fields) > 4:
        raise InvalidArgument(f"schedule rule {text!r}: expected ACTION:KIND[:DIR][:OCCURRENCE]")
    action, delay = _action(fields[0], text)
    kind = fields[1]
    if kind not in KINDS:
        raise InvalidArgument(
            f"schedule rule {text!r}: unknown kind {kind!r}; one of {', '.join(KINDS)}"
        )
    direction: str | None = None
    occurrence: str | int = FIRST
    for extra in fields[2:]:
        if extra in DIRECTIONS:
            direction = extra
        else:
            occurrence = _occurrence(extra, text)
    return Rule(action, kind, direction, occurrence, delay)


def _action(text: str, rule: str) -> tuple[str, float]:
    name, _, arg = text.partition("=")
    if name not in ACTIONS:
        raise InvalidArgument(
            f"schedule rule {rule!r}: unknown action {name!r}; one of {', '.join(ACTIONS)}"
        )
    if name != "delay":
        if arg:
            raise InvalidArgument(f"schedule rule {rule!r}: only delay takes a value (delay=MS)")
        return name, 0.0
    try:
        ms = float(arg)
    except ValueError:
        raise InvalidArgument(
            f"schedule rule {rule!r}: delay needs milliseconds, as delay=200"
        ) from None
    if not 0 <= ms <= 600_000:
        raise InvalidArgument(f"schedule rule {rule!r}: delay must be 0..600000 ms")
    return name, ms


def _occurrence(text: str, rule: str) -> str | int:
    if text in (FIRST, LAST):
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise InvalidArgument(
        f"schedule rule {rule!r}: {text!r} is neither a direction (c2s, s2c) nor an "
        "occurrence (first, last, N >= 1)"
    )


@dataclass(frozen=True)
class Decision:
    """What to do with one datagram: ``action`` is "pass" or a rule's action."""

    label: Label
    action: str = "pass"
    delay: float = 0.0  # seconds, for "delay"
    rule: Rule | None = None


class Scheduler:
    """One conversation's classifier plus the schedule's rules, each firing at most once."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.classifier = Classifier()
        self._fired: set[int] = set()

    def decide(self, datagram: bytes, direction: str) -> Decision:
        label = self.classifier.classify(datagram, direction)
        for i, rule in enumerate(self.schedule.rules):
            if i not in self._fired and rule.matches(label):
                self._fired.add(i)
                return Decision(label, rule.action, rule.delay_ms / 1000, rule)
        return Decision(label)

    def unfired(self) -> list[Rule]:
        """Rules whose segment never came (a scenario that did not test what it names)."""
        return [r for i, r in enumerate(self.schedule.rules) if i not in self._fired]
