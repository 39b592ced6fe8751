"""Decide which ComfyUI registration style to export: V3, V1, or none outside ComfyUI."""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["comfy_exports", "inside_comfyui", "has_v3_api"]


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
    """The names the pack's root ``__init__`` exports; empty outside ComfyUI."""
    return {}
