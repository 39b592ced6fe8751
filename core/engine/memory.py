"""Memory: what one tile's forward costs, what the machine can spare, and what a call used.

The estimate is bytes per input pixel of a window, times the window's pixels, plus a fixed
part (the converted weights and the policy's fixed activations, e.g. RRDBNet's tail stripes).
Per-pixel costs:

- the network's live activations: the architecture policy's
  ``activation_elements_per_pixel`` where it gives one (RRDBNet: its body maps), else the
  largest (inputs + output) of any layer, measured on a zero-weight copy
  (``modelinfo.probe_activations``), times ``GENERIC_SAFETY`` for tensors kept alive across
  layers (skip connections);
- plus the window's input and output copies (float32 and the compute format).

The constants were fitted to peak RSS measured in fresh processes; ``benchmarks/
calibrate_memory.py`` repeats the measurement and prints the fit.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch

from ..options import check_bytes
from .modelinfo import ModelFacts, probe_activations

__all__ = [
    "tile_bytes_per_pixel",
    "fixed_bytes",
    "default_budget",
    "available_memory",
    "PeakMemory",
    "GENERIC_SAFETY",
]

log = logging.getLogger(__name__)

GENERIC_SAFETY = 2.0
"""Multiplier on the largest single layer for networks we only know by probing."""
CPU_BUDGET_FRACTION = 0.5
GPU_BUDGET_FRACTION = 0.8
_FALLBACK_PER_PIXEL_ELEMENTS = 4096.0  # unknown network that cannot be probed: a 64-ch ×4 net's tail, doubled


def _element_size(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def tile_bytes_per_pixel(
    facts: ModelFacts, dtype: torch.dtype, *, batch_items: int = 1, tta: bool = False
) -> float:
    """Bytes per input pixel of a window for one forward (all batch items)."""
    elem = _element_size(dtype)
    per_pixel = facts.policy.activation_elements_per_pixel
    if per_pixel is None:
        probe = probe_activations(facts)
        per_pixel = GENERIC_SAFETY * (
            probe.peak_elements_per_pixel if probe is not None else _FALLBACK_PER_PIXEL_ELEMENTS
        )
    network = per_pixel * elem
    s2 = facts.scale * facts.scale
    # window in float32 + compute format; output in compute format + float32 (+ the TTA sum)
    copies = facts.input_channels * (4 + elem) + facts.output_channels * s2 * (elem + 4 + (4 if tta else 0))
    return batch_items * (network + copies)


def fixed_bytes(facts: ModelFacts, dtype: torch.dtype, *, same_as_model: bool = False) -> int:
    """Bytes that do not grow with the window: the converted weights and the policy's fixed
    activations (RRDBNet: its tail stripes)."""
    params = sum(p.numel() for p in facts.module.parameters())
    weights = 0 if same_as_model else params * _element_size(dtype)
    return weights + facts.policy.fixed_activation_bytes


def available_memory(device: torch.device) -> int:
    """Bytes free for this process on ``device`` (MemAvailable on CPU, free VRAM on CUDA)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + max(0, cached))
    if device.type == "mps":
        try:
            return int(torch.mps.recommended_max_memory() - torch.mps.current_allocated_memory())
        except (AttributeError, RuntimeError):
            pass
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil  # optional: macOS and Windows

        return int(psutil.virtual_memory().available)
    except ImportError:
        pages, page_size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return int(pages * page_size)


def default_budget(device: torch.device) -> int:
    fraction = GPU_BUDGET_FRACTION if device.type == "cuda" else CPU_BUDGET_FRACTION
    return int(available_memory(device) * fraction)


def check_budget(memory_budget: Any) -> int | None:
    """``memory_budget`` in bytes, checked as its field defines (``core.options.check_bytes``)."""
    return check_bytes(memory_budget, "memory_budget")


class PeakMemory:
    """Peak memory over a block: CUDA's max_memory_allocated, or Linux VmHWM after a reset.

    The CPU figure is the process's resident high-water mark since the reset (it includes
    everything else the process holds); ``None`` where it cannot be reset or read.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.ok = False

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.ok = True
            return self
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
                refs.write("5")
            self.ok = True
        except OSError:
            self.ok = False
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def peak(self) -> int | None:
        if not self.ok:
            return None
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        try:
            with open("/proc/self/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None
