"""State diagrams drawn from the same tables the engine runs (``fsm-tcp diagram``).

Mermaid comes from ``transitions``' own diagram support (its mermaid engine needs nothing
installed); each machine is written as ``diagrams/<machine>.md`` with a mermaid block, which
GitHub renders.
"""

from __future__ import annotations

from pathlib import Path

from transitions.extensions.diagrams import GraphMachine

from . import machines as M


class _DiagramModel:
    """A bare model: diagrams need one, and never fire anything on it."""


def mermaid(table: M.Table) -> str:
    """The Mermaid stateDiagram of one table, with conditions on the edges."""
    machine = M.build(
        table,
        model=_DiagramModel(),
        machine_cls=GraphMachine,
        graph_engine="mermaid",
        show_conditions=True,
        internal_as_loops=True,
        title=f"fsm_tcp {table.name}",  # repeated below: transitions needs it here
    )
    title = f"fsm_tcp {table.name}"
    source: str = machine.get_graph().draw(None)
    # Mermaid's front matter is YAML: the title needs its key
    source = source.replace(f"---\n{title}\n---", f"---\ntitle: {title}\n---", 1)
    # transitions marks the model's current (initial) state as "active"; a static diagram
    # has no current state, so that styling is dropped.
    return source.replace(f"Class {table.initial} s_active", f"Class {table.initial} s_default")


def markdown(table: M.Table) -> str:
    return f"# {table.name}\n\n{table.doc}\n\n```mermaid\n{mermaid(table).strip()}\n```\n"


def write_diagrams(out_dir: Path) -> list[Path]:
    """Write one Markdown file with a Mermaid diagram per machine; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table in M.TABLES:
        path = out_dir / f"{table.name}.md"
        path.write_text(markdown(table))
        written.append(path)
    return written
