"""No import cycles between the package's modules.

Every relative import counts, including the lazy ones inside functions and those under
``TYPE_CHECKING``: a cycle hidden behind a lazy import still ties two modules together (the
tuner and the tile sweep used to import each other this way).
"""

from __future__ import annotations

import ast
from collections.abc import Collection
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


def relative_targets(name: str, is_package: bool, tree: ast.AST, modules: Collection[str]) -> set[str]:
    """The package modules that the relative imports in ``tree`` (module ``name``) reach; ``""``
    is the package root (``from ... import __version__`` from ``core.jobs.x`` reaches it)."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    package = [p for p in package if p]
    targets: set[str] = set()
    for node in ast.walk(tree):
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
    return targets


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports (names relative to the package root)."""
    modules = _modules()
    return {
        name: relative_targets(name, is_package, ast.parse(file.read_text(encoding="utf-8")), modules)
        for name, (file, is_package) in modules.items()
    }


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


FRONT_ENDS = ("nodes", "widgets", "cli", "__main__")


def _front_end_or_root(target: str) -> bool:
    return target == "" or target.split(".")[0] in FRONT_ENDS


def test_relative_imports_of_the_root_and_the_front_ends_are_seen():
    modules = {"", "core", "core.jobs", "core.jobs.x", "core.version", "nodes", "nodes.registration", "cli"}
    cases = {
        "from ... import __version__": {""},
        "from ...nodes.registration import comfy_exports": {"nodes.registration"},
        "from ... import cli": {"cli"},
        "from ..version import __version__": {"core.version"},
        "def f():\n    from ... import nodes": {"nodes"},  # lazy imports count too
    }
    for source, expected in cases.items():
        assert relative_targets("core.jobs.x", False, ast.parse(source), modules) == expected, source


def test_core_imports_neither_the_root_nor_a_front_end():
    """core/ is the floor the front ends stand on: it never imports the package root (which
    imports nodes/), nodes/, widgets/ or cli/, lazily or not."""
    graph = import_graph()
    offenders = sorted(
        f"{name} → {target or '(package root)'}"
        for name, targets in graph.items()
        if name == "core" or name.startswith("core.")
        for target in targets
        if _front_end_or_root(target)
    )
    assert not offenders
