"""No function or method in the package is longer than 80 lines (CONTRIBUTING: keep functions short).

Walks ``core/``, ``nodes/``, ``widgets/`` and ``cli/`` with :mod:`ast` (not tests, benchmarks or
notebooks) and measures each ``def`` from its first line to its last, nested functions included in
their parent and measured on their own as well. A long function is split into named steps; only a
declarative table (literal data, no control flow) may stay long, and only if it is listed in
:data:`ALLOWED` with the reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("core", "nodes", "widgets", "cli")
MAX_LINES = 80

ALLOWED: dict[str, str] = {
    # One node's definition: a single NodeSpec literal (inputs, outputs, help texts), no logic;
    # splitting it would scatter one table that V1 and V3 both read.
    "nodes/definitions.py::_upscale_spec": "declarative table",
}
"""``"path::Qualified.name"`` → why it may be longer than :data:`MAX_LINES`."""


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + child.name
            yield name, (child.end_lineno or child.lineno) - child.lineno + 1
            yield from _functions(child, name + ".")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, prefix + child.name + ".")
        else:
            yield from _functions(child, prefix)


def _lengths() -> dict[str, int]:
    lengths = {}
    for folder in FOLDERS:
        for file in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
            for name, lines in _functions(tree):
                lengths[f"{file.relative_to(ROOT).as_posix()}::{name}"] = lines
    return lengths


def test_functions_are_at_most_80_lines() -> None:
    too_long = {
        name: lines for name, lines in _lengths().items() if lines > MAX_LINES and name not in ALLOWED
    }
    report = "\n".join(
        f"  {lines:4d}  {name}" for name, lines in sorted(too_long.items(), key=lambda x: -x[1])
    )
    assert not too_long, f"functions over {MAX_LINES} lines (split them into named steps):\n{report}"


def test_allow_list_names_only_long_functions() -> None:
    """A stale entry would let a later long function of the same name through unnoticed."""
    lengths = _lengths()
    stale = [name for name in ALLOWED if lengths.get(name, 0) <= MAX_LINES]
    assert not stale, f"ALLOWED entries that no longer exist or are short enough now: {stale}"


def test_the_measure_sees_a_long_function() -> None:
    source = "class A:\n    def f(self):\n" + "        x = 1\n" * 85
    [(name, lines)] = list(_functions(ast.parse(source)))
    assert name == "A.f"
    assert lines == 86
