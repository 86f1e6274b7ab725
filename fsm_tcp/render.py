"""Pictures from the code: state diagrams from the tables, sequence charts from traces.

State diagrams come from ``transitions``' own diagram support, built from the same tables
the engine runs: Mermaid needs nothing installed; DOT source too; SVG and PNG are DOT run
through Graphviz's ``dot`` program. Sequence charts are drawn from ``--trace`` records
(real runs or simulated schedules), as Mermaid or as a self-contained SVG.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transitions.extensions.diagrams import GraphMachine

from . import machines as M
from .errors import InvalidArgument

STATE_FORMATS = ("mermaid", "svg", "png", "dot")
NEED_DOT = (
    "needs Graphviz's dot program: install it (apt-get install graphviz, brew install "
    "graphviz) or use --format mermaid"
)


PEER = "peer"


class _DiagramModel:
    """A bare model: diagrams need one, and never fire anything on it."""


def _graph_machine(table: M.Table, engine: str) -> Any:
    return M.build(
        table,
        model=_DiagramModel(),
        machine_cls=GraphMachine,
        graph_engine=engine,
        show_conditions=True,
        internal_as_loops=True,
        title=f"fsm_tcp {table.name}",
    )


# ------------------------------------------------------------------ state diagrams
def mermaid(table: M.Table) -> str:
    """The Mermaid stateDiagram of one table, with conditions on the edges."""
    title = f"fsm_tcp {table.name}"
    source: str = _graph_machine(table, "mermaid").get_graph().draw(None)
    # Mermaid's front matter is YAML: the title needs its key
    source = source.replace(f"---\n{title}\n---", f"---\ntitle: {title}\n---", 1)
    # transitions marks the model's current (initial) state as "active"; a static diagram
    # has no current state, so that styling is dropped.
    return source.replace(f"Class {table.initial} s_active", f"Class {table.initial} s_default")


def dot(table: M.Table) -> str:
    """Graphviz DOT source of one table, laid out top to bottom (it reads as a lifecycle)."""
    graph = _graph_machine(table, "graphviz").get_graph()
    graph.graph_attr.update(
        rankdir="TB",
        nodesep="0.5",
        ranksep="0.9",
        fontname="Helvetica",
        label=f"fsm_tcp {table.name}",
    )
    graph.edge_attr.update(fontsize="10", fontname="Helvetica")
    graph.node_attr.update(fontname="Helvetica")
    # no "current state" in a static picture: the initial state is only drawn doubled
    graph.node(table.initial, color="black", fillcolor="white", peripheries="2")
    source: str = graph.source
    return source


def run_dot(source: str, fmt: str) -> bytes:
    exe = shutil.which("dot")
    if exe is None:
        raise InvalidArgument(f"--format {fmt} {NEED_DOT}")
    done = subprocess.run(
        [exe, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise InvalidArgument(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def markdown(table: M.Table) -> str:
    return f"# {table.name}\n\n{table.doc}\n\n```mermaid\n{mermaid(table).strip()}\n```\n"


def write_diagrams(out_dir: Path, fmt: str = "mermaid") -> list[Path]:
    """Write one file per machine in ``fmt`` and, for mermaid and svg, one sequence chart
    per named scenario (fsm_tcp.scenarios); return the paths."""
    if fmt not in STATE_FORMATS:
        raise InvalidArgument(f"unknown format {fmt!r}; choose from {', '.join(STATE_FORMATS)}")
    if fmt in ("svg", "png"):
        run_dot("digraph{}", fmt)  # fail before writing anything when dot is missing
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table in M.TABLES:
        if fmt == "mermaid":
            path = out_dir / f"{table.name}.md"
            path.write_text(markdown(table))
        elif fmt == "dot":
            path = out_dir / f"{table.name}.dot"
            path.write_text(dot(table))
        else:
            path = out_dir / f"{table.name}.{fmt}"
            path.write_bytes(run_dot(dot(table), fmt))
        written.append(path)
    if fmt in ("mermaid", "svg"):
        written += _write_scenarios(out_dir, fmt)
    return written


def _write_scenarios(out_dir: Path, fmt: str) -> list[Path]:
    from .scenarios import SCENARIOS  # the simulator is only needed for these charts

    written = []
    for sc in SCENARIOS:
        _, log = sc.run()
        if fmt == "svg":
            path = out_dir / f"{sc.name}.svg"
            path.write_text(sequence_chart(log, "svg", sc.title))
        else:
            path = out_dir / f"{sc.name}.md"
            chart = sequence_chart(log, "mermaid", sc.title).strip()
            path.write_text(f"# {sc.title}\n\n```mermaid\n{chart}\n```\n")
        written.append(path)
    return written


# ------------------------------------------------------------------ sequence charts
@dataclass
class Step:
    """One line of a sequence chart."""

    kind: str  # "msg" or "note"
    src: str
    dst: str
    text: str
    lost: bool = False
    key: tuple[Any, ...] = ()  # the segment, to find the arrow a later loss mark is about


def read_trace(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise InvalidArgument(f"cannot read trace {path}: {exc.strerror}") from None
    records = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise InvalidArgument(f"{path}:{no}: not a JSON trace record") from None
    return records


def _participants(records: Sequence[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for r in records:
        if r.get("conn") and r["conn"] not in names:
            names.append(r["conn"])
    if len(names) == 1:
        names.append(PEER)  # a one-sided trace (one process): the peer is seen via recv
    if len(names) != 2:
        raise InvalidArgument(
            f"a sequence chart needs the records of one or two connections, found "
            f"{len(names)}: {', '.join(names) or 'none'}"
        )
    return names


def _label(r: dict[str, Any]) -> str:
    data = bytes.fromhex(r.get("data", ""))
    shown = "" if not data else " " + repr(data[:8])[2:-1] + ("…" if r.get("length", 0) > 8 else "")
    return f"{r['flags']} seq={r['seq']}{shown}"


def chart_steps(records: Sequence[dict[str, Any]]) -> list[Step]:
    """Turn trace records into chart steps: sends (lost, duplicated, retransmitted marked)
    and state changes. Receives are implied by the other side's arrows; in a one-sided
    trace they are the only view of the peer, so they become its arrows."""
    a, b = _participants(records)
    other = {a: b, b: a}
    one_sided = b == PEER
    steps: list[Step] = []
    sent: set[tuple[Any, ...]] = set()
    for r in records:
        kind, who = r["kind"], r.get("conn", "")
        if kind == "recv" and one_sided:
            key = _key(PEER, r)
            text = _label(r) + (" (retransmission)" if key in sent else "")
            sent.add(key)
            steps.append(Step("msg", PEER, who, text, key=key))
        elif kind == "send" and r.get("mark") == "dup":
            steps.append(Step("msg", who, other[who], _label(r) + " (duplicate)"))
        elif kind == "send":
            key = _key(who, r)
            text = _label(r) + (" (retransmission)" if key in sent else "")
            sent.add(key)
            steps.append(Step("msg", who, other[who], text, key=key))
        elif kind == "lost":
            # a lost send is one of our arrows; a lost receive one of the peer's
            sender = other[who] if r.get("mark") == "lost recv" else who
            if not _mark_lost(steps, _key(sender, r)) and sender == PEER:
                # one-sided trace: a datagram from the peer lost on its way in
                steps.append(Step("msg", PEER, who, _label(r) + " (lost)", lost=True))
        elif kind == "transition" and r["src"] != r["dst"]:
            steps.append(Step("note", who, who, f"{r['src']} → {r['dst']} ({r['trigger']})"))
        elif kind == "transition":  # internal: the desync recoveries are among these
            steps.append(Step("note", who, who, f"{r['trigger']} (stays {r['src']})"))
        elif kind == "malformed":
            steps.append(Step("note", who, who, "malformed datagram dropped"))
    return steps


def _key(who: str, r: dict[str, Any]) -> tuple[Any, ...]:
    return (who, r["flags"], r["seq"], r.get("length", 0), r.get("data", ""))


def _mark_lost(steps: list[Step], key: tuple[Any, ...]) -> bool:
    """The loss is about the latest arrow of that very segment still drawn as delivered."""
    for step in reversed(steps):
        if step.key == key and not step.lost:
            step.lost = True
            step.text += " (lost)"
            return True
    return False


def _mermaid_text(text: str) -> str:
    # Mermaid sequence messages end at a newline and treat ';' and '#' specially
    return text.replace(";", ",").replace("#", "").replace("\n", " ")


def sequence_mermaid(steps: Iterable[Step], names: Sequence[str], title: str = "") -> str:
    ids = {n: f"P{i}" for i, n in enumerate(names)}
    out = ["sequenceDiagram"]
    if title:
        out.insert(0, f"---\ntitle: {title}\n---")
    out += [f"    participant {ids[n]} as {_mermaid_text(n)}" for n in names]
    for s in steps:
        if s.kind == "note":
            out.append(f"    Note over {ids[s.src]}: {_mermaid_text(s.text)}")
        else:
            arrow = "-x" if s.lost else "->>"
            out.append(f"    {ids[s.src]}{arrow}{ids[s.dst]}: {_mermaid_text(s.text)}")
    return "\n".join(out) + "\n"


def sequence_svg(steps: Sequence[Step], names: Sequence[str], title: str = "") -> str:
    """A self-contained SVG sequence chart: two lifelines, one row per step."""
    # lifelines far enough from the edges for the state notes written outside them
    width, row, top, left, right = 960, 26, 70, 290, 670
    xs = {names[0]: left, names[1]: right}
    height = top + row * (len(steps) + 1) + 20
    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        '<defs><marker id="a" markerWidth="10" markerHeight="8" refX="9" refY="4" '
        'orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#222"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{width // 2}" y="20" text-anchor="middle" font-size="14">{esc(title)}</text>',
    ]
    for name, x in xs.items():
        parts.append(
            f'<rect x="{x - 70}" y="30" width="140" height="24" rx="4" fill="#eef" stroke="#224"/>'
        )
        parts.append(f'<text x="{x}" y="46" text-anchor="middle">{esc(name)}</text>')
        parts.append(
            f'<line x1="{x}" y1="54" x2="{x}" y2="{height - 10}" stroke="#888" '
            f'stroke-dasharray="4 3"/>'
        )
    for i, s in enumerate(steps):
        y = top + row * (i + 1)
        x1 = xs[s.src]
        if s.kind == "note":
            anchor, dx = ("end", -8) if x1 == left else ("start", 8)
            parts.append(
                f'<text x="{x1 + dx}" y="{y + 4}" text-anchor="{anchor}" '
                f'fill="#363" font-size="11">{esc(s.text)}</text>'
            )
            continue
        x2 = xs[s.dst]
        end = x2 if not s.lost else (x1 + x2) // 2
        colour = "#b00" if s.lost else "#222"
        parts.append(
            f'<line x1="{x1}" y1="{y}" x2="{end}" y2="{y}" stroke="{colour}" '
            + ("" if s.lost else 'marker-end="url(#a)"')
            + "/>"
        )
        if s.lost:
            parts.append(
                f'<text x="{end}" y="{y + 5}" text-anchor="middle" fill="#b00" '
                f'font-size="16">✕</text>'
            )
        parts.append(
            f'<text x="{(x1 + x2) // 2}" y="{y - 8}" text-anchor="middle" '
            f'fill="{colour}">{esc(s.text)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def sequence_chart(records: Sequence[dict[str, Any]], fmt: str = "mermaid", title: str = "") -> str:
    names = _participants(records)
    steps = chart_steps(records)
    if fmt == "mermaid":
        return sequence_mermaid(steps, names, title)
    if fmt == "svg":
        return sequence_svg(steps, names, title)
    raise InvalidArgument(f"unknown chart format {fmt!r}; choose mermaid or svg")
