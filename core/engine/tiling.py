"""Pure tile planning: where each window goes, which output pixels it owns, how seams blend.

Terms (all in input pixels of the padded image):

- ``tile``: the largest *core* a window may own (RealESRGANer's meaning of ``tile``).
- ``pad``: context each window carries beyond what it owns, so the network sees the
  neighbourhood of every pixel it is trusted with.
- window: ``core + 2·pad`` at most; what the network is fed.

Along each axis the planner takes the fewest windows that cover the image with at least
``2·pad`` of overlap between neighbours, then shrinks them to the smallest equal size that
still does (no slivers: the last window is never a thin leftover, and equal shapes let the
backend reuse its kernels). Starts are multiples of ``multiple`` so pixel-unshuffle models see
the same phase as in whole-image inference. Neighbours split ownership at the middle of their
overlap; with ``blend`` > 0 the split is a raised-cosine cross-fade ``blend`` pixels either
side (a partition of unity, so no weight buffer is needed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["AxisSpan", "TilePlan", "plan_axis", "plan_tiles", "axis_weights"]


@dataclass(frozen=True)
class AxisSpan:
    """One window along one axis: fed ``[start, stop)``, owns ``[own_start, own_stop)``."""

    start: int
    stop: int
    own_start: int
    own_stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class TilePlan:
    rows: tuple[AxisSpan, ...]
    cols: tuple[AxisSpan, ...]
    tile: int
    pad: int
    blend: int

    @property
    def count(self) -> int:
        return len(self.rows) * len(self.cols)

    @property
    def window(self) -> tuple[int, int]:
        return self.rows[0].size, self.cols[0].size

    def computed_pixels(self) -> int:
        """Input pixels the network processes (overlaps counted each time)."""
        return sum(r.size for r in self.rows) * sum(c.size for c in self.cols)

    def __iter__(self):
        for r in self.rows:
            for c in self.cols:
                yield r, c


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def plan_axis(length: int, tile: int, pad: int, multiple: int = 1) -> tuple[AxisSpan, ...]:
    """Windows along one axis of ``length`` pixels (see the module docstring)."""
    if length <= 0 or tile <= 0 or pad < 0 or multiple <= 0:
        raise ValueError(
            f"plan_axis needs positive sizes, got length={length} tile={tile} pad={pad} multiple={multiple}"
        )
    if length % multiple:
        raise ValueError(
            f"plan_axis needs a length that is a multiple of {multiple} (pad the image first), got {length}"
        )
    tile = max(multiple, tile // multiple * multiple)
    if tile + 2 * pad >= length or tile >= length:
        return (AxisSpan(0, length, 0, length),)
    count = math.ceil((length - 2 * pad) / tile)
    while True:
        window = min(length, _round_up(math.ceil((length + 2 * pad * (count - 1)) / count), multiple))
        if count == 1 or window >= length:
            return (AxisSpan(0, length, 0, length),)
        step = (length - window) / (count - 1)
        starts = [min(length - window, round(i * step / multiple) * multiple) for i in range(count)]
        starts[-1] = length - window
        overlaps = [starts[i] + window - starts[i + 1] for i in range(count - 1)]
        if min(overlaps) >= 2 * pad:
            break
        count += 1  # rounding to the multiple cost some overlap: one more window restores it
    splits = [0] + [(starts[i] + window + starts[i + 1]) // 2 for i in range(count - 1)] + [length]
    return tuple(AxisSpan(s, s + window, splits[i], splits[i + 1]) for i, s in enumerate(starts))


def plan_tiles(
    height: int, width: int, tile: int | None, pad: int, *, multiple: int = 1, blend: int = 0
) -> TilePlan:
    """A grid of windows over a ``height``×``width`` image; ``tile`` None or 0 = one window."""
    if not tile:
        tile = max(height, width)
    rows, cols = plan_axis(height, tile, pad, multiple), plan_axis(width, tile, pad, multiple)
    # A cross-fade stays inside both windows (≤ pad) and never reaches the next split.
    narrowest = min(s.own_stop - s.own_start for s in rows + cols)
    return TilePlan(rows=rows, cols=cols, tile=tile, pad=pad, blend=max(0, min(blend, pad, narrowest // 2)))


def axis_weights(
    spans: tuple[AxisSpan, ...], index: int, blend: int, scale: int
) -> tuple[int, int, torch.Tensor | None]:
    """What window ``index`` contributes along one axis, in output pixels.

    Returns ``(out_start, out_stop, weights)``: the output range the window writes and, when
    it is cross-faded with a neighbour, the per-pixel weights over that range (``None`` means
    a plain copy of the owned range). The weights of all windows sum to one everywhere.
    """
    span = spans[index]
    lo, hi = span.own_start * scale, span.own_stop * scale
    if blend <= 0 or len(spans) == 1:
        return lo, hi, None
    half = blend * scale
    start = lo - half if index > 0 else lo
    stop = hi + half if index < len(spans) - 1 else hi
    centres = torch.arange(start, stop, dtype=torch.float64) + 0.5
    weights = torch.ones_like(centres)
    if index > 0:  # fade in across the split with the previous window
        t = ((centres - (lo - half)) / (2 * half)).clamp(0, 1)
        weights *= torch.sin(t * (math.pi / 2)) ** 2
    if index < len(spans) - 1:  # fade out across the split with the next window
        t = ((centres - (hi - half)) / (2 * half)).clamp(0, 1)
        weights *= torch.cos(t * (math.pi / 2)) ** 2
    return start, stop, weights.float()
