"""``--trace FILE``: one JSON object per line per engine event, and a live console view.

Each record carries the time, the connection, the kind (send, recv, transition, malformed,
lost), the segment fields or the transition, and the three machine states at that moment.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from .engine import Connection
from .errors import MalformedSegment
from .segment import parse


def fault_record(t: float, conn: Connection | None, mark: str, data: bytes) -> dict[str, Any]:
    """The trace record of a datagram the engine never saw lost, or saw twice.

    ``mark`` is "lost send", "lost recv" or "dup"; ``conn`` is the connection whose
    datagram it was (a lost receive: the one that would have received it).
    """
    record: dict[str, Any] = {
        "t": t,
        "conn": conn.name if conn else "",
        "kind": "lost" if mark.startswith("lost") else "send",
        "mark": mark,
    }
    try:
        seg = parse(data)
        record.update(
            flags=seg.flags(), seq=seg.seq, data=seg.data[:24].hex(), length=len(seg.data)
        )
    except MalformedSegment:
        record.update(flags="?", seq=-1, data="", length=len(data))
    if conn is not None:
        record.update(life=conn.life, tx=conn.tx, rx=conn.rx)
    return record


class TraceWriter:
    """Thread-safe JSON-lines sink; times are seconds since the writer was made."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._t0: float | None = None

    def __call__(self, record: dict[str, Any]) -> None:
        with self._lock:
            if self._t0 is None:
                self._t0 = record["t"]
            rec = dict(record, t=round(record["t"] - self._t0, 6))
            self.stream.write(json.dumps(rec, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self.stream.close()


class Console:
    """Prints the conversation as it happens: one line per segment, loss and state change."""

    def __init__(self, stream: TextIO | None = None, transitions: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.transitions = transitions
        self._t0: float | None = None
        self._lock = threading.Lock()

    def __call__(self, r: dict[str, Any]) -> None:
        if self._t0 is None:
            self._t0 = r["t"]
        line = self.format(r)
        if line:
            with self._lock:
                print(line, file=self.stream)

    def format(self, r: dict[str, Any]) -> str | None:
        t = f"{r['t'] - (self._t0 or 0.0):8.4f}"
        who = f"{r['conn']:<9}"
        kind = r["kind"]
        if kind in ("send", "recv", "lost"):
            arrow = {"send": "->", "recv": "<-", "lost": "xx"}[kind]
            data = bytes.fromhex(r.get("data", ""))
            shown = repr(data[:16])[2:-1] if data else ""
            mark = f" ({r['mark']})" if r.get("mark") else ""
            return (
                f"{t} {who} {arrow} {r['flags']:<7} seq={r['seq']:<6} "
                f"len={r.get('length', 0):<3} {shown}{mark}"
            )
        if kind == "transition" and self.transitions and r["src"] != r["dst"]:
            return f"{t} {who}    [{r['machine']}] {r['src']} --{r['trigger']}--> {r['dst']}"
        if kind == "malformed":
            return f"{t} {who} !! malformed datagram dropped: {r.get('why')}"
        if kind == "cwnd":  # the course asks a windowed sender to show these as they change
            ssthresh = r.get("ssthresh")
            return (
                f"{t} {who}    window {r.get('window')} segments, cwnd {r.get('cwnd')} B, "
                f"ssthresh {'unset' if ssthresh is None else f'{ssthresh} B'}, {r.get('state')}"
            )
        if kind == "dialect":  # auto: each rule tried or assumed, then what it found
            said = [f"{t} {who}    dialect: {line}" for line in r.get("log", ())]
            if r.get("findings"):
                said.append(f"{t} {who}    dialect: {r['findings'][-1]}")
            return "\n".join(said) or None
        return None
