"""The contract between the engine and a compute backend: a backend only runs windows.

Tiling, padding, alpha, output size, progress and cancel stay in the engine. A backend turns a
model into a :class:`WindowRunner` (float32 [N, C, h, w] in, float32 [N, C', h·s, w·s] on the
CPU out) and tells the engine what a window costs in memory, so automatic tiles fit.
"""

from __future__ import annotations

from typing import Protocol

import torch

from ..modelinfo import ModelFacts

__all__ = ["WindowRunner", "Backend"]


class WindowRunner(Protocol):
    """One call's ready-to-run network (never stored on the model)."""

    @property
    def facts(self) -> ModelFacts: ...
    @property
    def backend(self) -> str: ...
    @property
    def precision(self) -> str: ...
    @property
    def device(self) -> torch.device: ...
    @property
    def fp32_fallbacks(self) -> int:
        """Windows recomputed in fp32 because the reduced precision gave non-finite values."""
        ...

    def __call__(self, window: torch.Tensor) -> torch.Tensor: ...


class Backend(Protocol):
    """One registry entry (``backend_registry.BACKEND_TYPES``)."""

    @property
    def name(self) -> str: ...
    @property
    def precisions(self) -> tuple[str, ...]:
        """Precisions it runs (besides ``auto``)."""
        ...

    def available(self) -> bool:
        """Whether its libraries import (cheap; no model work)."""
        ...

    def require(self) -> None:
        """Raise ``BackendNotInstalledError`` (naming the extra to install) when not available."""
        ...

    def resolve_precision(self, facts: ModelFacts, precision: str, device: torch.device) -> str:
        """The precision it will actually run for ``precision`` (``auto`` included)."""
        ...

    def open(
        self, facts: ModelFacts, precision: str, device: torch.device, *, tta: bool, threads: int | None
    ) -> WindowRunner:
        """A runner for one call; may convert or compile (cached on disk where the backend can)."""
        ...

    def bytes_per_pixel(self, facts: ModelFacts, precision: str, *, batch_items: int, tta: bool) -> float:
        """Bytes per input pixel of a window for one forward."""
        ...

    def fixed_bytes(self, facts: ModelFacts, precision: str) -> int:
        """Bytes that do not grow with the window (weights, runtime)."""
        ...

    def max_window(self, facts: ModelFacts) -> int | None:
        """Largest window side worth using (beyond it windows get no faster), or None."""
        ...
