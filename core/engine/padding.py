"""Reflection padding that works for any pad size, including pads larger than the image."""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["reflect_indices", "reflect_pad"]


def reflect_indices(size: int, before: int, after: int, device: torch.device | None = None) -> torch.Tensor:
    """Source index of every padded position, mirroring back and forth (no edge repeat).

    ``torch``'s reflect mode needs ``pad < size``; repeating the reflection lifts that limit,
    and a one-pixel axis simply repeats its pixel.
    """
    positions = torch.arange(-before, size + after, device=device)
    if size == 1:
        return torch.zeros_like(positions)
    period = 2 * (size - 1)
    positions = positions.remainder(period)
    return torch.where(positions >= size, period - positions, positions)


def reflect_pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Pad the last two axes of ``x`` by reflection (``x`` itself when nothing is added)."""
    if not (top or bottom or left or right):
        return x
    height, width = x.shape[-2:]
    if max(top, bottom) < height and max(left, right) < width and x.dim() in (3, 4):
        return F.pad(x, (left, right, top, bottom), mode="reflect")
    rows = reflect_indices(height, top, bottom, x.device)
    cols = reflect_indices(width, left, right, x.device)
    return x.index_select(-2, rows).index_select(-1, cols)
