"""How large the tiles are: the model's default pad, a window's memory and the ``auto`` choice.

Shared by the planner (``run.py``), which sizes the tiles of one call, and the public
:func:`choose_tile` / :func:`estimate_tile_memory`, which answer the same question ahead of a
call (the tile tuner, the Ray workers' memory requests).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch

from ..errors import InvalidParameterError
from ..load.modellike import UpscaleModelLike
from ..netspec.policy import GENERIC_MAX_TILE_PAD, UNKNOWN_RECEPTIVE_FIELD_PAD
from ..options import Tile, check_whole_number, parse_tile
from .backends import Backend, Selection, select_backend
from .memory import check_budget, default_budget
from .modelinfo import ModelFacts, model_facts
from .precision import resolve_device
from .runner import padded_size

__all__ = [
    "MIN_TILE",
    "DEFAULT_BORDER",
    "DEFAULT_BLEND",
    "default_tile_pad",
    "resolve_tile_pad",
    "resolve_tile",
    "select_for_device",
    "tile_for_budget",
    "choose_tile",
    "estimate_tile_memory",
]

log = logging.getLogger(__name__)

DEFAULT_BORDER = 0
"""Reflected border added around the whole image before inference (input pixels)."""
DEFAULT_BLEND = 0
"""Cross-fade half-width at tile seams (input pixels); 0 = crop the pad (chosen by measurement)."""
MIN_TILE = 16


def default_tile_pad(facts: ModelFacts) -> int:
    """The architecture policy's pad, else the receptive field where that is affordable (up to
    ``GENERIC_MAX_TILE_PAD``), else ``UNKNOWN_RECEPTIVE_FIELD_PAD``; rounded up to the size multiple."""
    m = facts.multiple_of
    pad = facts.policy.tile_pad
    if pad is None:
        rf = facts.receptive_field
        pad = UNKNOWN_RECEPTIVE_FIELD_PAD if rf is None else min(rf, GENERIC_MAX_TILE_PAD)
    return -(-pad // m) * m


def resolve_tile_pad(facts: ModelFacts, tile_pad: Any) -> int:
    """The caller's tile pad, or the model's default when it gave none."""
    return (
        default_tile_pad(facts) if tile_pad is None else check_whole_number(tile_pad, "tile_pad", minimum=0)
    )


def resolve_tile(tile: Any, facts: ModelFacts) -> Tile:
    """The caller's tile in the one vocabulary, checked against the model's size multiple."""
    value = parse_tile(tile)
    if isinstance(value, int) and value < facts.multiple_of:
        raise InvalidParameterError(
            f"tile {value} is smaller than this model's size multiple {facts.multiple_of} (a pixel-unshuffle model); "
            f"use a tile of at least {facts.multiple_of} pixels, or 'auto'"
        )
    return value


def select_for_device(
    facts: ModelFacts, backend: str, precision: str, device: Any, **measure: Any
) -> tuple[torch.device, Selection]:
    """The device the call runs on and the backend and precision chosen for it."""
    dev = resolve_device(device, facts.device)
    return dev, select_backend(backend, facts, precision, dev, **measure)


def estimate_tile_memory(
    model: UpscaleModelLike,
    tile: int,
    *,
    tile_pad: int | None = None,
    precision: str = "auto",
    device: Any = None,
    batch_items: int = 1,
    tta: bool = False,
    backend: str = "auto",
) -> int:
    """Bytes one forward of a ``tile`` + 2·pad square window needs (weights copy included).

    ``backend="auto"`` estimates for the stored decision of this machine and model (torch when
    none is stored yet); an estimate never measures."""
    facts = model_facts(model)
    check_whole_number(tile, "tile", minimum=1)
    _dev, selection = select_for_device(facts, backend, precision, device, measure=False)
    pad = resolve_tile_pad(facts, tile_pad)
    m = facts.multiple_of
    window = -(-(tile + 2 * pad) // m) * m
    used, engine = selection.precision, selection.backend
    per_pixel = engine.bytes_per_pixel(facts, used, batch_items=batch_items, tta=tta)
    return int(engine.fixed_bytes(facts, used) + per_pixel * window * window)


def tile_for_budget(
    facts: ModelFacts,
    height: int,
    width: int,
    engine: Backend,
    precision: str,
    budget: int,
    pad: int,
    border: int,
    batch_items: int,
    tta: bool,
) -> int:
    """The largest tile core whose window fits ``budget`` bytes (≥ both sides when the whole
    image fits; at least ``MIN_TILE``, with a warning, when nothing useful fits)."""
    m = facts.multiple_of
    per_pixel = engine.bytes_per_pixel(facts, precision, batch_items=batch_items, tta=tta)
    room = budget - engine.fixed_bytes(facts, precision)
    ph, pw = padded_size(height, width, border, m)
    # a backend may cap the window (bigger ones would cost memory and gain no speed)
    cap = engine.max_window(facts)
    if per_pixel * ph * pw <= room and (cap is None or max(ph, pw) <= cap):
        return max(ph, pw)
    side = math.isqrt(max(0, int(room / per_pixel)))
    if cap is not None:
        side = min(side, cap)
    tile = (side - 2 * pad) // m * m
    if tile < max(MIN_TILE, m):
        log.warning(
            "the memory budget (%d MB) fits no useful tile with pad %d; trying %d-px tiles anyway",
            budget >> 20,
            pad,
            max(MIN_TILE, m),
        )
        return max(MIN_TILE, m)
    return tile


def choose_tile(
    model: UpscaleModelLike,
    height: int,
    width: int,
    *,
    precision: str = "auto",
    device: Any = None,
    memory_budget: int | None = None,
    tile_pad: int | None = None,
    batch_items: int = 1,
    tta: bool = False,
    border: int = DEFAULT_BORDER,
    backend: str = "auto",
) -> int:
    """The tile ``tile="auto"`` picks: the largest core whose window fits the memory budget.

    A value ≥ both sides (one window, no seams) when the whole image fits. ``memory_budget``
    (bytes for the tile computation) defaults to half the free RAM (CPU) or 80 % of free VRAM.
    """
    facts = model_facts(model)
    dev, selection = select_for_device(facts, backend, precision, device, measure=False)
    budget = check_budget(memory_budget) or default_budget(dev)
    pad = resolve_tile_pad(facts, tile_pad)
    return tile_for_budget(
        facts, height, width, selection.backend, selection.precision, budget, pad, border, batch_items, tta
    )
