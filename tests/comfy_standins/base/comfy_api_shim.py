"""Where the stand-in ``nodes.py`` finds ``ComfyExtension``: real ComfyUI imports it from
``comfy_api.latest`` at the top of nodes.py; an old ComfyUI (no V3 API) has none."""

from __future__ import annotations


def comfy_extension_class() -> type | None:
    try:
        from comfy_api.latest import ComfyExtension
    except ImportError:
        return None
    return ComfyExtension
