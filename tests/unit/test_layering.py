"""The package layout holds: no import cycles among our modules (counting imports inside functions
and under TYPE_CHECKING too), roles never import each other, no module over 400 lines."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bordersync", "producers", "streams", "consumers")
ROLES = ("producers", "streams", "consumers")
MAX_LINES = 400
# Known exceptions, each a piece of tooling that lives inside a role today: the simulator (traffic
# with ground truth, for tests, demo, soak and bench) takes each rule's expectation from the rule
# table, and the risk measurement runs the simulator's risk scenario. Moving both into a tooling
# package of their own is the open part of issue #14.
ALLOWED = {
    ("tooling.simulate.truth", "streams.rules"),
    ("tooling.simulate.truth", "streams.rules.base"),
    ("tooling.simulate.risk", "streams.risk"),
    ("tooling.riskmeasure", "tooling.simulate"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


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


def test_roles_never_import_each_other() -> None:
    modules = _modules()
    crossing = sorted(
        f"{src} -> {dst}"
        for src, targets in _imports(modules).items() for dst in targets
        if src.split(".")[0] in ROLES and dst.split(".")[0] in ROLES
        and src.split(".")[0] != dst.split(".")[0]
        and not any(src.startswith(a) and dst.startswith(b) for a, b in ALLOWED)
    )
    assert crossing == []


def test_no_module_over_400_lines() -> None:
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}
