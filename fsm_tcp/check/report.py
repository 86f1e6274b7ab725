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
from .catalogue import CATALOGUE
from .runner import SERVER, Outcome, Result, RoleReport
from .verdicts import NOT_RUN, PASS, SKIP, VERDICTS

#: Exit statuses of a check (``--help`` lists them): every scenario passed and the program
#: speaks PROTOCOL.md (or deviations are accepted); a scenario failed or was not run;
#: every scenario passed, but the program deviates from PROTOCOL.md.
EXIT_OK, EXIT_FAILED, EXIT_DEVIATES = 0, 1, 3
ORDER = {s.name: i for i, s in enumerate(CATALOGUE)}


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
        said = v.explanation or v.detail
        line = (
            f"[{done:3}/{total:<3}] {result.role:6} {result.scenario.name:20} "
            f"{v.verdict:7} {said}{notes}"
        )
        with self._lock:
            print(line, file=self.stream, flush=True)

    def role(self, role: RoleReport) -> None:
        """What a role speaks, before its fault scenarios (the first question first)."""
        with self._lock:
            print("\n".join(role_lines(role)), file=self.stream, flush=True)

    def summary(self, outcome: Outcome) -> None:
        print(summary_text(outcome), file=self.stream, flush=True)


def role_lines(role: RoleReport) -> list[str]:
    """Does the program speak PROTOCOL.md? First of all, whether it can talk at all."""
    out = []
    if role.no_conversation:
        out.append(f"{role.role}: NO CONVERSATION: {role.no_conversation}")
    if not role.deviations:
        if not role.no_conversation:
            out.append(f"{role.role}: speaks PROTOCOL.md (no deviation seen)")
    else:
        n = len(role.deviations)
        out.append(f"{role.role}: {n} deviation{'s' * (n != 1)} from PROTOCOL.md:")
        out += [f"  - {d.line()}" for d in role.deviations]
    if role.peer and not role.no_conversation:
        out.append(f"{role.role}: fault scenarios run with fsm_tcp speaking {role.peer}")
    if role.note:
        out.append(f"{role.role}: warning: {role.note}")
    return out


def summary_text(outcome: Outcome, roles: bool = True) -> str:
    """The counts of verdicts, after what each role speaks (``roles``)."""
    results = outcome.results
    counts = Counter(r.verdict.verdict for r in results)
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts[v]]
    lines = [line for role in outcome.roles.values() for line in role_lines(role) if roles]
    lines.append(f"{len(results)} scenarios: " + ", ".join(parts))
    if any(r.api == "str" for r in results):
        lines.append("finding: the class takes or returns str, so it cannot carry arbitrary bytes")
    return "\n".join(lines)


def scenarios_passed(results: Sequence[Result]) -> bool:
    return bool(results) and all(r.verdict.verdict in (PASS, SKIP) for r in results)


def deviates(outcome: Outcome) -> bool:
    return any(role.deviations for role in outcome.roles.values())


def exit_status(outcome: Outcome, accept_deviations: bool = False) -> int:
    if not scenarios_passed(outcome.results):
        return EXIT_FAILED
    if deviates(outcome) and not accept_deviations:
        return EXIT_DEVIATES
    return EXIT_OK


def passed(outcome: Outcome) -> bool:
    return exit_status(outcome) == EXIT_OK


# ---------------------------------------------------------------------- JSON
def to_json(
    outcome: Outcome,
    programs: Sequence[str],
    report: Path | None = None,
    accept_deviations: bool = False,
) -> dict[str, Any]:
    """The one record every other format (JUnit, Gradescope, the class matrix) is read from.
    ``report``: the report folder, whose artefacts each scenario then names."""
    results = sorted(outcome.results, key=_order)
    return {
        "programs": list(programs),
        "passed": scenarios_passed(results) and not deviates(outcome),
        "scenarios_passed": scenarios_passed(results),
        "deviates": deviates(outcome),
        "deviations_accepted": accept_deviations,
        "exit_status": exit_status(outcome, accept_deviations),
        "counts": dict(Counter(r.verdict.verdict for r in results)),
        "roles": {name: _role_json(role) for name, role in outcome.roles.items()},
        "api": sorted({r.api for r in results if r.api}),
        "report": str(report) if report is not None else None,
        "scenarios": [_result_json(r, report) for r in results],
    }


def _role_json(role: RoleReport) -> dict[str, Any]:
    return {
        "label": role.label,
        "no_conversation": role.no_conversation,
        "deviations": [d.json() for d in role.deviations],
        "peer": role.peer,
        "note": role.note,
    }


def _result_json(r: Result, report: Path | None) -> dict[str, Any]:
    f = r.facts
    artefacts: dict[str, str] = {}
    if report is not None:
        artefacts["page"] = str(report / "index.md") + f"#{_anchor(r)}"
        if r.capture:
            artefacts["pcap"] = str(report / "pcap" / f"{_anchor(r)}.pcap")
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
        "explanation": r.verdict.explanation,
        "notes": r.verdict.notes,
        "peer": r.peer,
        "elapsed": round(f.elapsed, 4),
        "exit_status": f.exit_status,
        "received_bytes": None if f.received is None else len(f.received),
        "expected_bytes": len(f.expected),
        "peer_error": f.peer_error,
        "stderr": f.stderr,
        "datagrams": len(r.capture),
        "artefacts": artefacts,
    }


def _anchor(r: Result) -> str:
    return f"{r.role}-{r.scenario.name}"


def _order(r: Result) -> tuple[int, int]:
    return (0 if r.role == SERVER else 1, ORDER[r.scenario.name])


# ---------------------------------------------------------------------- report folder
def write_report(
    folder: Path, outcome: Outcome, programs: Sequence[str], accept_deviations: bool = False
) -> Path:
    try:
        (folder / "pcap").mkdir(parents=True, exist_ok=True)
        page = folder / "index.md"
        page.write_text(_page(folder, outcome, programs))
        record = to_json(outcome, programs, folder, accept_deviations)
        (folder / "report.json").write_text(json.dumps(record, indent=2))
    except OSError as exc:
        raise InvalidArgument(f"cannot write the report to {folder}: {exc.strerror}") from None
    return page


def _page(folder: Path, outcome: Outcome, programs: Sequence[str]) -> str:
    results = sorted(outcome.results, key=_order)
    out = ["# fsm-tcp check", ""]
    out += [f"* program: `{p}`" for p in programs]
    out += ["", "## Does it speak PROTOCOL.md?", ""]
    for role in outcome.roles.values():
        out += [
            f"  * {line.strip()[2:]}" if line.startswith("  - ") else f"* {line}"
            for line in role_lines(role)
        ]
    out += ["", "## Does it survive the faults?", "", summary_text(outcome, roles=False), ""]
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
        detail = (r.verdict.explanation or r.verdict.detail).replace("|", "\\|")
        out.append(
            f"| {r.role} | {link} | **{r.verdict.verdict}** | {detail} | "
            f"{r.scenario.requires} | {cap} |"
        )
    for r in results:
        if _failed(r):
            out += _failure_section(r)
    return "\n".join(out) + "\n"


def _failed(r: Result) -> bool:
    return r.verdict.verdict not in (PASS, SKIP, NOT_RUN)


def _failure_section(r: Result) -> list[str]:
    name = f"{r.role}-{r.scenario.name}"
    out = ["", f'<a id="{name}"></a>', f"## {r.role}: {r.scenario.title} — {r.verdict.verdict}", ""]
    out += [f"* requires: {r.scenario.requires}", f"* verdict: {r.verdict.detail}"]
    if r.verdict.explanation:
        out.append(f"* **{r.verdict.explanation}**")
    out.append(f"* fsm_tcp spoke {r.peer}")
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
        if r.verdict.explanation:  # the chart ends with what the program did not do
            chart += f"\n    Note over P0,P1: {_mermaid_note(r.verdict.explanation)}"
        out += ["", "```mermaid", chart, "```"]
    out += ["", "| t (ms) | from | datagram | kind | fate |", "|---|---|---|---|---|"]
    t0 = r.capture[0].t if r.capture else 0.0
    for c in r.capture:
        shown = repr(c.data[:40])[2:-1].replace("|", "\\|")
        ms = (c.t - t0) * 1000
        out.append(f"| {ms:.1f} | {_who(r, c.direction)} | `{shown}` | {c.label} | {c.fate} |")
    return out


def _mermaid_note(text: str) -> str:
    """A Mermaid note is one line; ; and # end or escape it."""
    return text.replace(";", ",").replace("#", "no. ").replace("`", "")


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
