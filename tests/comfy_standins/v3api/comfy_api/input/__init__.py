"""Stand-in for ``comfy_api.input`` (re-exported from ``comfy_api.latest._input``): ``VideoInput``.

Mirrors ComfyUI 0.3.64's abstract VIDEO value: ``get_components()`` (every frame decoded into
one IMAGE tensor, plus audio and frame rate) and ``save_to(path, format, codec, metadata)``
are abstract; ``get_stream_source()`` defaults to ``save_to`` into a ``BytesIO`` (rewound) and
is overridden by implementations that have a file; ``get_dimensions()`` defaults to the
components' (width, height).
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from typing import Any


class VideoInput(ABC):
    @abstractmethod
    def get_components(self) -> Any: ...

    @abstractmethod
    def save_to(self, path: Any, format: Any = "auto", codec: Any = "auto", metadata: dict | None = None) -> None: ...

    def get_stream_source(self) -> str | io.BytesIO:
        buffer = io.BytesIO()
        self.save_to(buffer)
        buffer.seek(0)
        return buffer

    def get_dimensions(self) -> tuple[int, int]:
        images = self.get_components().images
        return images.shape[2], images.shape[1]


__all__ = ["VideoInput"]
