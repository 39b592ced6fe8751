"""The PyTorch backend: our converted, channels-last copy of the module (``network.py``)."""

from __future__ import annotations

import torch

from ..memory import fixed_bytes, tile_bytes_per_pixel
from ..modelinfo import ModelFacts
from ..network import PreparedNetwork, prepare_network
from ..precision import DTYPES, resolve_precision

__all__ = ["TorchBackend"]


class TorchBackend:
    name = "torch"
    precisions = ("fp32", "bf16", "fp16")

    def available(self) -> bool:
        return True

    def require(self) -> None:
        return None

    def resolve_precision(self, facts: ModelFacts, precision: str, device: torch.device) -> str:
        return resolve_precision(facts, precision, device)

    def open(
        self, facts: ModelFacts, precision: str, device: torch.device, *, tta: bool, threads: int | None
    ) -> PreparedNetwork:
        return prepare_network(facts, precision, device, tta=tta)

    def bytes_per_pixel(self, facts: ModelFacts, precision: str, *, batch_items: int, tta: bool) -> float:
        return tile_bytes_per_pixel(facts, DTYPES[precision], batch_items=batch_items, tta=tta)

    def fixed_bytes(self, facts: ModelFacts, precision: str) -> int:
        return fixed_bytes(facts, DTYPES[precision])

    def max_window(self, facts: ModelFacts) -> int | None:
        return None
