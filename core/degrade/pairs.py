"""Aligned HR/LR crops for fine-tuning data (integer scales only).

The output of ``degrade`` covers the input's top-left (out·scale) pixels exactly (floor
sizes), so LR pixel (i, j) corresponds to HR pixels [i·s, (i+1)·s) × [j·s, (j+1)·s). Crops
are taken on a non-overlapping grid from the top-left; the HR crop is the LR crop × scale.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from ..errors import InvalidImageError, InvalidParameterError

__all__ = ["pair_scale", "check_hr_crop", "aligned_crop_boxes", "paired_crops"]


def pair_scale(scale: object) -> int:
    """Pairs need an integer scale (1–4) so that one LR pixel is exactly s×s HR pixels."""
    number = float(scale) if isinstance(scale, Real) and not isinstance(scale, bool) else math.nan
    if not number.is_integer() or not 1 <= number <= 4:
        raise InvalidParameterError(
            f"aligned HR/LR pairs need an integer scale 1, 2, 3 or 4; got {scale!r}. Use an integer --scale with --pairs"
        )
    return int(number)


def check_hr_crop(hr_crop: object, scale: int) -> int:
    """An HR crop size must be a positive multiple of the (integer) scale."""
    scale = pair_scale(scale)
    if isinstance(hr_crop, bool) or not isinstance(hr_crop, Integral) or hr_crop < scale or hr_crop % scale:
        raise InvalidParameterError(
            f"the HR crop size must be a positive multiple of the scale {scale}; got {hr_crop!r}"
        )
    return int(hr_crop)


def aligned_crop_boxes(
    lr_height: int, lr_width: int, scale: int, hr_crop: int | None = None
) -> list[tuple[int, int, int, int]]:
    """LR crop boxes (top, left, height, width); multiply by ``scale`` for the HR box.

    ``hr_crop`` None: one box, the whole LR image. Otherwise square HR crops of that size (a
    multiple of ``scale``) on a grid; the remainder at the right and bottom is left out.
    """
    scale = pair_scale(scale)
    if hr_crop is None:
        return [(0, 0, lr_height, lr_width)]
    lr_crop = check_hr_crop(hr_crop, scale) // scale
    rows, cols = lr_height // lr_crop, lr_width // lr_crop
    if rows == 0 or cols == 0:
        raise InvalidImageError(
            f"the image is too small for {hr_crop}-pixel crops: its {lr_width}×{lr_height} output holds no "
            f"{lr_crop}×{lr_crop} crop; use a smaller --crop"
        )
    return [(r * lr_crop, c * lr_crop, lr_crop, lr_crop) for r in range(rows) for c in range(cols)]


def paired_crops(
    hr: np.ndarray, lr: np.ndarray, scale: int, hr_crop: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(HR crop, LR crop) pairs with HR crop size = LR crop size × scale exactly."""
    scale = pair_scale(scale)
    lh, lw = lr.shape[:2]
    if hr.shape[0] < lh * scale or hr.shape[1] < lw * scale:
        raise InvalidImageError(
            f"the HR image {hr.shape[1]}×{hr.shape[0]} is smaller than the LR {lw}×{lh} × {scale}; they are not a pair"
        )
    pairs = []
    for top, left, h, w in aligned_crop_boxes(lh, lw, scale, hr_crop):
        hr_box = hr[top * scale : (top + h) * scale, left * scale : (left + w) * scale]
        pairs.append((hr_box, lr[top : top + h, left : left + w]))
    return pairs
