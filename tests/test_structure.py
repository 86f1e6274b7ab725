"""The package's shape (DESIGN.md): no module imports one that imports it back, and no module
or class reaches into another object's underscored names.

A small AST walk over every module of ``fsm_tcp``:

- imports: every ``import`` and ``from ... import`` counts, also those under
  ``TYPE_CHECKING`` and inside functions (a lazy import is still a dependency);
- reach-ins: ``x._name`` where ``x`` is not ``self`` or ``cls`` (a class's own code may use its
  own names; dunder names are public protocol), and ``from m import _name``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fsm_tcp"

#: Underscored names that are public API of the standard library's types.
PUBLIC_UNDERSCORED = frozenset({"_replace", "_asdict", "_fields", "_make", "_field_defaults"})


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, tuple[Path, ast.Module]]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found[_module_name(path)] = (path, ast.parse(path.read_text(), str(path)))
    return found


MODULES = _modules()


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name a ``from ... import`` reads from."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    for _ in range(node.level - 1):
        base.pop()
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str) -> set[str]:
    """The package's modules ``module`` imports (a ``from pkg import sub`` names ``sub``)."""
    path, tree = MODULES[module]
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, is_package, node)
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                out.add(sub if sub in MODULES else source)
    return {name for name in out if name in MODULES and name != module}


def _cycles() -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan's algorithm)."""
    graph = {name: _imports(name) for name in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__") and name not in PUBLIC_UNDERSCORED


def _defined_names(cls: ast.ClassDef) -> set[str]:
    """The underscored names a class defines: its methods and class attributes, and what its
    methods assign to ``self``."""
    names = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return {name for name in names if _private(name)}


def _owners() -> dict[str, int]:
    """How many classes of the package define each underscored name."""
    count: dict[str, int] = {}
    for _path, tree in MODULES.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for name in _defined_names(node):
                    count[name] = count.get(name, 0) + 1
    return count


def _same_class(attr: str, cls: ast.ClassDef | None, owners: dict[str, int]) -> bool:
    """``other._name`` inside the one class that defines ``_name``: another instance of the
    same class (a socket driving its accepted children). A name two classes define is never
    taken for the enclosing class's own."""
    return cls is not None and attr in _defined_names(cls) and owners.get(attr) == 1


def _reach_ins(module: str) -> Iterator[str]:
    path, tree = MODULES[module]
    owners = _owners()

    def walk(node: ast.AST, cls: ast.ClassDef | None) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Attribute) and _private(child.attr):
                owner = child.value
                mine = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
                if not mine and not (
                    isinstance(owner, ast.Name) and _same_class(child.attr, cls, owners)
                ):
                    yield f"{path.name}:{child.lineno}: {ast.unparse(child)}"
            elif isinstance(child, ast.ImportFrom):
                for alias in child.names:
                    if _private(alias.name):
                        yield f"{path.name}:{child.lineno}: from {child.module} import {alias.name}"
            yield from walk(child, child if isinstance(child, ast.ClassDef) else cls)

    yield from walk(tree, None)


def test_the_walk_sees_the_package() -> None:
    """The scan covers the core (an empty walk would pass everything)."""
    assert {"fsm_tcp.engine", "fsm_tcp.sender", "fsm_tcp.receiver"} <= set(MODULES)
    assert "fsm_tcp.machines" in _imports("fsm_tcp.engine")


def test_no_import_cycle() -> None:
    cycles = _cycles()
    assert not cycles, f"modules that import each other: {cycles}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_reaching_into_private_names(module: str) -> None:
    found = list(_reach_ins(module))
    assert not found, "underscored names of another object:\n" + "\n".join(found)


def test_the_checks_catch_what_they_look_for() -> None:
    """Each rule fires on a sample of what it forbids, and not on what it allows."""
    sample = ast.parse(
        "from .engine import _LIFE\n"
        "class A:\n"
        "    def f(self, c):\n"
        "        self._ok = c._bad + type(c).__name__\n"
    )
    MODULES["fsm_tcp._sample"] = (PACKAGE / "_sample.py", sample)
    try:
        found = list(_reach_ins("fsm_tcp._sample"))
    finally:
        del MODULES["fsm_tcp._sample"]
    assert [line.split(": ", 1)[1] for line in found] == ["from engine import _LIFE", "c._bad"]


def test_a_cycle_under_type_checking_is_found() -> None:
    samples = {
        "fsm_tcp.sample_a": "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .sample_b import B\n",
        "fsm_tcp.sample_b": "def f():\n    from . import sample_a\n",
    }
    for name, text in samples.items():
        MODULES[name] = (PACKAGE / f"{name.split('.')[1]}.py", ast.parse(text))
    try:
        assert ["fsm_tcp.sample_a", "fsm_tcp.sample_b"] in _cycles()
    finally:
        for name in samples:
            del MODULES[name]
