"""The package layout holds (issue #14): no import cycles among our modules, roles never import
each other, nothing but ``bordersync.cli`` depends on the operations tooling, the core package's
top level is the shared vocabulary, no module over 400 lines.

Imports are read from the source, so imports inside functions, under TYPE_CHECKING and through
``importlib.import_module``/``__import__`` with a literal name all count."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bordersync", "producers", "streams", "consumers", "tooling")
ROLES = ("producers", "streams", "consumers")
CORE = "bordersync"
TOOLING = "tooling"
# The one core module that may import the tooling: the command line composes every package's
# commands (``tooling.commands``), lazily inside build_parser.
TOOLING_COMPOSER = "bordersync.cli"
# The core's top level: the vocabulary every role shares, plus serialization and security in
# subpackages of their own. Anything else belongs in a role or in ``tooling``.
CORE_MODULES = {
    "__init__", "settings", "border", "catalogue", "events", "plates", "endpoints", "topics",
    "kafka", "logs", "metrics", "output", "progress", "cli", "cliapi", "lag", "tail",
}
CORE_SUBPACKAGES = {"wire", "security", "data"}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _targets(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("import_module", "__import__"):
            return [node.args[0].value]
    return []


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            graph[name] |= {t for t in _targets(node) if t in modules and t != name}
    return graph


def _top(name: str) -> str:
    return name.split(".")[0]


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycles(graph: dict[str, set[str]], nodes: list[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    sys.setrecursionlimit(10_000)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in nodes:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    modules = _modules()
    assert _cycles(_imports(modules), sorted(modules)) == []


def test_no_relative_imports() -> None:
    """Every import is absolute, so the graph above sees them all."""
    relative = sorted(name for name, path in _modules().items()
                      for node in ast.walk(ast.parse(path.read_text("utf-8")))
                      if isinstance(node, ast.ImportFrom) and node.level)
    assert relative == []


def test_roles_never_import_each_other() -> None:
    crossing = sorted(
        f"{src} -> {dst}"
        for src, targets in _imports(_modules()).items() for dst in targets
        if _top(src) in ROLES and _top(dst) in ROLES and _top(src) != _top(dst)
    )
    assert crossing == []


def test_no_role_imports_the_tooling() -> None:
    """Not directly, lazily, nor through anything a role module imports."""
    graph = _imports(_modules())
    reaching = {src: sorted(t for t in _reach(graph, src) if _top(t) == TOOLING)
                for src in graph if _top(src) in ROLES}
    assert {src: found for src, found in reaching.items() if found} == {}


def test_only_the_cli_imports_the_tooling_from_the_core() -> None:
    """No core module but ``bordersync.cli`` depends on the tooling, directly or through others."""
    graph = _imports(_modules())
    reaching = sorted(src for src in graph if _top(src) == CORE and src != TOOLING_COMPOSER
                      and any(_top(t) == TOOLING for t in _reach(graph, src)))
    assert reaching == []


def test_the_cli_imports_the_tooling_lazily() -> None:
    """``bordersync.cli`` imports ``tooling`` only inside functions, never at module level."""
    tree = ast.parse((ROOT / "bordersync" / "cli.py").read_text("utf-8"))
    top_level = [t for node in tree.body for t in _targets(node) if _top(t) == TOOLING]
    assert top_level == []
    # The graph sees that lazy import (else the tests above would be blind to lazy imports).
    assert "tooling.commands" in _imports(_modules())[TOOLING_COMPOSER]


def test_the_core_top_level_is_the_vocabulary() -> None:
    core = ROOT / CORE
    modules = {p.stem for p in core.glob("*.py")}
    packages = {p.name for p in core.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert modules == CORE_MODULES
    assert packages == CORE_SUBPACKAGES


def test_no_module_over_400_lines() -> None:
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}
