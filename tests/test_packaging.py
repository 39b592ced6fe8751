"""The pack's shape: relative imports, a clean core, an explicit and complete package list."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
TESTED_COMFYUI = "0.3.64"  # tests/test_host_comfyui.py runs this release (../shared/comfyui)
SKIP = {
    "tests",
    "benchmarks",
    "notebooks",
    ".git",
    ".venv",
    "build",
    "dist",
    "example_workflows",
    "web",
    "docs",
}


def _package_dirs():
    for init in ROOT.rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT)
        if rel.parts and (rel.parts[0] in SKIP or rel.parts[0].startswith(".")):
            continue
        yield rel


def _source_files():
    for rel in _package_dirs():
        yield from sorted((ROOT / rel).glob("*.py"))


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(("realesrgan_kit", *rel.parts)) for rel in _package_dirs()}
    assert found == listed, f"missing: {found - listed}; stale: {listed - found}"


def test_only_relative_imports_of_the_package():
    offenders = []
    for path in _source_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "realesrgan_kit"
            ]
    assert not offenders


def test_core_imports_neither_comfyui_nor_ipywidgets():
    forbidden = {
        "comfy",
        "comfy_api",
        "comfy_extras",
        "folder_paths",
        "nodes",
        "ipywidgets",
        "anywidget",
        "IPython",
    }
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in forbidden]
    assert not offenders


def test_no_print_or_assert_on_user_input_in_core():
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} print()")
    assert not offenders


def test_requirements_never_pin_torch():
    requirements = ROOT / "requirements.txt"
    if requirements.exists():
        for line in requirements.read_text().splitlines():
            assert not line.strip().lower().startswith("torch=="), line
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    torch_reqs = [d for d in config["project"]["dependencies"] if d.startswith("torch")]
    assert torch_reqs and "==" not in torch_reqs[0]


def test_registry_metadata_passes_comfy_cli_validation(tmp_path):
    """What the Comfy Registry and ComfyUI-Manager read: ``comfy node validate`` (comfy-cli) passes."""
    comfy = Path(sys.executable).with_name("comfy")
    assert comfy.is_file(), "comfy-cli is part of the test extra"
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    run = subprocess.run(
        [str(comfy), "--skip-prompt", "--no-enable-telemetry", "node", "validate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0 and "passed" in run.stdout + run.stderr, run.stdout + run.stderr
    comfy_table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["comfy"]
    icon = comfy_table["Icon"]
    assert icon.endswith("/web/icon.png") and (ROOT / "web" / "icon.png").is_file()
    from PIL import Image

    with Image.open(ROOT / "web" / "icon.png") as image:
        assert image.width == image.height <= 400  # the registry wants a square icon
    # the ComfyUI the host tests run is the one the pack states
    assert comfy_table["requires-comfyui"] == f">={TESTED_COMFYUI}"
    assert sorted((ROOT / "example_workflows").glob("*.json"))


def _core_modules():
    import importlib
    import pkgutil
    import warnings

    import realesrgan_kit.core as core

    yield core
    for info in pkgutil.walk_packages(core.__path__, "realesrgan_kit.core."):
        with warnings.catch_warnings():  # core.imageio, a deprecated old name, warns on import
            warnings.simplefilter("ignore", DeprecationWarning)
            yield importlib.import_module(info.name)


def test_a_public_name_means_one_thing_across_core():
    """A name in two core modules' ``__all__`` is one object re-exported (``core.jobs.run_job``
    is not the engine's, ``imagefile.arrays.write_image`` writes a file): no name, two meanings."""
    exported: dict[str, dict[str, object]] = {}
    for module in _core_modules():
        for name in getattr(module, "__all__", ()):
            exported.setdefault(name, {})[module.__name__] = getattr(module, name)
    assert len(exported) > 100, "the walk sees core's modules"
    clashes = {
        name: sorted(owners)
        for name, owners in exported.items()
        if len({id(value) for value in owners.values()}) > 1
    }
    assert not clashes


def test_the_version_lives_in_core_and_the_root_re_exports_it():
    import realesrgan_kit
    from realesrgan_kit.core.version import __version__

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert realesrgan_kit.__version__ == __version__ == config["project"]["version"]
