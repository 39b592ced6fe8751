"""``backend="auto"``'s safety net: a runner that falls back to torch, once and loudly."""

from __future__ import annotations

import logging

import torch

from ...errors import BackendError
from ..modelinfo import ModelFacts
from .contract import WindowRunner
from .torch_backend import TorchBackend

__all__ = ["FallbackRunner"]

log = logging.getLogger(__name__)


class FallbackRunner:
    """Runs ``primary``; when it raises a ``BackendError`` warns once and runs torch from then on.

    Windows the primary backend already produced are kept (they met the quality floor that
    made ``auto`` choose it); ``note`` says what happened, for the report.
    """

    def __init__(
        self,
        primary: WindowRunner | None,
        facts: ModelFacts,
        device: torch.device,
        *,
        tta: bool,
        error: BackendError | None = None,
    ) -> None:
        self.facts = facts
        self.device = device
        self._primary = primary
        self._torch: WindowRunner | None = None
        self._tta = tta
        self.note: str | None = None
        self.precision = primary.precision if primary is not None else "fp32"
        self.backend = primary.backend if primary is not None else "torch"
        self._fallbacks_before = 0
        if error is not None:
            self.fall_back(error)

    @property
    def fp32_fallbacks(self) -> int:
        current = self._torch if self._torch is not None else self._primary
        return self._fallbacks_before + (current.fp32_fallbacks if current is not None else 0)

    def fall_back(self, error: BackendError) -> None:
        torch_backend = TorchBackend()
        precision = torch_backend.resolve_precision(self.facts, "auto", self.device)
        self.note = f"{error.backend} failed ({error}); fell back to torch {precision}"
        log.warning("backend %s failed; falling back to torch (%s): %s", error.backend, precision, error)
        if self._primary is not None:
            self._fallbacks_before = self._primary.fp32_fallbacks
        self._primary = None
        self._torch = torch_backend.open(self.facts, precision, self.device, tta=self._tta, threads=None)
        self.backend, self.precision = "torch", precision

    def __call__(self, window: torch.Tensor) -> torch.Tensor:
        if self._primary is not None:
            try:
                return self._primary(window)
            except BackendError as exc:
                self.fall_back(exc)
        assert self._torch is not None
        return self._torch(window)
