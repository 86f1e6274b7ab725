"""The dialect space: the variables implementations of the protocol bend, as ranges; the
recorded profiles as named points of it; and auto's learner (pure).

PROTOCOL.md is one point of a space. ``shared/dialects/`` records six implementations that
each move a few of the same variables, and every semester brings new ones that move them
elsewhere, so the space is written down as ranges (:data:`SPACE`), not as the six values.

Every number a segment carries is a small offset from what it answers or follows: the
SYN-ACK from the client's x (or the server's own number), the handshake ACK from x, the
length segment from the shared counter, its ACK from the length's SEQ (by the length's
digits or by a fixed number), the first chunk from the length ACK, each following chunk from
the previous ACK, and the close from the counter and the FIN. Data is numbered by byte
(SEQ = position, ACK = SEQ + length + k), by chunk end (SEQ = position + length, ACK = SEQ +
k), or by segment (SEQ = position, ACK = SEQ + k, the next one a fixed step on). Around the
numbers: SEQ zero-padding, filler DATA in control segments, the shape of the close, the
number and spacing of the closer's final copies, the largest datagram the peer reads, and
peers that read control segments with a buffer only as large as those they send themselves.
A :class:`Dialect` is one value of each; the engine computes every number it sends and
expects from the dialect's arithmetic, so a new dialect is a new value, never new code.

``auto`` (the default) is no point: :class:`Adaptation` starts at PROTOCOL.md and learns. A
value is taken only from a segment that can only mean it (the engine asks the explainers
here which rules explain what it saw: one rule, or none stale, or it waits); a refused
segment is a reason to try the next rule of :data:`RULES` (fixed order, bounded, each try
logged); when no rule is left, :meth:`Adaptation.give_up` says in one line what the peer did
and that no rule explains it. A hint (something another explanation also fits) changes what
auto sends but is never reported as a finding, and nothing is inferred from the profiles: a
segment size in particular is never shrunk on an inference.

Everything here is pure: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import DialectUnknown, InvalidArgument

AckTo = Literal["connection", "listener"]
SynAckSeq = Literal["client", "own"]
Numbering = Literal["start", "end", "segment"]
CloseShape = Literal["fin+ack", "ack,fin"]
CloseBase = Literal["fin", "own"]
LastFlag = Literal["ack", "fin"]
Spacing = Literal["timeout", "burst"]
ControlRead = Literal["any", "own"]

#: The space: every variable's values, PROTOCOL.md's first. For the numbers, the range is
#: from the smallest to the largest listed; the order is the one auto tries them in.
SPACE: dict[str, tuple[Any, ...]] = {
    "handshake_ack_to": ("connection", "listener"),
    "synack_seq": ("client", "own"),
    "synack_offset": (1, 0, 2, 3),
    "handshake_ack_offset": (2, 1, 3, 0),
    "length_seq_gap": (0, 1, 2),
    "length_ack": (None, 1, 2, 3),
    "data_seq_gap": (0, 1, 2),
    "data_seq": ("start", "end", "segment"),
    "data_ack": (0, 1, 2, 3),
    "chunk_gap": (0, 1, 2),
    "fin_seq_gap": (0, 1, 2),
    "close_shape": ("fin+ack", "ack,fin"),
    "close_base": ("fin", "own"),
    "close_answer_offset": (1, 0, 2),
    "last_ack_offset": (2, 1, 0, 3),
    "last_flag": ("ack", "fin"),
    "final_copies": (3, 1, 2, 4, 5),
    "final_spacing": ("timeout", "burst"),
    "seq_width": (0, 4, 5, 6, 8, 10),
    "control_filler": (b"", b"0", b"-", b"x", b"help"),
    "fin_filler": (b"", b"-", b"0", b"x"),
    "max_datagram": (None, 34, 48, 100, 1024, 4096),
    "control_read": ("any", "own"),
}
#: Fillers are any short DATA without the separator's character (the listed ones are samples).
MAX_FILLER = 8


@dataclass(frozen=True)
class Dialect:
    """One value of every variable (x: client ISN, z: the server's own number, s: length
    SEQ, d: digits of the length, n: a chunk's bytes, y: FIN SEQ). Defaults: PROTOCOL.md."""

    name: str = "canonical"
    summary: str = "PROTOCOL.md exactly"
    #: Where the client sends the handshake ACK, and where the server awaits it.
    handshake_ack_to: AckTo = "connection"
    #: SYN-ACK SEQ: the client's x + ``synack_offset``, or the server's own number z. A
    #: client of a dialect whose SYN-ACK is not x+1 takes any SYN-ACK (told by its flags).
    synack_seq: SynAckSeq = "client"
    synack_offset: int = 1
    #: Handshake ACK SEQ = x + this. The shared counter starts there.
    handshake_ack_offset: int = 2
    #: The length segment of each message starts at counter + this (s).
    length_seq_gap: int = 0
    #: The length segment's ACK: s + d when None, else s + this fixed number.
    length_ack: int | None = None
    #: The first chunk's position is the length ACK + this; each following chunk's is the
    #: previous chunk's ACK + ``chunk_gap``.
    data_seq_gap: int = 0
    chunk_gap: int = 0
    #: A chunk's SEQ: its position ("start" and "segment") or position + n ("end"). Its
    #: ACK: SEQ + n + ``data_ack`` ("start", bytes), SEQ + ``data_ack`` ("end", "segment":
    #: numbered per segment, a step of data_ack + chunk_gap each).
    data_seq: Numbering = "start"
    data_ack: int = 0
    #: The closer's FIN: y = counter + this.
    fin_seq_gap: int = 0
    #: The answer to FIN: one FIN+ACK segment, or an ACK then a FIN.
    close_shape: CloseShape = "fin+ack"
    #: The answer is numbered from y ("fin") or from the answerer's own SYN-ACK number z.
    close_base: CloseBase = "fin"
    #: The answer's SEQ = base + this.
    close_answer_offset: int = 1
    #: The closer's last segment: SEQ y + this, ...
    last_ack_offset: int = 2
    #: ... flagged ACK (or FIN, as one implementation does) ...
    last_flag: LastFlag = "ack"
    #: ... sent this many times, one timeout apart or back to back.
    final_copies: int = 3
    final_spacing: Spacing = "timeout"
    #: SEQ zero-padded to this many digits (0: plain decimal).
    seq_width: int = 0
    #: DATA carried by control segments (SYN, SYN-ACK, ACKs, FIN+ACK), and by the FIN.
    control_filler: bytes = b""
    fin_filler: bytes = b""
    #: The largest datagram the peer reads; chunks shrink to fit (None: no limit). Never
    #: inferred: only a profile or --dialect sets it.
    max_datagram: int | None = None
    #: "own": the peer reads a control segment with a buffer as large as its own control
    #: segments, so a longer one arrives cut short.
    control_read: ControlRead = "any"
    notes: str = ""

    def __post_init__(self) -> None:
        for name in VARIABLES:
            value, allowed = getattr(self, name), SPACE[name]
            if isinstance(value, bytes):
                if len(value) > MAX_FILLER or b"|" in value:
                    raise InvalidArgument(
                        f"dialect {self.name}: {name} must be at most {MAX_FILLER} bytes "
                        "without '|'"
                    )
            elif name == "max_datagram":
                if value is not None and not 24 <= value <= 65507:
                    raise InvalidArgument(f"dialect {self.name}: max_datagram must be >= 24")
            elif isinstance(value, int) and not isinstance(value, bool) and name != "length_ack":
                ints = [v for v in allowed if isinstance(v, int)]
                if not min(ints) <= value <= max(ints):
                    raise InvalidArgument(
                        f"dialect {self.name}: {name} must be {min(ints)}..{max(ints)}"
                    )
            elif value not in allowed and not (name == "length_ack" and value in (1, 2, 3)):
                choices = ", ".join(repr(v) for v in allowed)
                raise InvalidArgument(f"dialect {self.name}: {name} must be one of {choices}")
        if self.data_seq == "segment" and self.data_ack < 1:
            # an ACK equal to the SEQ would look like a re-ACK of where the peer stands
            raise InvalidArgument(f"dialect {self.name}: segment numbering needs data_ack >= 1")

    # ------------------------------------------------------------------ arithmetic
    def synack_for(self, x: int, own: int) -> int:
        return own if self.synack_seq == "own" else x + self.synack_offset

    def handshake_ack_for(self, x: int) -> int:
        return x + self.handshake_ack_offset

    def length_seq_for(self, counter: int) -> int:
        return counter + self.length_seq_gap

    def length_ack_for(self, s: int, digits: int) -> int:
        return s + (digits if self.length_ack is None else self.length_ack)

    def chunk_pos(self, ack: int, first: bool) -> int:
        """Where a chunk lies: after the length ACK (first) or the previous chunk's ACK."""
        return ack + (self.data_seq_gap if first else self.chunk_gap)

    def chunk_seq(self, pos: int, n: int) -> int:
        return pos + n if self.data_seq == "end" else pos

    def chunk_ack(self, seq: int, n: int) -> int:
        return seq + (n if self.data_seq == "start" else 0) + self.data_ack

    def plan(self, ack: int, sizes: Sequence[int]) -> list[tuple[int, int]]:
        """(SEQ, ACK) of each chunk of a message whose length was ACKed ``ack``: what a
        windowed sender numbers ahead with."""
        out = []
        first = True
        for n in sizes:
            seq = self.chunk_seq(self.chunk_pos(ack, first), n)
            ack = self.chunk_ack(seq, n)
            out.append((seq, ack))
            first = False
        return out

    def fin_seq_for(self, counter: int) -> int:
        return counter + self.fin_seq_gap

    def close_answer_for(self, y: int, z: int) -> int:
        return (y if self.close_base == "fin" else z) + self.close_answer_offset

    def last_seq_for(self, y: int) -> int:
        return y + self.last_ack_offset

    def control_length(self, seq: int, fin: bool = False) -> int:
        """Bytes of a control segment this dialect sends at ``seq`` (``fin``: a FIN)."""
        digits = max(self.seq_width, len(b"%d" % seq))
        return 15 + digits + len(self.fin_filler if fin else self.control_filler)

    @property
    def byte_numbered(self) -> bool:
        """Data and ACKs are numbered as PROTOCOL.md numbers them (the fast path's wire)."""
        return (
            self.data_seq == "start"
            and self.data_ack == 0
            and self.data_seq_gap == 0
            and self.chunk_gap == 0
        )

    @property
    def canonical_wire(self) -> bool:
        """Segments are byte-identical to PROTOCOL.md's (the engine's fast path needs it)."""
        return all(getattr(self, v) == getattr(CANONICAL, v) for v in WIRE_VARIABLES)

    def values(self) -> dict[str, Any]:
        return {v: getattr(self, v) for v in VARIABLES}


#: Every variable a dialect bends (the fields above but the descriptive ones).
VARIABLES: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Dialect) if f.name not in ("name", "summary", "notes")
)
CANONICAL = Dialect()
#: What a windowed sender must know to number every segment of a message ahead.
NUMBERING = (
    "length_ack",
    "length_seq_gap",
    "data_seq_gap",
    "data_seq",
    "data_ack",
    "chunk_gap",
)
#: What places and ACKs every chunk after the first (the engine's byte matching needs it).
DATA_NUMBERING = ("data_seq", "data_ack", "chunk_gap")
#: Variables that change the bytes of a steady-state data segment or ACK.
WIRE_VARIABLES = (
    "length_ack",
    "data_seq_gap",
    "chunk_gap",
    "data_seq",
    "data_ack",
    "seq_width",
    "control_filler",
    "max_datagram",
)
assert set(SPACE) == set(VARIABLES), "every variable has a range, every range a variable"

# fmt: off
PROFILES: dict[str, Dialect] = {d.name: d for d in (
    CANONICAL,
    Dialect(
        name="four-final-acks", summary="canonical; last ACK sent 4 times; reads 48 bytes",
        final_copies=4, max_datagram=48,
        notes="recorded D1: no handshake timer, so a lost handshake ACK livelocks it",
    ),
    Dialect(
        name="zero-padded", summary="SEQ zero-padded to 8 digits; one last ACK",
        seq_width=8, final_copies=1, control_read="own",
        notes="recorded D2: reads control segments with 23 bytes",
    ),
    Dialect(
        name="listener-ack-filler",
        summary="handshake ACK to the listener; filler DATA in control segments",
        handshake_ack_to="listener", control_filler=b"0", fin_filler=b"-", max_datagram=100,
        notes="recorded D3",
    ),
    Dialect(
        name="listener-ack-plus2",
        summary="handshake ACK to the listener; length ACK s+2; last segment is a FIN burst",
        handshake_ack_to="listener", length_ack=2, last_flag="fin", final_spacing="burst",
        max_datagram=34,
        notes="recorded D4: a 3-digit length livelocks it; it does not check data SEQ",
    ),
    Dialect(
        name="own-isn-four-way",
        summary="SYN-ACK with the server's own number; ACK x+1; ACK then FIN in own numbering",
        synack_seq="own", handshake_ack_offset=1, close_shape="ack,fin", close_base="own",
        last_ack_offset=1, max_datagram=1024,
        notes="recorded D5: takes the first data segment as the handshake ACK",
    ),
    Dialect(
        name="end-numbered",
        summary="each element one past the counter; chunk SEQ = its end; ACK = same number",
        length_seq_gap=1, length_ack=1, data_seq_gap=1, data_seq="end", fin_seq_gap=1,
        close_answer_offset=0, last_ack_offset=0, max_datagram=4096,
        notes="recorded D6",
    ),
)}
# fmt: on

#: Dialects none of the recorded implementations speaks, built from the same variables:
#: proof that a new dialect is a value, not code (tests speak them against ``auto``).
SYNTHETIC = Dialect(
    name="synthetic",
    summary="not recorded: listener ACK, 5-digit SEQ, filler 'x', length ACK s+3, FIN burst",
    handshake_ack_to="listener",
    seq_width=5,
    control_filler=b"x",
    fin_filler=b"x",
    length_ack=3,
    last_flag="fin",
    final_copies=2,
    final_spacing="burst",
)
SEGMENT_NUMBERED = Dialect(
    name="segment-numbered",
    summary="not recorded: chunks numbered one per segment, ACK = SEQ + 1, step 1",
    data_seq="segment",
    data_ack=1,
    length_ack=1,
)
EXTRA: dict[str, Dialect] = {d.name: d for d in (SYNTHETIC, SEGMENT_NUMBERED)}

AUTO = "auto"


def names() -> list[str]:
    return [AUTO, *PROFILES, *EXTRA]


def resolve(dialect: str | Dialect) -> Dialect | None:
    """The profile named (None for ``auto``); a Dialect value passes through."""
    if isinstance(dialect, Dialect):
        return dialect
    if dialect == AUTO:
        return None
    found = PROFILES.get(dialect) or EXTRA.get(dialect)
    if found is None:
        raise InvalidArgument(f"unknown dialect {dialect!r}; choose one of: {', '.join(names())}")
    return found


# ------------------------------------------------------------------ what explains a segment
# Pure: given what was sent and what came back, the rules of the space that explain it.
def length_ack_rules(s: int, digits: int, ack: int) -> list[int | None]:
    """The length-ACK rules under which ``ack`` answers a length at ``s`` with ``digits``
    digits (more than one: this ACK does not tell them apart)."""
    return [k for k in SPACE["length_ack"] if s + (digits if k is None else k) == ack]


def chunk_ack_rules(seq: int, n: int, ack: int, sent: Numbering) -> list[tuple[Numbering, int]]:
    """(numbering, data_ack) under which ``ack`` answers a chunk of ``n`` bytes sent at
    ``seq`` as ``sent`` numbers it: the peer took that SEQ, so only the ACK's arithmetic
    is open (a byte-numbered SEQ is also a segment-numbered one)."""
    acks = SPACE["data_ack"]
    found: list[tuple[Numbering, int]] = []
    if sent == "end":
        if ack - seq in acks:
            found.append(("end", ack - seq))
        return found
    if ack - seq - n in acks:
        found.append(("start", ack - seq - n))
    if ack - seq in acks and ack - seq >= 1:
        found.append(("segment", ack - seq))
    return found


def first_chunk_rules(seq: int, n: int, base: int) -> list[tuple[Numbering, int]]:
    """(numbering, data_seq_gap) under which a first chunk of ``n`` bytes at ``seq``
    follows a length ACKed ``base``; a SEQ "start" explains, "segment" explains too."""
    gaps = SPACE["data_seq_gap"]
    found: list[tuple[Numbering, int]] = []
    if seq - base in gaps:
        found.append(("start", seq - base))
    if seq - base - n in gaps:
        found.append(("end", seq - base - n))
    return found


def ack_rules_for(numbering: Numbering) -> list[tuple[Numbering, int]]:
    """What a receiver may ACK a chunk with, in the order it tries them, once the chunk's
    SEQ showed ``numbering`` ("start" SEQs are also "segment" ones)."""
    if numbering == "end":
        return [("end", k) for k in SPACE["data_ack"]]
    rules: list[tuple[Numbering, int]] = [("start", 0), ("segment", 1)]
    rules += [("segment", k) for k in SPACE["data_ack"] if k > 1]
    rules += [("start", k) for k in SPACE["data_ack"] if k > 0]
    return rules


def synack_rule(x: int, z: int) -> tuple[SynAckSeq, int]:
    """(synack_seq, synack_offset) a SYN-ACK numbered ``z`` shows for a SYN at ``x``."""
    if z - x in SPACE["synack_offset"]:
        return "client", z - x
    return "own", CANONICAL.synack_offset


def seq_width_of(field: bytes) -> int:
    """The zero-padding a SEQ field shows (0: none; a lone "0" shows nothing)."""
    return len(field) if len(field) > 1 and field[:1] == b"0" else 0


# ------------------------------------------------------------------------- the learner
@dataclass(frozen=True)
class Finding:
    """One variable the peer was seen to bend; ``inferred``: not seen in a segment of its
    own (``hint``: used on a hint; else the working value of a variable the peer never
    showed). Inferred ones are never reported as found."""

    variable: str
    value: Any
    canonical: Any
    segment: str  # what showed it
    inferred: bool = False
    hint: bool = False

    def describe(self) -> str:
        how = "a hint from" if self.hint else "assumed:" if self.inferred else "seen in"
        value, canonical = self.value, self.canonical
        return f"{self.variable}={value!r} (canonical {canonical!r}), {how} {self.segment}"


#: The rules auto tries, in order, when the peer refuses what it sent: each a set of
#: values of the variables it names. Bounded by their number.
RULES: dict[str, tuple[dict[str, Any], ...]] = {
    # client: the server re-sends its SYN-ACK, so it did not take our handshake ACK (where
    # it awaits it is not tried: the ACK also goes to the listener then, a hint)
    "handshake": tuple({"handshake_ack_offset": h} for h in SPACE["handshake_ack_offset"]),
    # sender: the receiver re-ACKs where it stands instead of taking our length segment
    "length": tuple({"length_seq_gap": g} for g in SPACE["length_seq_gap"]),
    # receiver: the sender repeats its length segment whatever we ACK
    "length_ack": tuple({"length_ack": k} for k in SPACE["length_ack"]),
    # sender: the receiver re-ACKs the length ACK instead of taking our first chunk
    "numbering": tuple(
        {"data_seq": kind, "data_seq_gap": g}
        for g in SPACE["data_seq_gap"]
        for kind in ("start", "end")
    ),
    # sender: the receiver re-ACKs the first chunk's ACK instead of taking the second
    "chunk_gap": tuple({"chunk_gap": g} for g in SPACE["chunk_gap"]),
    # closer: the FIN is not answered
    "fin": tuple({"fin_seq_gap": g} for g in SPACE["fin_seq_gap"]),
    # answerer: the FIN comes again, so our answer was not taken
    "close_answer": (
        {"close_shape": "fin+ack", "close_base": "fin", "close_answer_offset": 1},
        {"close_shape": "fin+ack", "close_base": "fin", "close_answer_offset": 0},
        {"close_shape": "ack,fin", "close_base": "own", "close_answer_offset": 1},
        {"close_shape": "fin+ack", "close_base": "fin", "close_answer_offset": 2},
        {"close_shape": "fin+ack", "close_base": "own", "close_answer_offset": 1},
    ),
}
#: Structural priors: a value seen makes another the first one worth using (never reported;
#: replaced as soon as that variable shows itself). A peer that numbers one element one
#: past the counter likely numbers its FIN so; one that numbers its SYN-ACK from its own
#: ISN cannot expect x+2 for the handshake ACK that follows it.
PRIORS: dict[str, dict[str, dict[Any, Any]]] = {
    "length_seq_gap": {"fin_seq_gap": {1: 1, 2: 2}},
    "synack_seq": {"handshake_ack_offset": {"own": 1}},
}
#: What each family's rules number, for the diagnosis.
NOUNS = {
    "handshake": "handshake ACK",
    "length": "length-segment",
    "length_ack": "length-ACK",
    "numbering": "numbering",
    "data_ack": "numbering",
    "chunk_gap": "chunk-spacing",
    "fin": "FIN",
    "close_answer": "close",
}
#: How many times a rule may be refused before the next is tried.
REFUSALS_PER_RULE = 2
#: An answer no rule explains, seen this many times, ends the connection.
UNEXPLAINED_LIMIT = 3


@dataclass
class Adaptation:
    """``auto``: the working dialect, what the peer has shown, and what was tried.

    Observations in (``observe``, ``refused``, ``unexplained``), rules out (``current``).
    ``observe`` takes a value the engine saw in a segment that can only mean it; a value
    that contradicts one already confirmed is ignored (an old or duplicated segment
    explains it). ``try_next`` moves a family to its next rule (``RULES``), ``accepted``
    confirms the working one once the peer takes it. Variables not seen keep PROTOCOL.md's
    value or the working rule: nothing is inferred from the profiles.
    """

    current: Dialect = field(default_factory=lambda: dataclasses.replace(CANONICAL, name=AUTO))
    seen: dict[str, Any] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)
    hints: list[Finding] = field(default_factory=list)
    #: One line per rule tried (``--debug`` and the trace print them).
    log: list[str] = field(default_factory=list)
    #: Rules tried so far, per family (the bound).
    tried: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Unexplained answers counted, per description of what the peer did.
    unexplained_seen: dict[str, int] = field(default_factory=dict)
    #: Values set but not yet in use: with the others they would leave the space.
    pending: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ observations
    def observe(self, variable: str, value: Any, segment: bytes | str) -> bool:
        """The peer showed ``variable`` = ``value``; True if the working dialect changed."""
        shown = segment if isinstance(segment, str) else repr(segment)
        if variable in self.seen:
            return False  # confirmed already: a different value is an old segment's
        self.seen[variable] = value
        self.confirmed.add(variable)
        if value != getattr(CANONICAL, variable):
            self.findings.append(Finding(variable, value, getattr(CANONICAL, variable), shown))
        return self._set({variable: value})

    def hint(self, variable: str, value: Any, why: str) -> bool:
        """Use ``value`` but report nothing: what showed it has another explanation too."""
        if variable in self.seen or any(h.variable == variable for h in self.hints):
            return False
        shown = f"{why} (a hint)"
        canonical = getattr(CANONICAL, variable)
        self.hints.append(Finding(variable, value, canonical, shown, inferred=True, hint=True))
        self.log.append(f"hint: {variable}={value!r} ({why})")
        return self._set({variable: value})

    def accepted(self, family: str, segment: bytes | str) -> None:
        """The peer took what we sent with the family's working rule: confirmed (and, if
        it deviates from PROTOCOL.md, a finding)."""
        if family not in RULES:
            raise InvalidArgument(f"no rule family {family!r}")
        shown = segment if isinstance(segment, str) else repr(segment)
        for variable in RULES[family][0]:
            if variable not in self.seen:
                self.observe(variable, getattr(self.current, variable), f"{shown} (taken)")

    def confirm(self, segment: bytes | str, *variables: str) -> None:
        """The working values of ``variables`` work with this peer (``segment`` showed it):
        never try others."""
        for variable in variables:
            if variable not in self.seen:
                self.observe(variable, getattr(self.current, variable), segment)

    def assume(self, values: dict[str, Any], why: str) -> bool:
        """Work with ``values`` (what explains the peer best so far) without confirming or
        reporting them; True if the working dialect changed."""
        values = {k: v for k, v in values.items() if k not in self.seen}
        changed = self._set(values)
        if changed:
            self.log.append(f"assuming {', '.join(f'{k}={v!r}' for k, v in values.items())}: {why}")
        return changed

    def assumed(self) -> list[Finding]:
        """The working values of variables the peer never showed, where they are not
        PROTOCOL.md's (what a peer speaking this dialect fixed would need too)."""
        hinted = {h.variable for h in self.hints}
        return [
            Finding(v, getattr(self.current, v), getattr(CANONICAL, v), "the working rule", True)
            for v in VARIABLES
            if v not in self.seen
            and v not in hinted
            and getattr(self.current, v) != getattr(CANONICAL, v)
        ]

    def known(self, *variables: str) -> bool:
        return all(v in self.confirmed for v in variables)

    # ------------------------------------------------------------------ refusals
    def try_next(self, family: str, why: str) -> bool:
        """The peer refused the family's working rule (``why``: what it did): adopt the next
        untried rule. False when every rule was tried or the family is confirmed."""
        rules = RULES[family]
        if all(v in self.confirmed for v in rules[0]):
            return False
        tried = self.tried.setdefault(family, [])
        now = {v: getattr(self.current, v) for v in rules[0]}
        if now not in tried:
            tried.append(now)
        for rule in self._ordered(family):
            if rule not in tried:
                tried.append(rule)
                self.log.append(f"trying {', '.join(f'{k}={v!r}' for k, v in rule.items())}: {why}")
                self._set(rule)
                return True
        return False

    def tries(self, family: str) -> int:
        return len(self.tried.get(family, ()))

    def _ordered(self, family: str) -> list[dict[str, Any]]:
        """The family's rules, those agreeing with a structural prior first: a peer that
        numbers one element one past the counter likely numbers the others so."""
        rules = list(RULES[family])
        past = self.seen.get("length_seq_gap", 0) or self.seen.get("fin_seq_gap", 0)
        if family == "numbering" and past:
            rules.sort(key=lambda r: r["data_seq_gap"] != past)
        elif family == "fin" and past:
            rules.sort(key=lambda r: r["fin_seq_gap"] != past)
        elif family == "close_answer" and past:
            rules.sort(key=lambda r: r["close_answer_offset"] != 0)
        elif family == "handshake" and self.seen.get("synack_seq") == "own":
            rules.sort(key=lambda r: r["handshake_ack_offset"] != 1)
        return rules

    def unexplained(self, what: str) -> bool:
        """The peer answered in a way no rule explains (``what``: one line of it): True once
        it did so ``UNEXPLAINED_LIMIT`` times, the engine then gives up."""
        count = self.unexplained_seen.get(what, 0) + 1
        self.unexplained_seen[what] = count
        if count == 1:
            self.log.append(f"unexplained: {what}")
        return count >= UNEXPLAINED_LIMIT

    def give_up(self, what: str, family: str) -> DialectUnknown:
        """The one-line diagnosis: what the peer did, and that no rule of the family fits."""
        tries = max(self.tries(family), self.unexplained_seen.get(what, 0), 1)
        noun = NOUNS.get(family, family)
        plural = "try" if tries == 1 else "tries"
        return DialectUnknown(f"{what}; no {noun} rule fits after {tries} {plural}; try --dialect")

    # ------------------------------------------------------------------ the working dialect
    def _set(self, values: dict[str, Any]) -> bool:
        """Work with ``values``; a combination outside the space (segment numbering with
        data_ack 0, say: one of two values seen in turn) waits for the rest. What the
        structural priors make of a new value follows it where nothing was seen."""
        before = self.current
        self.pending.update(values)
        for variable, value in values.items():
            for target, prior in PRIORS.get(variable, {}).items():
                if target not in self.seen and target not in values:
                    self.pending[target] = prior.get(value, getattr(CANONICAL, target))
        try:
            self.current = dataclasses.replace(before, **self.pending)
        except InvalidArgument:
            return False
        self.pending.clear()
        return self.current != before


# ------------------------------------------------------------------ telling answers apart
@dataclass
class Refusals:
    """Sender: is the peer refusing the segment in flight, or are these old copies?

    A peer that refuses a segment re-ACKs where it stands, once per copy it gets. So may
    the answers to our transmissions of the previous segment not heard yet, and two
    duplicates. A standing ACK counts as a refusal only beyond that allowance, and once per
    transmission of the segment refused (``sent`` marks one, ``answered`` an answer)."""

    allowance: int = 2
    heard: int = 0
    sends: int = 0
    answers: int = 0
    counted_at: int = -1
    count: int = 0

    def restart(self, previous_sends: int, previous_answers: int = 1) -> None:
        """A new segment is in flight; the one before it was sent ``previous_sends`` times
        and ``previous_answers`` answers to it came."""
        self.allowance = max(previous_sends - max(previous_answers, 1), 0) + 2
        self.heard = self.sends = self.answers = self.count = 0
        self.counted_at = -1

    def restart_with(self, allowance: int) -> None:
        """A new segment is in flight, and ``allowance`` standing answers are expected."""
        self.allowance = allowance
        self.heard = self.sends = self.answers = self.count = 0
        self.counted_at = -1

    def next_rule(self) -> None:
        """The segment goes out under another rule: its refusals count anew (one refusal
        of the last rule may still be on its way)."""
        self.allowance = 1
        self.heard = self.sends = self.answers = self.count = 0
        self.counted_at = -1

    def sent(self) -> None:
        self.sends += 1

    def standing(self) -> bool:
        """A standing ACK arrived: True when it counts as one more refusal."""
        self.heard += 1
        if self.heard <= self.allowance or self.counted_at == self.sends:
            return False
        self.counted_at = self.sends
        self.count += 1
        return True


@dataclass
class Sightings:
    """An answer the working rule does not predict is adopted only when it answered each of
    our last ``need`` transmissions, and nothing else did: a late or duplicated copy of an
    earlier answer can fill one more of them, never all (a peer that tries its own rules
    answers each repeat differently)."""

    need: int = 3
    slots: dict[int, set[int]] = field(default_factory=dict)

    def seen(self, value: int, slot: int) -> bool:
        self.slots.setdefault(slot, set()).add(value)
        return all(self.slots.get(s) == {value} for s in range(slot - self.need + 1, slot + 1))

    def clear(self) -> None:
        self.slots.clear()


@dataclass
class Rotation:
    """Receiver: the sender repeats the segment we answered, so our ACK's arithmetic is
    not its own. The first rule (the working one) is kept for ``hold`` repeats (one lost
    ACK is common), then each repeat tries the next; the list cycles, since a repeat may
    also mean a lost ACK, ``cycles`` times at most (then no rule fits).

    After the first cycle the working rule comes back between any two others: a sender of
    the working rule whose ACKs were lost would hear it only once a cycle, five answers in
    all (at 30% loss all five are lost for one connection in 400, which then fails), while
    a sender of another rule has met every rule once by then and keeps meeting them."""

    rules: list[Any]
    hold: int = 3
    cycles: int = 2
    repeats: int = 0
    index: int = 0
    at: float = 0.0

    @property
    def rule(self) -> Any:
        n, i = len(self.rules), self.index
        if i < n or n == 1:
            return self.rules[i % n]
        k = i - n  # later cycles: the working rule, then the next other one, in turn
        return self.rules[0] if k % 2 == 0 else self.rules[1 + (k // 2) % (n - 1)]

    def repeated(self, now: float = 0.0, spacing: float = 0.0) -> bool:
        """One more repeat at ``now``: True if the rule changed (``rule``), False if it is
        kept. Copies less than ``spacing`` after the last one counted are one transmission
        (a duplicate)."""
        if self.repeats and now - self.at < spacing:
            return False
        self.at = now
        self.repeats += 1
        if self.repeats < self.hold:
            return False
        self.index += 1
        return True

    @property
    def exhausted(self) -> bool:
        n = len(self.rules)
        return self.index >= (n + 2 * (n - 1) * (self.cycles - 1) if n > 1 else self.cycles)


def describe(findings: Iterable[Finding]) -> str:
    """One line: what the peer was seen to bend, and the profiles that bend it so."""
    found = [f for f in findings if not f.inferred]
    if not found:
        return "peer dialect: canonical (no deviation seen)"
    seen = {f.variable: f.value for f in found}
    like = [
        p.name
        for p in PROFILES.values()
        if p is not CANONICAL and all(getattr(p, k) == v for k, v in seen.items())
    ]
    guess = f"like {', '.join(like)}" if like else "no recorded profile"
    return f"peer dialect: {guess}; " + "; ".join(f.describe() for f in found)


def table() -> list[dict[str, Any]]:
    """Every profile with every variable, for ``fsm-tcp dialects`` and the README."""
    return [
        {"name": p.name, "summary": p.summary, **p.values(), "notes": p.notes}
        for p in (*PROFILES.values(), *EXTRA.values())
    ]


def deviations(dialect: Dialect) -> str:
    """The variables ``dialect`` bends, as ``name=value`` pairs (empty: canonical)."""
    return ", ".join(
        f"{v}={_show(getattr(dialect, v))}"
        for v in VARIABLES
        if getattr(dialect, v) != getattr(CANONICAL, v)
    )


def _show(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)
