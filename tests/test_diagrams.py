"""The committed diagrams are exactly what the tables draw now."""

from __future__ import annotations

from pathlib import Path

from fsm_tcp import machines as M
from fsm_tcp.cli import main
from fsm_tcp.render import mermaid

COMMITTED = Path(__file__).resolve().parent.parent / "diagrams"


def test_committed_diagrams_are_up_to_date(tmp_path: Path) -> None:
    assert main(["diagram", "--format", "mermaid", "--out", str(tmp_path)]) == 0
    fresh = sorted(p.name for p in tmp_path.iterdir())
    assert fresh == [f"{t.name}.md" for t in sorted(M.TABLES, key=lambda t: t.name)]
    stale = [n for n in fresh if (COMMITTED / n).read_text() != (tmp_path / n).read_text()]
    assert stale == [], f"regenerate with: fsm-tcp diagram --out diagrams ({stale})"


def test_every_declared_edge_is_drawn() -> None:
    for table in M.TABLES:
        source = mermaid(table)
        for src, trigger, dst in table.edges():
            edge_lines = [
                ln for ln in source.splitlines() if ln.strip().startswith(f"{src} --> {dst}:")
            ]
            assert edge_lines and trigger in edge_lines[0], (table.name, src, trigger, dst)
