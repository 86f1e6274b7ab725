"""Does the program speak PROTOCOL.md? Each variable it bends is one finding, with what the
statement says, what the program did and the segment that showed it; and the program's
dialect, fixed, for fsm_tcp to speak in the fault scenarios (pure: no I/O).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .. import dialects as D
from ..errors import InvalidArgument

#: What PROTOCOL.md says about each variable of fsm_tcp.dialects.Dialect.
STATEMENT: dict[str, str] = {
    "handshake_ack_to": "2: the client sends the handshake ACK to the new connection socket",
    "synack_seq": "2: the SYN-ACK carries SEQ x+1",
    "handshake_ack_offset": "2: the handshake ACK carries SEQ x+2",
    "length_seq_gap": "3: the length segment starts at the shared counter (x+2 at first)",
    "length_ack": "3: the length segment's ACK is s+d (d: digits of the length)",
    "data_seq_gap": "3: the first chunk starts at the length segment's ACK",
    "data_seq": "3: a chunk's SEQ is its first byte's number, its ACK SEQ + length",
    "fin_seq_gap": "4: the FIN carries the closer's current SEQ y",
    "close_shape": "4: a FIN is answered by one FIN+ACK segment",
    "close_base": "4: the answer to a FIN is numbered from the FIN's y",
    "close_answer_offset": "4: the FIN+ACK carries y+1",
    "last_ack_offset": "4: the last ACK carries y+2",
    "last_flag": "4: the closer's last segment is an ACK",
    "final_copies": "4: the last ACK is sent 3 times",
    "final_spacing": "4: one timeout between the last ACK's copies",
    "seq_width": "1: SEQ is a plain decimal number",
    "control_filler": "1-2: control segments carry no DATA",
    "fin_filler": "4: the FIN carries no DATA",
    "max_datagram": "1: receive buffers are fixed (64 KiB), whatever the MSS",
}

#: What the program did, for values a sentence says better than ``variable=value``.
DID: dict[tuple[str, Any], str] = {
    ("handshake_ack_to", "listener"): "the handshake ACK is awaited on (or sent to) the listener",
    ("synack_seq", "own"): "the SYN-ACK carries the server's own number",
    ("close_shape", "ack,fin"): "a FIN is answered by an ACK, then a FIN of its own",
    ("close_base", "own"): "the answer to a FIN is numbered from the server's own number",
    ("data_seq", "end"): "a chunk's SEQ is its end, and its ACK the same number",
    ("last_flag", "fin"): "the closer's last segment is flagged FIN",
    ("final_spacing", "burst"): "the last segment's copies go back to back",
}


@dataclass(frozen=True)
class Deviation:
    """One variable in which the program differs from PROTOCOL.md."""

    variable: str
    value: Any
    statement: str  # what PROTOCOL.md says (with its section)
    did: str  # what the program did
    segment: str  # the segment (or observation) that showed it
    inferred: bool = False  # taken from the recorded profiles, not seen

    def line(self) -> str:
        how = "inferred from" if self.inferred else "seen in"
        return (
            f"{self.variable}: PROTOCOL.md {self.statement}; the program: {self.did} "
            f"({how} {self.segment})"
        )

    def json(self) -> dict[str, Any]:
        value = self.value.decode("latin-1") if isinstance(self.value, bytes) else self.value
        return {
            "variable": self.variable,
            "value": value,
            "statement": f"PROTOCOL.md {self.statement}",
            "did": self.did,
            "segment": self.segment,
            "inferred": self.inferred,
        }


def did(variable: str, value: Any) -> str:
    known = DID.get((variable, value))
    if known:
        return known
    shown = value.decode("latin-1") if isinstance(value, bytes) else value
    if variable == "length_ack":
        return f"the length segment's ACK is s+{shown}, whatever d"
    if variable == "seq_width":
        return f"SEQ is zero-padded to {shown} digits"
    if variable in ("control_filler", "fin_filler"):
        return f"DATA {shown!r} in {'the FIN' if variable == 'fin_filler' else 'control segments'}"
    return f"{variable} = {shown!r}"


#: A variable that means nothing once another shows a value: a server numbering its
#: SYN-ACK from its own ISN lands on x+0, x+2 or x+3 by chance in a run now and then,
#: which one run alone reads as an offset (issue 17: the check's CI failure).
MOOT: dict[str, tuple[str, Any]] = {"synack_offset": ("synack_seq", "own")}


def merge(findings: Iterable[D.Finding]) -> list[D.Finding]:
    """One finding per variable across runs: a value seen beats one inferred, the first
    seen stands; a variable another run's finding makes moot is dropped."""
    out: dict[str, D.Finding] = {}
    for f in findings:
        held = out.get(f.variable)
        if held is None or (held.inferred and not f.inferred):
            out[f.variable] = f
    seen = {(f.variable, f.value) for f in out.values() if not f.inferred}
    return [f for v, f in out.items() if MOOT.get(v) not in seen]


def is_hint(f: D.Finding) -> bool:
    """auto's hints are marked inferred, but the peer's answer showed them."""
    return f.hint


def deviations(findings: Iterable[D.Finding]) -> list[Deviation]:
    """The findings shown on the wire, each as one deviation. A hint is no finding (issue
    17): the copy that showed it may just have been the one not lost; the fixed dialect
    still speaks it."""
    return [
        Deviation(
            f.variable,
            f.value,
            STATEMENT.get(f.variable, f"says {f.variable} = {f.canonical!r}"),
            did(f.variable, f.value),
            f.segment,
            f.inferred and not is_hint(f),
        )
        for f in merge(findings)
        if not f.inferred
    ]


def fixed_dialect(
    findings: Iterable[D.Finding], inferred: bool = False, name: str = "program"
) -> D.Dialect:
    """The dialect the findings show, as a fixed value for fsm_tcp to speak: no
    adaptation, no hint copies, no probes. Values auto only inferred from the recorded
    profiles stay canonical unless ``inferred`` (they are guesses about other programs,
    needed only where the program never shows the variable, as an own-ISN server's
    handshake ACK number); a value the dialect space refuses stays canonical too."""
    values: dict[str, Any] = {}
    for f in merge(findings):
        if f.inferred and not is_hint(f) and not inferred:
            continue
        try:
            D.Dialect(**{**values, f.variable: f.value})
        except (InvalidArgument, TypeError):
            continue
        values[f.variable] = f.value
    summary = D.deviations(dataclasses.replace(D.CANONICAL, **values)) or "PROTOCOL.md exactly"
    return dataclasses.replace(D.CANONICAL, name=name, summary=summary, **values)
