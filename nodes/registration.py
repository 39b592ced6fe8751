"""Decide which ComfyUI registration style to export: V3, V1, or none outside ComfyUI."""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["comfy_exports", "inside_comfyui", "has_v3_api", "WEB_DIRECTORY"]

# Served by ComfyUI at /extensions/<pack folder>/: holds docs/<NodeId>.md, the node help.
# ComfyUI reads it before (and independently of) choosing V1 or V3 registration.
WEB_DIRECTORY = "./web"


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def inside_comfyui() -> bool:
    """ComfyUI's own top-level modules are importable (we are loaded as a custom node)."""
    return _module_exists("folder_paths") and _module_exists("comfy")


def has_v3_api() -> bool:
    return inside_comfyui() and _module_exists("comfy_api") and _module_exists("comfy_api.latest")


def comfy_exports() -> dict[str, Any]:
    """The names the pack's root ``__init__`` exports; empty outside ComfyUI.

    Exactly one style: ComfyUI registers ``NODE_CLASS_MAPPINGS`` when present and then ignores
    ``comfy_entrypoint``, so the V3 export must not carry V1 mappings.
    """
    if not inside_comfyui():
        return {}
    if has_v3_api():
        from .v3 import comfy_entrypoint

        return {"comfy_entrypoint": comfy_entrypoint, "WEB_DIRECTORY": WEB_DIRECTORY}
    from .v1 import node_class_mappings, node_display_name_mappings

    return {
        "NODE_CLASS_MAPPINGS": node_class_mappings(),
        "NODE_DISPLAY_NAME_MAPPINGS": node_display_name_mappings(),
        "WEB_DIRECTORY": WEB_DIRECTORY,
    }
