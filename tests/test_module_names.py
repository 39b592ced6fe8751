"""A module's file name says its one job, so no two modules of the product share one.

Two ``images.py`` with two jobs (the engine's tensors, ComfyUI's IMAGE, the widgets' previews)
made every import and every traceback ambiguous; this keeps them apart. Only ``__init__.py`` is
exempt, and the per-architecture folders (below).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRONTS_AND_CORE = ("core", "nodes", "widgets", "cli")

# Folders whose modules are named by their role inside the folder, with the reason.
ROLE_NAMED_FOLDERS = {
    "core/archs": (
        "one folder per architecture (spandrel's layout): each holds its network.py, spec.py, "
        "forward and quantisation under the same role names, and the folder names the network; "
        "tests/test_archs_registry.py requires network.py and spec.py in each"
    ),
}


def _product_modules() -> list[Path]:
    return sorted(
        path.relative_to(ROOT)
        for top in FRONTS_AND_CORE
        for path in (ROOT / top).rglob("*.py")
        if path.name != "__init__.py"
    )


def _role_folder(path: Path) -> str | None:
    """``core/archs`` for a module inside one architecture's folder (``core/archs/<name>/...``)."""
    for folder in ROLE_NAMED_FOLDERS:
        if path.parent != Path(folder) and path.parent.is_relative_to(folder):
            return folder
    return None


def _clashes(modules: list[Path]) -> dict[str, list[str]]:
    """File names held by two modules; a role name shared by the architecture folders counts
    once, so it still clashes with a module of that name anywhere else."""
    by_name: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in modules:
        owner = _role_folder(path) or path.as_posix()
        by_name[path.name][owner].append(path.as_posix())
    return {
        name: [path for paths in owners.values() for path in paths]
        for name, owners in by_name.items()
        if len(owners) > 1
    }


def test_no_two_modules_share_a_file_name():
    modules = _product_modules()
    assert len(modules) > 100, "the walk sees the package's modules"
    assert not _clashes(modules), "rename one of each pair so its name says its job"


def test_the_check_catches_a_clash_and_the_architecture_folders_are_the_only_exemption():
    clash = [Path("core/engine/images.py"), Path("nodes/images.py"), Path("nodes/v1.py")]
    assert _clashes(clash) == {"images.py": ["core/engine/images.py", "nodes/images.py"]}
    per_architecture = [Path("core/archs/rrdbnet/spec.py"), Path("core/archs/srvgg/spec.py")]
    assert _clashes(per_architecture) == {}
    # an architecture folder's role name may not be reused outside those folders
    assert _clashes([*per_architecture, Path("nodes/spec.py")]) == {
        "spec.py": ["core/archs/rrdbnet/spec.py", "core/archs/srvgg/spec.py", "nodes/spec.py"]
    }
    # core/archs itself is no architecture folder
    assert _clashes([Path("core/archs/registry.py"), Path("core/load/registry.py")]) != {}
