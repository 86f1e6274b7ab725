"""The command line's package keeps its rooms apart (issue 16): no underscored name crosses a
module or class boundary inside fsm_tcp/cli, and no import cycle runs through it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fsm_tcp"
CLI = sorted((PACKAGE / "cli").rglob("*.py"))


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, node: ast.ImportFrom) -> str:
    """The absolute name of what ``from X import ...`` imports from."""
    if node.level == 0:
        return node.module or ""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


@pytest.mark.parametrize("path", CLI, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_underscored_name_crosses_a_boundary(path: Path) -> None:
    tree = ast.parse(path.read_text())
    crossings = [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and private(node.attr)
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    crossings += [
        f"line {node.lineno}: from {node.module} import {alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if private(alias.name)
    ]
    assert not crossings, crossings


def graph() -> dict[str, set[str]]:
    """Module -> the fsm_tcp modules it imports (anywhere in it: TYPE_CHECKING counts)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                source = imported(path, node)
                names = [f"{source}.{a.name}" for a in node.names]
                targets |= {n for n in names if n in modules} or {source}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
        edges[name] = {t for t in targets if t in modules and t != name}
    return edges


def test_no_import_cycle_runs_through_the_command_line() -> None:
    edges = graph()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(edges.get(node, ()))
        return False

    cli = [m for m in edges if m == "fsm_tcp.cli" or m.startswith("fsm_tcp.cli.")]
    assert len(cli) > 10
    cycles = [(m, t) for m in cli for t in edges[m] if reaches(t, m)]
    assert not cycles, cycles
