"""What a check run shows: a table on the terminal as scenarios finish, a JSON document for
graders, and a report folder (a Markdown page with a sequence chart of every failing
scenario, and the wire capture of each scenario as a pcap file)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ..errors import InvalidArgument, MalformedSegment
from ..render import sequence_chart
from ..schedule import C2S
from ..segment import parse
from . import pcap
from .runner import SERVER, Result
from .verdicts import PASS, SKIP, VERDICTS


class Table:
    """One line per finished scenario, with the count so far: the run's progress."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def header(self, labels: Sequence[str]) -> None:
        for label in labels:
            print(f"checking {label}", file=self.stream)
        print(f"{'':9} {'role':6} {'scenario':20} {'verdict':7} detail", file=self.stream)
        self.stream.flush()

    def __call__(self, result: Result, done: int, total: int) -> None:
        v = result.verdict
        notes = "".join(f"; {n}" for n in v.notes)
        line = (
            f"[{done:3}/{total:<3}] {result.role:6} {result.scenario.name:20} "
            f"{v.verdict:7} {v.detail}{notes}"
        )
        with self._lock:
            print(line, file=self.stream, flush=True)

    def summary(self, results: Sequence[Result]) -> None:
        print(summary_text(results), file=self.stream, flush=True)


def summary_text(results: Sequence[Result]) -> str:
    counts = Counter(r.verdict.verdict for r in results)
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts[v]]
    lines = [f"{len(results)} scenarios: " + ", ".join(parts)]
    for role, dialect in dialects(results).items():
        lines.append(f"dialect ({role}): " + ("; ".join(dialect) or "as PROTOCOL.md"))
    if any(r.api == "str" for r in results):
        lines.append("finding: the class takes or returns str, so it cannot carry arbitrary bytes")
    return "\n".join(lines)


def dialects(results: Sequence[Result]) -> dict[str, list[str]]:
    """Per role, the dialect variables fsm_tcp saw the program bend (empty until SocketTCP
    reports them)."""
    out: dict[str, list[str]] = {}
    for r in results:
        seen = out.setdefault(r.role, [])
        # one line per variable=value: every run shows it in segments of its own
        shown = {line.split(" (", 1)[0] for line in seen}
        for line in r.dialect:
            if line.split(" (", 1)[0] not in shown:
                shown.add(line.split(" (", 1)[0])
                seen.append(line)
    return out


def passed(results: Sequence[Result]) -> bool:
    return bool(results) and all(r.verdict.verdict == PASS for r in results)


# ---------------------------------------------------------------------- JSON
def to_json(results: Sequence[Result], programs: Sequence[str]) -> dict[str, Any]:
    return {
        "programs": list(programs),
        "passed": passed(results),
        "counts": dict(Counter(r.verdict.verdict for r in results)),
        "dialect": dialects(results),
        "api": sorted({r.api for r in results if r.api}),
        "scenarios": [_result_json(r) for r in sorted(results, key=_order)],
    }


def _result_json(r: Result) -> dict[str, Any]:
    f = r.facts
    return {
        "role": r.role,
        "scenario": r.scenario.name,
        "title": r.scenario.title,
        "requires": r.scenario.requires,
        "schedule": r.scenario.schedule,
        "loss": r.scenario.loss,
        "seed": r.scenario.seed,
        "verdict": r.verdict.verdict,
        "detail": r.verdict.detail,
        "notes": r.verdict.notes,
        "elapsed": round(f.elapsed, 4),
        "exit_status": f.exit_status,
        "received_bytes": None if f.received is None else len(f.received),
        "expected_bytes": len(f.expected),
        "peer_error": f.peer_error,
        "datagrams": len(r.capture),
    }


def _order(r: Result) -> tuple[int, int]:
    from .catalogue import CATALOGUE

    names = [s.name for s in CATALOGUE]
    return (0 if r.role == SERVER else 1, names.index(r.scenario.name))


# ---------------------------------------------------------------------- report folder
def write_report(folder: Path, results: Sequence[Result], programs: Sequence[str]) -> Path:
    try:
        (folder / "pcap").mkdir(parents=True, exist_ok=True)
        page = folder / "index.md"
        page.write_text(_page(folder, sorted(results, key=_order), programs))
        (folder / "report.json").write_text(json.dumps(to_json(results, programs), indent=2))
    except OSError as exc:
        raise InvalidArgument(f"cannot write the report to {folder}: {exc.strerror}") from None
    return page


def _page(folder: Path, results: Sequence[Result], programs: Sequence[str]) -> str:
    out = ["# fsm-tcp check", ""]
    out += [f"* program: `{p}`" for p in programs]
    out += ["", "```", summary_text(results), "```", ""]
    out += [
        "| role | scenario | verdict | detail | requires | capture |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        name = f"{r.role}-{r.scenario.name}"
        cap = ""
        if r.capture:
            pcap.write(folder / "pcap" / f"{name}.pcap", packets(r))
            cap = f"[pcap](pcap/{name}.pcap)"
        link = f"[{r.scenario.name}](#{name})" if _failed(r) else r.scenario.name
        detail = r.verdict.detail.replace("|", "\\|")
        out.append(
            f"| {r.role} | {link} | **{r.verdict.verdict}** | {detail} | "
            f"{r.scenario.requires} | {cap} |"
        )
    for r in results:
        if _failed(r):
            out += _failure_section(r)
    return "\n".join(out) + "\n"


def _failed(r: Result) -> bool:
    return r.verdict.verdict not in (PASS, SKIP)


def _failure_section(r: Result) -> list[str]:
    name = f"{r.role}-{r.scenario.name}"
    out = ["", f'<a id="{name}"></a>', f"## {r.role}: {r.scenario.title} — {r.verdict.verdict}", ""]
    out += [f"* requires: {r.scenario.requires}", f"* verdict: {r.verdict.detail}"]
    if r.scenario.schedule:
        out.append(f"* schedule: `{r.scenario.schedule}`")
    if r.scenario.loss:
        out.append(f"* random loss {r.scenario.loss:.0%} each way, seed {r.scenario.seed}")
    out += [f"* {n}" for n in r.verdict.notes]
    if r.facts.peer_error:
        out.append(f"* fsm_tcp's end: {r.facts.peer_error}")
    if r.facts.stderr:
        out += ["", "stderr (last lines):", "", "```", r.facts.stderr, "```"]
    records = trace_records(r)
    if records:
        chart = sequence_chart(records, "mermaid", f"{r.role}: {r.scenario.name}").strip()
        out += ["", "```mermaid", chart, "```"]
    out += ["", "| t (ms) | from | datagram | kind | fate |", "|---|---|---|---|---|"]
    t0 = r.capture[0].t if r.capture else 0.0
    for c in r.capture:
        shown = repr(c.data[:40])[2:-1].replace("|", "\\|")
        ms = (c.t - t0) * 1000
        out.append(f"| {ms:.1f} | {_who(r, c.direction)} | `{shown}` | {c.label} | {c.fate} |")
    return out


def _who(r: Result, direction: str) -> str:
    side = "client" if direction == C2S else "server"
    return f"{side} ({'program' if side == r.role else 'fsm_tcp'})"


def trace_records(r: Result) -> list[dict[str, Any]]:
    """The capture as trace records, so fsm_tcp.render draws it as a sequence chart."""
    records: list[dict[str, Any]] = []
    for c in r.capture:
        base: dict[str, Any] = {"t": c.t, "conn": _who(r, c.direction)}
        try:
            seg = parse(c.data)
        except MalformedSegment:
            records.append({**base, "kind": "malformed", "why": "not a segment"})
            continue
        base.update(flags=seg.flags(), seq=seg.seq, data=seg.data[:24].hex(), length=len(seg.data))
        records.append({**base, "kind": "send"})
        if c.fate.startswith("dropped"):
            records.append({**base, "kind": "lost", "mark": "lost send"})
        elif c.fate.startswith("duplicated"):
            records.append({**base, "kind": "send", "mark": "dup"})
    return records


def packets(r: Result) -> list[pcap.Packet]:
    return [
        pcap.Packet(c.t, (str(c.src[0]), int(c.src[1])), (str(c.dst[0]), int(c.dst[1])), c.data)
        for c in r.capture
    ]
