"""The variables other implementations of the protocol bend, and the named profiles (data only).

PROTOCOL.md is one point in a space of dialects: ``shared/dialects/`` records six
implementations that each move a few of the same variables (where the handshake ACK goes,
how the SYN-ACK and the length segment are numbered, how a chunk is numbered, how the close
is shaped, how segments are padded). A :class:`Dialect` is one value of every variable; the
engine computes every number it sends and expects from the dialect it was given, so a new
dialect is a new value here, never new code.

``auto`` (the default) is no profile: the engine starts canonical and adapts (see
:class:`Adaptation`): each deviation it sees from the peer sets that variable; variables it
cannot see before it must use them are taken from the profiles that agree with everything
seen so far. The profiles are therefore also the engine's knowledge of the family.

Everything here is pure: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import InvalidArgument

AckTo = Literal["connection", "listener"]
SynAckSeq = Literal["client+1", "own"]
Numbering = Literal["start", "end"]
CloseShape = Literal["fin+ack", "ack,fin"]
CloseBase = Literal["fin", "own"]
LastFlag = Literal["ack", "fin"]
Spacing = Literal["timeout", "burst"]


@dataclass(frozen=True)
class Dialect:
    """One value of every variable (x: client ISN, s: length SEQ, d: digits of the length,
    y: FIN SEQ, z: the SYN-ACK's SEQ). Defaults are PROTOCOL.md's canonical protocol."""

    name: str = "canonical"
    summary: str = "PROTOCOL.md exactly"
    #: Where the client sends the handshake ACK, and where the server awaits it.
    handshake_ack_to: AckTo = "connection"
    #: SYN-ACK SEQ: the client's x+1, or the server's own initial number z.
    synack_seq: SynAckSeq = "client+1"
    #: Handshake ACK SEQ = x + this. The shared counter starts there.
    handshake_ack_offset: int = 2
    #: The length segment of each message starts at counter + this (s).
    length_seq_gap: int = 0
    #: The length segment's ACK: s + d when None, else s + this fixed number.
    length_ack: int | None = None
    #: The first chunk of a message starts at the length ACK + this.
    data_seq_gap: int = 0
    #: A chunk's SEQ is its first byte's number ("start", ACK = SEQ + len) or its end
    #: ("end", ACK = SEQ).
    data_seq: Numbering = "start"
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
    #: The largest datagram the peer reads; chunks shrink to fit (None: no limit).
    max_datagram: int | None = None
    notes: str = ""

    def __post_init__(self) -> None:
        for name in (
            "handshake_ack_offset",
            "length_seq_gap",
            "data_seq_gap",
            "fin_seq_gap",
            "close_answer_offset",
            "last_ack_offset",
            "seq_width",
        ):
            if not 0 <= getattr(self, name) <= 20:
                raise InvalidArgument(f"dialect {self.name}: {name} must be 0..20")
        if self.length_ack is not None and not 1 <= self.length_ack <= 20:
            raise InvalidArgument(f"dialect {self.name}: length_ack must be 1..20 or None")
        if self.final_copies < 1:
            raise InvalidArgument(f"dialect {self.name}: final_copies must be >= 1")
        if self.max_datagram is not None and self.max_datagram < 24:
            raise InvalidArgument(f"dialect {self.name}: max_datagram must be >= 24")

    # ------------------------------------------------------------------ arithmetic
    def length_ack_for(self, s: int, digits: int) -> int:
        return s + (digits if self.length_ack is None else self.length_ack)

    @property
    def canonical_wire(self) -> bool:
        """Segments are byte-identical to PROTOCOL.md's (the engine's fast path needs it)."""
        return all(getattr(self, v) == getattr(CANONICAL, v) for v in WIRE_VARIABLES)

    def values(self) -> dict[str, Any]:
        return {v: getattr(self, v) for v in VARIABLES}


CANONICAL = Dialect()
#: Every variable a dialect bends (the fields above but the descriptive ones).
VARIABLES: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Dialect) if f.name not in ("name", "summary", "notes")
)
#: Variables that change the bytes of a steady-state data segment or ACK.
WIRE_VARIABLES = (
    "length_ack",
    "data_seq_gap",
    "data_seq",
    "seq_width",
    "control_filler",
    "max_datagram",
)

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
        seq_width=8, final_copies=1,
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

#: A dialect none of the recorded implementations speaks, built from the same variables:
#: proof that a new dialect is a value, not code (tests speak it against ``auto``).
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

AUTO = "auto"


def names() -> list[str]:
    return [AUTO, *PROFILES, SYNTHETIC.name]


def resolve(dialect: str | Dialect) -> Dialect | None:
    """The profile named (None for ``auto``); a Dialect value passes through."""
    if isinstance(dialect, Dialect):
        return dialect
    if dialect == AUTO:
        return None
    if dialect == SYNTHETIC.name:
        return SYNTHETIC
    try:
        return PROFILES[dialect]
    except KeyError:
        raise InvalidArgument(
            f"unknown dialect {dialect!r}; choose one of: {', '.join(names())}"
        ) from None


# ------------------------------------------------------------------------ adaptation
@dataclass(frozen=True)
class Finding:
    """One variable the peer was seen (or, ``inferred``, taken) to bend."""

    variable: str
    value: Any
    canonical: Any
    segment: str  # what showed it: the datagram, or the observation it was inferred from
    inferred: bool = False

    def describe(self) -> str:
        how = "inferred from" if self.inferred else "seen in"
        value, canonical = self.value, self.canonical
        return f"{self.variable}={value!r} (canonical {canonical!r}), {how} {self.segment}"


#: Sending variables the engine may try in turn when the peer refuses what it sent, and the
#: candidate values, in order. Only while unconfirmed and never in secure mode.
PROBES: dict[str, tuple[Any, ...]] = {
    "length_seq_gap": (0, 1),
    "length_ack": (None, 1, 2, 3),
}


#: Probes whose value stands for a family, so that the rest of it is inferred while it is
#: tried (the sender needs the end-numbered family's numbering to get past its length).
FAMILY_PROBES = frozenset({"length_seq_gap"})


@dataclass
class Adaptation:
    """``auto``: the working dialect, what the peer has shown, and what that implies.

    ``observe`` records a variable seen on the wire. ``probe`` tries the next candidate of a
    sending variable the peer refused (``PROBES``), ``accepted`` keeps it once the peer takes
    it. Every other variable is taken from the profiles consistent with all of that when
    they agree, else kept canonical.
    """

    current: Dialect = CANONICAL
    seen: dict[str, Any] = field(default_factory=dict)
    trying: dict[str, Any] = field(default_factory=dict)
    hinted: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    confirmed: set[str] = field(default_factory=set)

    def observe(self, variable: str, value: Any, segment: bytes | str) -> bool:
        """Record ``variable`` = ``value``; True if the working dialect changed."""
        self.confirmed.add(variable)
        self.trying.pop(variable, None)
        if variable in self.seen and self.seen[variable] == value:
            return False
        self.seen[variable] = value  # canonical values too: they rule profiles out
        if value != getattr(CANONICAL, variable):
            self._note(variable, value, segment if isinstance(segment, str) else repr(segment))
        return self._rebuild(f"{variable}={value!r}")

    def hint(self, variable: str, value: Any, why: str) -> bool:
        """Use ``value`` and report it, but infer nothing from it: what showed it has
        another explanation too."""
        self.confirmed.add(variable)
        if self.hinted.get(variable) == value:
            return False
        self.hinted[variable] = value
        self._note(variable, value, f"{why} (a hint)", inferred=True)
        return self._rebuild("")

    def candidates(self, *variables: str) -> set[tuple[Any, ...]]:
        """The values ``variables`` take together in the working dialect and in every
        profile consistent with what was seen: what auto may accept before it knows."""
        known = self._known()
        found = {tuple(getattr(self.current, v) for v in variables)}
        for p in PROFILES.values():
            if all(getattr(p, k) == v for k, v in known.items()):
                found.add(tuple(getattr(p, v) for v in variables))
        return found

    def probe(self, variable: str) -> bool:
        """Try the next candidate of an unconfirmed variable; False if it may not be probed."""
        if variable in self.confirmed or variable not in PROBES:
            return False
        options = PROBES[variable]
        now = getattr(self.current, variable)
        nxt = options[(options.index(now) + 1) % len(options)] if now in options else options[0]
        self.trying[variable] = nxt
        self._rebuild(f"probing {variable}={nxt!r}")
        return True

    def confirm(self, variable: str) -> None:
        """The working value of ``variable`` works with this peer: never probe it again."""
        self.confirmed.add(variable)

    def accepted(self, variable: str, segment: bytes | str) -> None:
        """The peer took what we sent with the working value of ``variable``: that value is
        now known, and rules out the profiles that differ in it."""
        value = self.trying.pop(variable, getattr(self.current, variable))
        if value != getattr(CANONICAL, variable) and self.seen.get(variable) != value:
            self._note(variable, value, f"{segment!r} (accepted after probing)")
        self.seen[variable] = value
        self.confirmed.add(variable)
        self._rebuild("")

    def _rebuild(self, why: str) -> bool:
        before = self.current
        known = self._known()
        values = {**self.hinted, **self.seen, **self.trying}
        for variable in VARIABLES:
            implied = None if variable in values else _agreed(variable, known)
            if implied is not None and implied != getattr(CANONICAL, variable):
                values[variable] = implied
                if getattr(before, variable) != implied:
                    self._note(variable, implied, why, inferred=True)
        # a finding stands while its value is still the one in use
        self.findings = [f for f in self.findings if values.get(f.variable) == f.value]
        self.current = dataclasses.replace(CANONICAL, name=AUTO, summary="adapted", **values)
        return self.current != before

    def _known(self) -> dict[str, Any]:
        """What profiles are matched against: what was seen, and the probes that stand for a
        family (an end-numbered server), not those that only try a number (a length ACK)."""
        return {**self.seen, **{k: v for k, v in self.trying.items() if k in FAMILY_PROBES}}

    def _note(self, variable: str, value: Any, shown: str, *, inferred: bool = False) -> None:
        self.findings = [f for f in self.findings if f.variable != variable]
        self.findings.append(
            Finding(variable, value, getattr(CANONICAL, variable), shown, inferred)
        )


def _agreed(variable: str, seen: dict[str, Any]) -> Any:
    """The value every profile consistent with ``seen`` gives ``variable`` (None if they
    disagree or none is consistent). Only profiles that deviate somewhere count, so that
    seeing nothing unusual implies nothing."""
    if all(v == getattr(CANONICAL, k) for k, v in seen.items()):
        return None
    matching = [
        p
        for p in PROFILES.values()
        if p is not CANONICAL and all(getattr(p, k) == v for k, v in seen.items())
    ]
    values = {getattr(p, variable) for p in matching}
    return values.pop() if matching and len(values) == 1 else None


def describe(findings: Iterable[Finding]) -> str:
    """One line: which profile the findings point to and what deviated."""
    found = list(findings)
    if not found:
        return "peer dialect: canonical (no deviation seen)"
    seen = {f.variable: f.value for f in found if not f.inferred}
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
        for p in (*PROFILES.values(), SYNTHETIC)
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


def length_ack_fits(s: int, digits: int, ack: int) -> list[int | None]:
    """The length-ACK arithmetics (``PROBES``) under which ``ack`` acknowledges a length
    segment at ``s`` with ``digits`` digits: more than one means it tells them not apart."""
    return [k for k in PROBES["length_ack"] if s + (digits if k is None else k) == ack]
