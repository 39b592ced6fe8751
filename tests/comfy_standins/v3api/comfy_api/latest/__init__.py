"""Stand-in for ``comfy_api.latest`` (ComfyUI ≥ 0.3.47): ``io`` and ``ComfyExtension``.

Mirrors ComfyUI 0.3.64: ``ComfyExtension`` is an ABC with ``async on_load()`` and the
abstract ``async get_node_list() -> list[type[io.ComfyNode]]``; ``io`` is ``_io``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from . import _io as io

comfy_io = io


class ComfyExtension(ABC):
    async def on_load(self) -> None:
        """Called when the extension is loaded."""

    @abstractmethod
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        """The node classes this extension provides."""


__all__ = ["ComfyExtension", "io", "comfy_io"]
