"""Stand-in for ComfyUI's ``nodes.py``: core node ids and the custom-node loader.

Mirrors ComfyUI 0.3.64:
- ``NODE_CLASS_MAPPINGS``, empty before custom nodes load (core's own nodes are not declared
  here: the real-host tests run them).
- ``load_custom_node(module_path, ignore, module_parent)``: imports ``<dir>/__init__.py`` with
  ``spec_from_file_location`` under the *path* as module name (dots replaced by ``_x_``),
  registers it in ``sys.modules``, executes it; records ``WEB_DIRECTORY`` (relative to the
  pack folder) when that folder exists; then V1 wins: if ``NODE_CLASS_MAPPINGS`` exists its
  classes are registered (ids in ``ignore`` — core's — are silently dropped) and V3 is never
  looked at; else ``comfy_entrypoint`` is awaited if it is a coroutine function, must return a
  ``ComfyExtension``, and each node of ``await get_node_list()`` is registered by its schema's
  ``node_id``. Any exception is logged and the pack counts as "IMPORT FAILED" (returns False).
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import sys
import traceback
from typing import Any

MAX_RESOLUTION = 16384

NODE_CLASS_MAPPINGS: dict[str, type] = {}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
EXTENSION_WEB_DIRS: dict[str, str] = {}
LOADED_MODULE_DIRS: dict[str, str] = {}


# Core's own node ids (a pack id equal to one of them is dropped by the loader). The core nodes
# themselves, their inputs and the example workflows against them are tested in the real
# ComfyUI (tests/test_host_comfyui.py), not declared here.
CORE_NODE_IDS = frozenset({"LoadImage", "SaveImage", "PreviewImage", "UpscaleModelLoader", "ImageUpscaleWithModel"})


def get_module_name(module_path: str) -> str:
    base = os.path.basename(module_path)
    if os.path.isfile(module_path):
        base = os.path.splitext(base)[0]
    return base


async def load_custom_node(module_path: str, ignore: set[str] | frozenset[str] = frozenset(),
                           module_parent: str = "custom_nodes") -> bool:
    from comfy_api_shim import comfy_extension_class  # V3 base class, when this ComfyUI has it

    module_name = get_module_name(module_path)
    if os.path.isfile(module_path):
        sys_module_name = os.path.splitext(module_path)[0]
        init_file, module_dir = module_path, os.path.dirname(module_path)
    else:
        sys_module_name = module_path.replace(".", "_x_")
        init_file, module_dir = os.path.join(module_path, "__init__.py"), module_path
    try:
        spec = importlib.util.spec_from_file_location(sys_module_name, init_file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[sys_module_name] = module
        spec.loader.exec_module(module)
        LOADED_MODULE_DIRS[module_name] = os.path.abspath(module_dir)

        web = getattr(module, "WEB_DIRECTORY", None)
        if web is not None:
            web_dir = os.path.abspath(os.path.join(module_dir, web))
            if os.path.isdir(web_dir):
                EXTENSION_WEB_DIRS[module_name] = web_dir

        if getattr(module, "NODE_CLASS_MAPPINGS", None) is not None:
            for name, node_cls in module.NODE_CLASS_MAPPINGS.items():
                if name not in ignore:
                    NODE_CLASS_MAPPINGS[name] = node_cls
                    node_cls.RELATIVE_PYTHON_MODULE = f"{module_parent}.{module_name}"
            if getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", None) is not None:
                NODE_DISPLAY_NAME_MAPPINGS.update(module.NODE_DISPLAY_NAME_MAPPINGS)
            return True
        if hasattr(module, "comfy_entrypoint"):
            entrypoint = module.comfy_entrypoint
            if not callable(entrypoint):
                logging.warning("comfy_entrypoint in %s is not callable, skipping.", module_path)
                return False
            extension = await entrypoint() if inspect.iscoroutinefunction(entrypoint) else entrypoint()
            base = comfy_extension_class()
            if base is None or not isinstance(extension, base):
                logging.warning("comfy_entrypoint in %s did not return a ComfyExtension, skipping.", module_path)
                return False
            node_list = await extension.get_node_list()
            if not isinstance(node_list, list):
                logging.warning("comfy_entrypoint in %s did not return a list of nodes, skipping.", module_path)
                return False
            for node_cls in node_list:
                schema = node_cls.GET_SCHEMA()
                if schema.node_id not in ignore:
                    NODE_CLASS_MAPPINGS[schema.node_id] = node_cls
                    node_cls.RELATIVE_PYTHON_MODULE = f"{module_parent}.{module_name}"
                if schema.display_name is not None:
                    NODE_DISPLAY_NAME_MAPPINGS[schema.node_id] = schema.display_name
            return True
        logging.warning("Skip %s module for custom nodes due to the lack of NODE_CLASS_MAPPINGS or NODES_LIST (need one).",
                        module_path)
        return False
    except Exception as exc:
        logging.warning(traceback.format_exc())
        logging.warning("Cannot import %s module for custom nodes: %s", module_path, exc)
        return False
