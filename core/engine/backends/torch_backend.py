"""The PyTorch backend: our converted, channels-last copy of the module (``window_network.py``)."""

from __future__ import annotations

import functools

import torch

from ..memory import fixed_bytes, tile_bytes_per_pixel
from ..modelinfo import ModelFacts
from ..precision import DTYPES, resolve_precision
from ..window_network import PreparedNetwork, prepare_network

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
        explain = None
        if precision != "fp32" and facts.policy.probe_precision:
            # a network from elsewhere that fails at run time although its probe passed: the
            # probe remembers it and gives the typed error (auto then reruns in fp32)
            from ..precision_probe import failed_at_run_time

            explain = functools.partial(failed_at_run_time, facts, precision, device)
        return prepare_network(facts, precision, device, tta=tta, explain_failure=explain)

    def bytes_per_pixel(self, facts: ModelFacts, precision: str, *, batch_items: int, tta: bool) -> float:
        return tile_bytes_per_pixel(facts, DTYPES[precision], batch_items=batch_items, tta=tta)

    def fixed_bytes(self, facts: ModelFacts, precision: str) -> int:
        return fixed_bytes(facts, DTYPES[precision])

    def max_window(self, facts: ModelFacts) -> int | None:
        return None
