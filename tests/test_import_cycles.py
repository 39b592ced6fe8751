"""No import cycles between the package's modules.

Every relative import counts, including the lazy ones inside functions and those under
``TYPE_CHECKING``: a cycle hidden behind a lazy import still ties two modules together (the
tuner and the tile sweep used to import each other this way).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_PACKAGE = {"tests", "notebooks", "benchmarks", "docs", "web", "example_workflows"}


def _modules() -> dict[str, tuple[Path, bool]]:
    modules = {}
    for file in ROOT.rglob("*.py"):
        relative = file.relative_to(ROOT)
        if relative.parts[0] in NOT_PACKAGE or relative.parts[0].startswith("."):
            continue
        parts = list(relative.with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        modules[".".join(parts)] = (file, is_package)
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports (names relative to the package root)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, (file, is_package) in modules.items():
        package = name.split(".") if is_package else name.split(".")[:-1]
        package = [p for p in package if p]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = package[: len(package) - (node.level - 1)]
            module = ".".join(base + (node.module.split(".") if node.module else []))
            for alias in node.names:
                submodule = f"{module}.{alias.name}" if module else alias.name
                if submodule in modules:
                    targets.add(submodule)
                elif module in modules:
                    targets.add(module)
        targets.discard(name)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_the_modules_and_their_imports():
    graph = import_graph()
    assert "widgets.tuner" in graph["widgets"]
    assert "widgets.sweep" in graph["widgets.tuner"]
    assert "core.options" in graph["widgets.sweep"]


def test_find_cycle_reports_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_itself_back():
    assert find_cycle(import_graph()) is None
